"""Improv Wi-Fi serial client with SecureCam's vendor extension (docs/PROVISIONING.md).

Two layers:

* a sans-I/O core: packet encoders and `PacketReader`, which finds checksum-verified packets
  in a byte stream that also carries the camera's boot log (bytes before "IMPROV" are
  skipped, bad checksums resynchronise, packets may arrive in any number of pieces);
* `ImprovClient`, a small blocking client over anything with pyserial's `read`/`write`
  (`open_port` opens a real port), used by tests and by the desktop setup wizard.

The firmware side is firmware/lib/securecam_core/src/sc_console.c; byte formats must match.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol, TypeVar

from app.devices.registry import KEY_SIZE, DeviceKey
from app.protocol.framesize import FrameSize
from app.protocol.hello import is_valid_device_id

log = logging.getLogger(__name__)

HEADER = b"IMPROV"
VERSION = 1
HEADER_LEN = len(HEADER) + 3  # magic, version, type, length
MAX_DATA = 255
MAX_RPC_PAYLOAD = MAX_DATA - 2  # an RPC's command and length bytes share the packet data
EXTENSION_PREFIX = b"SC\x01"  # "SC" marks SecureCam's vendor commands, then version 1
DEFAULT_BAUDRATE = 115200
MAX_HOST = 63
NO_FPS_CAP = 255

_T = TypeVar("_T")


class PacketType(IntEnum):
    CURRENT_STATE = 0x01  # device -> client
    ERROR_STATE = 0x02  # device -> client
    RPC_COMMAND = 0x03  # client -> device
    RPC_RESULT = 0x04  # device -> client


class State(IntEnum):
    STOPPED = 0x00
    AWAITING_AUTHORIZATION = 0x01  # BLE only
    READY = 0x02  # authorized: ready to accept credentials
    PROVISIONING = 0x03
    PROVISIONED = 0x04


class ErrorCode(IntEnum):
    NONE = 0x00
    INVALID_RPC = 0x01
    UNKNOWN_RPC = 0x02
    UNABLE_TO_CONNECT = 0x03
    NOT_AUTHORIZED = 0x04
    BAD_HOSTNAME = 0x05
    UNKNOWN = 0xFF

    @classmethod
    def of(cls, value: int) -> ErrorCode:
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


class Command(IntEnum):
    WIFI_SETTINGS = 0x01
    GET_STATE = 0x02
    GET_INFO = 0x03
    SCAN = 0x04
    HOSTNAME = 0x05
    DEVICE_NAME = 0x06
    NETWORK_STATE = 0x07
    # SecureCam vendor commands; their payload starts with EXTENSION_PREFIX.
    SC_GET_CONFIG = 0xE0
    SC_SET_CONFIG = 0xE1
    SC_REBOOT = 0xE2
    SC_ERASE_CONFIG = 0xE3


class ConfigTag(IntEnum):
    """SC_SET_CONFIG fields: tag, length, value."""

    SERVER_HOST = 0x01  # 1..63 bytes
    SERVER_PORT = 0x02  # 2 bytes big-endian, 1..65535
    DEVICE_NAME = 0x03  # 1..32 bytes, the device id rules
    KEY = 0x04  # 32 bytes, raw
    FRAME_SIZE = 0x05  # 1 byte, FrameSize code
    JPEG_QUALITY = 0x06  # 1 byte, 4..63
    FPS_CAP = 0x07  # 1 byte, 1..254, 255 = no cap


# -- errors ------------------------------------------------------------------------------


class ImprovError(Exception):
    """The device answered with an Improv error state."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(f"device reported Improv error {code.name} (0x{code:02x})")
        self.code = code


class ExtensionError(Exception):
    """A SecureCam vendor command was refused; `code` is machine-readable."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"device refused: {code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class ImprovProtocolError(Exception):
    """The device answered something that is not valid Improv or extension data."""


class ImprovTimeout(TimeoutError):
    """No answer in time (not an Improv device, wrong port, or still booting)."""


# -- sans-I/O core -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Packet:
    """A checksum-verified Improv packet."""

    type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class BadChecksum:
    """Bytes framed as a packet whose checksum did not match; the reader resynchronised."""

    raw: bytes


def checksum(data: bytes) -> int:
    """The low 8 bits of the sum of every byte (Improv's checksum covers the header too)."""
    return sum(data) & 0xFF


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def encode_packet(packet_type: int, data: bytes = b"", *, newline: bool = True) -> bytes:
    """One packet; with `newline` a trailing b"\\n", as the Improv JS SDK and ESPHome send."""
    if len(data) > MAX_DATA:
        raise ValueError(f"an Improv packet carries at most {MAX_DATA} bytes, got {len(data)}")
    body = HEADER + bytes([VERSION, packet_type, len(data)]) + data
    return body + bytes([checksum(body)]) + (b"\n" if newline else b"")


def encode_strings(strings: Iterable[bytes | str]) -> bytes:
    """A list of length-prefixed strings (str is encoded as UTF-8)."""
    out = bytearray()
    for item in strings:
        raw = _as_bytes(item)
        if len(raw) > 255:
            raise ValueError("an Improv string is at most 255 bytes")
        out += bytes([len(raw)]) + raw
    return bytes(out)


def decode_strings(data: bytes) -> list[bytes]:
    """Split a list of length-prefixed strings that fills `data` exactly."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        end = pos + 1 + data[pos]
        if end > len(data):
            raise ImprovProtocolError("a string runs past the end of the packet")
        out.append(bytes(data[pos + 1 : end]))
        pos = end
    return out


def encode_rpc(command: int, payload: bytes = b"", *, newline: bool = True) -> bytes:
    if len(payload) > MAX_RPC_PAYLOAD:
        raise ValueError(f"an RPC payload is at most {MAX_RPC_PAYLOAD} bytes")
    data = bytes([command, len(payload)]) + payload
    return encode_packet(PacketType.RPC_COMMAND, data, newline=newline)


def encode_wifi_settings(ssid: str | bytes, password: str | bytes) -> bytes:
    """Improv "send Wi-Fi settings": ssid_len, ssid, password_len, password."""
    raw_ssid, raw_password = _as_bytes(ssid), _as_bytes(password)
    if not 1 <= len(raw_ssid) <= 32:
        raise ValueError("a Wi-Fi SSID is 1-32 bytes")
    if len(raw_password) > 64:
        raise ValueError("a Wi-Fi password is at most 64 bytes")
    return encode_rpc(Command.WIFI_SETTINGS, encode_strings([raw_ssid, raw_password]))


def encode_extension(command: Command, body: bytes = b"") -> bytes:
    """A SecureCam vendor command: EXTENSION_PREFIX, then the command's fields."""
    if command < Command.SC_GET_CONFIG:
        raise ValueError(f"{command!r} is not a SecureCam extension command")
    return encode_rpc(command, EXTENSION_PREFIX + body)


# The device-id alphabet, up to 63 bytes: a DNS name or dotted IPv4 address (no IPv6).
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def encode_config_fields(
    *,
    server_host: str | None = None,
    server_port: int | None = None,
    device_name: str | None = None,
    key: DeviceKey | bytes | None = None,
    frame_size: FrameSize | int | None = None,
    jpeg_quality: int | None = None,
    fps_cap: int | None = None,
) -> bytes:
    """The TLV body of SC_SET_CONFIG for the given fields; ValueError names a bad one.

    Validated here with the device's rules so a wizard can show the error before sending.
    """
    fields: list[tuple[ConfigTag, bytes]] = []
    if server_host is not None:
        if not _HOST.fullmatch(server_host):
            raise ValueError(
                "server host: 1-63 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit (a DNS name or IPv4 address)"
            )
        fields.append((ConfigTag.SERVER_HOST, server_host.encode("ascii")))
    if server_port is not None:
        if not 1 <= server_port <= 65535:
            raise ValueError("server port: 1-65535")
        fields.append((ConfigTag.SERVER_PORT, server_port.to_bytes(2, "big")))
    if device_name is not None:
        if not is_valid_device_id(device_name):
            raise ValueError(
                "device name: 1-32 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit"
            )
        fields.append((ConfigTag.DEVICE_NAME, device_name.encode("ascii")))
    if key is not None:
        raw = key.raw if isinstance(key, DeviceKey) else bytes(key)
        if len(raw) != KEY_SIZE:
            raise ValueError(f"key: exactly {KEY_SIZE} bytes")
        fields.append((ConfigTag.KEY, raw))
    if frame_size is not None:
        if int(frame_size) not in {size.value for size in FrameSize}:
            raise ValueError(f"frame size: a FrameSize code 1-{max(FrameSize)}")
        fields.append((ConfigTag.FRAME_SIZE, bytes([int(frame_size)])))
    if jpeg_quality is not None:
        if not 4 <= jpeg_quality <= 63:
            raise ValueError("JPEG quality: 4-63")
        fields.append((ConfigTag.JPEG_QUALITY, bytes([jpeg_quality])))
    if fps_cap is not None:
        if not 1 <= fps_cap <= NO_FPS_CAP:
            raise ValueError("fps cap: 1-254, or 255 for no cap")
        fields.append((ConfigTag.FPS_CAP, bytes([fps_cap])))
    if not fields:
        raise ValueError("no configuration fields given")
    return b"".join(bytes([tag, len(value)]) + value for tag, value in fields)


def parse_result(packet: Packet) -> tuple[int, list[bytes]]:
    """An RPC result's command and strings."""
    if packet.type != PacketType.RPC_RESULT or len(packet.data) < 2:
        raise ImprovProtocolError("not an RPC result")
    command, length = packet.data[0], packet.data[1]
    if length != len(packet.data) - 2:
        raise ImprovProtocolError("RPC result length disagrees with the packet length")
    return command, decode_strings(packet.data[2:])


class PacketReader:
    """Finds Improv packets in a serial byte stream; everything else is kept as log lines.

    Mirrors the firmware's parser: bytes before "IMPROV" are skipped, as are headers with
    another version; after a bad checksum scanning resumes one byte after that header, so a
    real packet inside the bytes of a corrupted one is still found.
    """

    def __init__(self, *, keep_lines: int = 200) -> None:
        self._buf = bytearray()
        self._line = bytearray()
        self.lines: deque[str] = deque(maxlen=keep_lines)

    @property
    def pending(self) -> bool:
        """Whether a partial packet is buffered."""
        return bool(self._buf)

    def feed(self, data: bytes) -> list[Packet | BadChecksum]:
        self._buf += data
        events: list[Packet | BadChecksum] = []
        while (event := self._scan()) is not None:
            events.append(event)
        return events

    def abandon(self) -> list[Packet | BadChecksum]:
        """The line went quiet with a partial packet: treat its first byte as noise, rescan."""
        if not self._buf:
            return []
        self._noise(self._buf[:1])
        del self._buf[:1]
        return self.feed(b"")

    def _noise(self, data: bytes | bytearray) -> None:
        for byte in data:
            if byte == 0x0A:
                self.lines.append(self._line.decode("utf-8", "replace").rstrip("\r"))
                self._line.clear()
            elif len(self._line) < 1024:
                self._line.append(byte)

    def _scan(self) -> Packet | BadChecksum | None:
        buf = self._buf
        while buf:
            if buf[0] != HEADER[0]:
                nxt = buf.find(HEADER[:1], 1)
                cut = len(buf) if nxt < 0 else nxt
                self._noise(buf[:cut])
                del buf[:cut]
                continue
            prefix = min(len(buf), len(HEADER))
            if buf[:prefix] != HEADER[:prefix] or (len(buf) > 6 and buf[6] != VERSION):
                self._noise(buf[:1])
                del buf[:1]
                continue
            if len(buf) < HEADER_LEN:
                return None
            total = HEADER_LEN + buf[8] + 1
            if len(buf) < total:
                return None
            if checksum(buf[: total - 1]) != buf[total - 1]:
                raw = bytes(buf[:total])
                del buf[:1]
                return BadChecksum(raw)
            packet = Packet(buf[7], bytes(buf[HEADER_LEN : total - 1]))
            del buf[:total]
            return packet
        return None


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    firmware: str
    version: str
    hardware: str
    name: str


@dataclass(frozen=True, slots=True)
class Network:
    ssid: str
    rssi: int
    secured: bool


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """The camera's configuration as it reports it: never the key, only its fingerprint."""

    wifi_ssid: str
    wifi_password_set: bool
    server_host: str
    server_port: int
    device_name: str
    key_fingerprint: str | None
    frame_size: FrameSize | int
    jpeg_quality: int
    fps_cap: int

    @property
    def server_url(self) -> str | None:
        if not self.server_host:
            return None
        return f"ws://{self.server_host}:{self.server_port}/camera"


def parse_config(strings: list[bytes]) -> CameraConfig:
    """The `name=value` strings that follow "OK" in the SC_GET_CONFIG result."""
    values: dict[str, str] = {}
    for item in strings:
        name, sep, value = item.decode("utf-8", "replace").partition("=")
        if not sep:
            raise ImprovProtocolError(f"configuration item without '=': {name!r}")
        values[name] = value
    try:
        size_code = int(values["frame_size"])
        try:
            frame_size: FrameSize | int = FrameSize(size_code)
        except ValueError:
            frame_size = size_code
        return CameraConfig(
            wifi_ssid=values["ssid"],
            wifi_password_set=values["pass"] == "set",
            server_host=values["host"],
            server_port=int(values["port"]),
            device_name=values["name"],
            key_fingerprint=values["key_fp"] or None,
            frame_size=frame_size,
            jpeg_quality=int(values["quality"]),
            fps_cap=int(values["fps_cap"]),
        )
    except (KeyError, ValueError) as exc:
        raise ImprovProtocolError(f"malformed configuration: {exc}") from None


# -- the blocking client -----------------------------------------------------------------


class SerialLike(Protocol):
    """What the client needs of a port (a pyserial `Serial` with a short timeout fits)."""

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...


class ImprovClient:
    """Improv serial commands and SecureCam's extension over a serial-like port.

    Calls block until the answer or `timeout`. A device's own output between packets (its
    log) is collected in `reader.lines`. A device without the SecureCam extension answers
    its commands with ImprovError(UNKNOWN_RPC).
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

        Raises ImprovError(UNABLE_TO_CONNECT) when the device could not connect.
        """
        deadline = self._deadline(timeout)
        self._send(encode_wifi_settings(ssid, password))
        return _url(self._wait(deadline, _result_for(Command.WIFI_SETTINGS)))

    def device_name(self, new_name: str | None = None) -> str:
        """Improv's get/set device name (the SecureCam device id)."""
        payload = b""
        if new_name is not None:
            if not is_valid_device_id(new_name):
                raise ValueError(f"invalid device name {new_name!r}")
            payload = new_name.encode("ascii")
        strings = self._rpc(Command.DEVICE_NAME, payload)
        if not strings:
            raise ImprovProtocolError("empty device name result")
        return strings[0].decode("utf-8", "replace")

    # -- SecureCam extension -------------------------------------------------------------

    def get_config(self) -> CameraConfig:
        return parse_config(self._extension(Command.SC_GET_CONFIG))

    def set_config(
        self,
        *,
        server_host: str | None = None,
        server_port: int | None = None,
        device_name: str | None = None,
        key: DeviceKey | bytes | None = None,
        frame_size: FrameSize | int | None = None,
        jpeg_quality: int | None = None,
        fps_cap: int | None = None,
    ) -> None:
        """Change the given fields, all or nothing; ExtensionError if the device refuses."""
        body = encode_config_fields(
            server_host=server_host,
            server_port=server_port,
            device_name=device_name,
            key=key,
            frame_size=frame_size,
            jpeg_quality=jpeg_quality,
            fps_cap=fps_cap,
        )
        self._extension(Command.SC_SET_CONFIG, body)

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
                    raise ImprovError(code)
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
