"""The blocking Improv serial client, with SecureCam's extension (docs/PROVISIONING.md).

`ImprovClient` talks to a camera's console over anything with pyserial's `read`/`write`
(`open_port` opens a real port); the setup wizard and `securecam provision` use it through
app/serial/provisioner.py. Every byte format is the sans-I/O codec's
(app/serial/improv_codec.py); this module only moves bytes and waits.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from app.serial.improv_codec import (
    BadChecksum,
    CameraConfig,
    Command,
    ConfigUpdate,
    DeviceInfo,
    ErrorCode,
    ExtensionError,
    ImprovErrorState,
    ImprovProtocolError,
    ImprovTimeout,
    Network,
    Packet,
    PacketReader,
    PacketType,
    State,
    encode_config,
    encode_extension,
    encode_rpc,
    encode_wifi_settings,
    parse_config,
    parse_result,
)

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = 115200

_T = TypeVar("_T")


class SerialLike(Protocol):
    """What the client needs of a port (a pyserial `Serial` with a short timeout fits)."""

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...


class ImprovClient:
    """Improv serial commands and SecureCam's extension over a serial-like port.

    Calls block until the answer or `timeout`. A device's own output between packets (its
    log) is collected in `reader.lines`. A device without the SecureCam extension answers
    its commands with ImprovErrorState(UNKNOWN_RPC). Everything raised, but ValueError for a
    bad argument, is an `ImprovError` (app/serial/improv_codec.py).
    """

    def __init__(
        self,
        port: SerialLike,
        *,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.timeout = timeout
        self.reader = PacketReader()
        self.state: State | None = None
        self.bad_checksums = 0
        self._clock = clock
        self._queue: deque[Packet] = deque()

    # -- Improv --------------------------------------------------------------------------

    def request_state(self, *, timeout: float | None = None) -> tuple[State, str | None]:
        """The Improv state and, when provisioned, the redirect URL (None without one)."""
        deadline = self._deadline(timeout)
        self._send(encode_rpc(Command.GET_STATE))
        state = self._wait(deadline, _state_packet)
        if state != State.PROVISIONED:
            return state, None
        strings = self._wait(deadline, _result_for(Command.GET_STATE))
        return state, _url(strings)

    def wait_ready(self, *, timeout: float = 10.0, interval: float = 1.0) -> State:
        """Ask for the state until the device answers (it may still be booting)."""
        deadline = self._clock() + timeout
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise ImprovTimeout("no Improv answer: not a SecureCam camera, or still booting")
            try:
                return self.request_state(timeout=min(interval, remaining))[0]
            except ImprovTimeout:
                continue

    def device_info(self) -> DeviceInfo:
        strings = self._rpc(Command.GET_INFO)
        if len(strings) < 4:
            raise ImprovProtocolError("device information has fewer than 4 strings")
        firmware, version, hardware, name = (s.decode("utf-8", "replace") for s in strings[:4])
        return DeviceInfo(firmware, version, hardware, name)

    def scan(self, *, timeout: float = 30.0) -> list[Network]:
        """The Wi-Fi networks the device sees (one result each, ended by an empty one)."""
        deadline = self._deadline(timeout)
        self._send(encode_rpc(Command.SCAN))
        networks: list[Network] = []
        while strings := self._wait(deadline, _result_for(Command.SCAN)):
            if len(strings) < 3:
                raise ImprovProtocolError("a scan result has fewer than 3 strings")
            ssid, rssi, auth = (s.decode("utf-8", "replace") for s in strings[:3])
            try:
                networks.append(Network(ssid, int(rssi), auth != "NO"))
            except ValueError:
                raise ImprovProtocolError(f"bad RSSI {rssi!r}") from None
        return networks

    def provision_wifi(self, ssid: str, password: str, *, timeout: float = 30.0) -> str | None:
        """Join a network; returns the redirect URL (the camera's server URL) or None.

        Raises ImprovErrorState(UNABLE_TO_CONNECT) when the device could not connect.
        """
        deadline = self._deadline(timeout)
        self._send(encode_wifi_settings(ssid, password))
        return _url(self._wait(deadline, _result_for(Command.WIFI_SETTINGS)))

    # -- SecureCam extension -------------------------------------------------------------

    def get_config(self) -> CameraConfig:
        return parse_config(self._extension(Command.SC_GET_CONFIG))

    def set_config(self, update: ConfigUpdate) -> None:
        """Change the fields `update` gives, all or nothing.

        Raises ValueError (before sending) for a bad field, ExtensionError if the device
        refuses.
        """
        self._extension(Command.SC_SET_CONFIG, encode_config(update))

    def reboot(self) -> None:
        """Ask the device to restart; wait_ready() then waits for it to come back."""
        self._extension(Command.SC_REBOOT)
        self.state = None

    def erase_config(self) -> None:
        """Factory reset: forget Wi-Fi, server, name and key."""
        self._extension(Command.SC_ERASE_CONFIG)

    # -- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        close = getattr(self.port, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ImprovClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _deadline(self, timeout: float | None) -> float:
        return self._clock() + (self.timeout if timeout is None else timeout)

    def _send(self, data: bytes) -> None:
        self.port.write(data)
        flush = getattr(self.port, "flush", None)
        if flush is not None:
            flush()

    def _rpc(self, command: Command, payload: bytes = b"") -> list[bytes]:
        deadline = self._deadline(None)
        self._send(encode_rpc(command, payload))
        return self._wait(deadline, _result_for(command))

    def _extension(self, command: Command, body: bytes = b"") -> list[bytes]:
        deadline = self._deadline(None)
        self._send(encode_extension(command, body))
        strings = self._wait(deadline, _result_for(command))
        status = strings[0] if strings else b""
        if status == b"OK":
            return strings[1:]
        if status == b"ERR":
            code, detail = (s.decode("utf-8", "replace") for s in [*strings[1:3], b"", b""][:2])
            raise ExtensionError(code or "unknown", detail)
        raise ImprovProtocolError("extension result is neither OK nor ERR")

    def _wait(self, deadline: float, match: Callable[[Packet], _T | None]) -> _T:
        """Read packets until `match` returns non-None; error states other than NONE raise."""
        while True:
            packet = self._next_packet(deadline)
            if packet.type == PacketType.CURRENT_STATE and packet.data:
                try:
                    self.state = State(packet.data[0])
                except ValueError:
                    self.state = None
            elif packet.type == PacketType.ERROR_STATE and packet.data:
                code = ErrorCode.of(packet.data[0])
                if code != ErrorCode.NONE:
                    raise ImprovErrorState(code)
            result = match(packet)
            if result is not None:
                return result

    def _next_packet(self, deadline: float) -> Packet:
        while not self._queue:
            if self._clock() >= deadline:
                if self.reader.pending:
                    # The device stopped mid-packet: let what follows its header count.
                    self._enqueue(self.reader.abandon())
                    continue
                raise ImprovTimeout("the device did not answer in time")
            chunk = self.port.read(max(1, int(getattr(self.port, "in_waiting", 0) or 0)))
            if chunk:
                self._enqueue(self.reader.feed(chunk))
        return self._queue.popleft()

    def _enqueue(self, events: list[Packet | BadChecksum]) -> None:
        for event in events:
            if isinstance(event, BadChecksum):
                self.bad_checksums += 1
            else:
                self._queue.append(event)


def _state_packet(packet: Packet) -> State | None:
    if packet.type != PacketType.CURRENT_STATE or not packet.data:
        return None
    try:
        return State(packet.data[0])
    except ValueError:
        raise ImprovProtocolError(f"unknown Improv state 0x{packet.data[0]:02x}") from None


def _result_for(command: Command) -> Callable[[Packet], list[bytes] | None]:
    def match(packet: Packet) -> list[bytes] | None:
        if packet.type != PacketType.RPC_RESULT:
            return None
        got, strings = parse_result(packet)
        return strings if got == command else None

    return match


def _url(strings: list[bytes]) -> str | None:
    return strings[0].decode("utf-8", "replace") if strings and strings[0] else None


def open_port(
    device: str, *, baudrate: int = DEFAULT_BAUDRATE, timeout: float = 5.0, **serial_kwargs: Any
) -> ImprovClient:
    """Open a serial port (pyserial) and return a client that owns it.

    DTR and RTS are released before opening: on ESP32-CAM USB adapters with the auto-reset
    circuit, asserting RTS holds the chip in reset.
    """
    import serial  # pyserial; imported here so the sans-I/O core works without it

    port = serial.Serial(**serial_kwargs)
    port.port = device
    port.baudrate = baudrate
    port.timeout = 0.05
    port.dtr = False
    port.rts = False
    port.open()
    return ImprovClient(port, timeout=timeout)
