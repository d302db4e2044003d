"""Serial port discovery for the setup wizard and the command line: likely ESP32 adapters
first, hot-plug diffs, and the one board `securecam flash` and `provision` use without --port."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from serial.tools import list_ports as _list_ports

from app.errors import UserError

# USB VID:PID of adapters found on ESP32-CAM boards and their programmers.
KNOWN_ADAPTERS: dict[tuple[int, int], str] = {
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232",
    (0x0403, 0x6014): "FTDI FT232H",
    (0x0403, 0x6015): "FTDI FT230X",
    (0x303A, 0x1001): "Espressif USB-Serial-JTAG",
    (0x303A, 0x0002): "Espressif USB (native)",
}

NO_PORT_HELP = """\
No serial port found. Check:
  • The USB cable carries data (many charging cables do not): try another cable.
  • The adapter's driver is installed: Silicon Labs CP210x ("CP210x USB to UART Bridge
    VCP") or WCH CH340/CH9102 ("CH34x"); Linux and recent macOS include both. On Linux,
    also add yourself to the dialout group: sudo usermod -aG dialout $USER (log in again).
  • ESP32-CAM-MB programmer board: seat the camera on it (antenna away from the USB
    socket) and plug the MB's micro-USB in; the MB's IO0 button enters download mode.
  • FTDI / USB-serial adapter (3.3 V logic): 5V → 5V, GND → GND, adapter TX → U0R,
    adapter RX → U0T (crossed), and to flash connect IO0 to GND, then press RESET.
    Remove the IO0 jumper and reset again to run the firmware.
"""


@dataclass(frozen=True)
class PortInfo:
    """One serial port; `adapter` names a known USB-serial chip, `likely` if it is one."""

    device: str
    description: str
    vid: int | None = None
    pid: int | None = None
    adapter: str | None = None
    likely: bool = False

    @property
    def label(self) -> str:
        """A line for a port picker: device, then the adapter name or the description."""
        detail = self.adapter or self.description
        return f"{self.device} — {detail}" if detail and detail != "n/a" else self.device


def port_info(device: str, description: str, vid: int | None, pid: int | None) -> PortInfo:
    """A `PortInfo`, with the adapter looked up in `KNOWN_ADAPTERS`."""
    adapter = KNOWN_ADAPTERS.get((vid, pid)) if vid is not None and pid is not None else None
    return PortInfo(device, description or "", vid, pid, adapter, adapter is not None)


def sort_ports(ports: Iterable[PortInfo]) -> list[PortInfo]:
    """Likely ESP32 adapters first, then USB ports, then the rest; by device name within."""
    return sorted(ports, key=lambda p: (not p.likely, p.vid is None, p.device))


def list_ports() -> list[PortInfo]:
    """The system's serial ports (pyserial's `comports`), likely ESP32 adapters first."""
    return sort_ports(
        port_info(p.device, p.description, p.vid, p.pid) for p in _list_ports.comports()
    )


class NoBoardPort(UserError):
    """No port to pick without asking: no likely ESP32 adapter (`guidance` is
    `NO_PORT_HELP`), or several (`guidance` is empty: the message names them)."""


def pick_port(ports: Iterable[PortInfo]) -> str:
    """The device of the one likely ESP32 adapter among `ports` (other serial ports, such as
    a PC's built-in /dev/ttyS0, do not count).

    Raises:
        NoBoardPort: none is likely ("no ESP32 serial adapter found; pass --port"), or
            several are ("several adapters found (A, B); pick one with --port").
    """
    likely = [port.device for port in ports if port.likely]
    if not likely:
        raise NoBoardPort("no ESP32 serial adapter found; pass --port", NO_PORT_HELP)
    if len(likely) > 1:
        raise NoBoardPort(f"several adapters found ({', '.join(likely)}); pick one with --port")
    return likely[0]


class PortWatcher:
    """Diffs successive listings for hot-plug: `poll()` returns (added, removed) ports.

    The first `poll` reports every present port as added. `lister` defaults to `list_ports`.
    """

    def __init__(self, lister: Callable[[], list[PortInfo]] | None = None) -> None:
        self._lister = lister or list_ports
        self._known: dict[str, PortInfo] = {}

    @property
    def ports(self) -> list[PortInfo]:
        """The ports seen by the last `poll`, sorted like `list_ports`."""
        return sort_ports(self._known.values())

    def poll(self) -> tuple[list[PortInfo], list[PortInfo]]:
        current = {p.device: p for p in self._lister()}
        added = [p for d, p in current.items() if self._known.get(d) != p]
        removed = [p for d, p in self._known.items() if d not in current]
        self._known = current
        return sort_ports(added), sort_ports(removed)
