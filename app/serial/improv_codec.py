"""Improv Wi-Fi serial with SecureCam's vendor extension, sans I/O (docs/PROVISIONING.md).

Bytes in, bytes out: packet and command encoders, `PacketReader` (which finds
checksum-verified packets in a byte stream that also carries the camera's boot log: bytes
before "IMPROV" are skipped, bad checksums resynchronise, packets may arrive in any number
of pieces), and the decoders of what the camera answers. No serial port: the blocking
client over a port is app/serial/improv.py.

The firmware side is firmware/lib/securecam_core/src/sc_console.c; byte formats must match.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from app.devices.registry import KEY_SIZE, DeviceKey
from app.errors import SecureCamError
from app.protocol.endpoints import camera_url
from app.protocol.framesize import FrameSize
from app.protocol.hello import is_valid_device_id
from app.serial.camera_settings import CameraSettings

HEADER = b"IMPROV"
VERSION = 1
HEADER_LEN = len(HEADER) + 3  # magic, version, type, length
MAX_DATA = 255
MAX_RPC_PAYLOAD = MAX_DATA - 2  # an RPC's command and length bytes share the packet data
EXTENSION_PREFIX = b"SC\x01"  # "SC" marks SecureCam's vendor commands, then version 1


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


class ImprovError(SecureCamError):
    """The camera's serial console failed a request: the root of the errors below.

    The provisioner turns them into `ProvisionError`s with words for the user.
    """


class ImprovErrorState(ImprovError):
    """The device answered with an Improv error state; `code` says which."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(f"device reported Improv error {code.name} (0x{code:02x})")
        self.code = code


class ExtensionError(ImprovError):
    """A SecureCam vendor command was refused; `code` is machine-readable."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"device refused: {code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class ImprovProtocolError(ImprovError):
    """The device answered something that is not valid Improv or extension data."""


class ImprovTimeout(ImprovError, TimeoutError):
    """No answer in time (not an Improv device, wrong port, or still booting)."""


# -- packets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Packet:
    """A checksum-verified Improv packet."""

    type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class BadChecksum:
    """Bytes framed as a packet whose checksum did not match; the reader resynchronised."""

    raw: bytes


def checksum(data: bytes | bytearray) -> int:
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
    """An RPC command packet: command, payload length, payload."""
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


def parse_result(packet: Packet) -> tuple[int, list[bytes]]:
    """An RPC result's command and strings."""
    if packet.type != PacketType.RPC_RESULT or len(packet.data) < 2:
        raise ImprovProtocolError("not an RPC result")
    command, length = packet.data[0], packet.data[1]
    if length != len(packet.data) - 2:
        raise ImprovProtocolError("RPC result length disagrees with the packet length")
    return command, decode_strings(packet.data[2:])


# -- SC_SET_CONFIG and SC_GET_CONFIG -----------------------------------------------------

# The device-id alphabet, up to 63 bytes: a DNS name or dotted IPv4 address (no IPv6).
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
DEVICE_NAME_RULE = (
    "device name: 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit"
)


@dataclass(frozen=True, slots=True)
class ConfigUpdate:
    """What SC_SET_CONFIG changes; a field left None stays as the camera has it."""

    server_host: str | None = None
    server_port: int | None = None
    device_name: str | None = None
    key: DeviceKey | bytes | None = field(default=None, repr=False)
    camera: CameraSettings | None = None


def encode_camera(settings: CameraSettings) -> list[tuple[ConfigTag, bytes]]:
    """The SC_SET_CONFIG fields of the camera settings; ValueError names one out of range."""
    settings.check()
    return [
        (ConfigTag.FRAME_SIZE, bytes([settings.frame_size])),
        (ConfigTag.JPEG_QUALITY, bytes([settings.jpeg_quality])),
        (ConfigTag.FPS_CAP, bytes([settings.fps_cap])),
    ]


def decode_camera(values: Mapping[str, str]) -> CameraSettings:
    """The camera settings among SC_GET_CONFIG's `name=value` items.

    A frame size this app does not name is kept as its code. Raises KeyError for a missing
    item and ValueError for one that is not a number.
    """
    code = int(values["frame_size"])
    try:
        frame_size: FrameSize | int = FrameSize(code)
    except ValueError:
        frame_size = code
    return CameraSettings(
        frame_size=frame_size,
        jpeg_quality=int(values["quality"]),
        fps_cap=int(values["fps_cap"]),
    )


def encode_config(update: ConfigUpdate) -> bytes:
    """The TLV body of SC_SET_CONFIG; ValueError names a bad field.

    Validated here with the device's rules so a caller can show the error before sending.
    """
    fields: list[tuple[ConfigTag, bytes]] = []
    if update.server_host is not None:
        if not _HOST.fullmatch(update.server_host):
            raise ValueError(
                "server host: 1-63 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit (a DNS name or IPv4 address)"
            )
        fields.append((ConfigTag.SERVER_HOST, update.server_host.encode("ascii")))
    if update.server_port is not None:
        if not 1 <= update.server_port <= 65535:
            raise ValueError("server port: 1-65535")
        fields.append((ConfigTag.SERVER_PORT, update.server_port.to_bytes(2, "big")))
    if update.device_name is not None:
        if not is_valid_device_id(update.device_name):
            raise ValueError(DEVICE_NAME_RULE)
        fields.append((ConfigTag.DEVICE_NAME, update.device_name.encode("ascii")))
    if update.key is not None:
        raw = update.key.raw if isinstance(update.key, DeviceKey) else bytes(update.key)
        if len(raw) != KEY_SIZE:
            raise ValueError(f"key: exactly {KEY_SIZE} bytes")
        fields.append((ConfigTag.KEY, raw))
    if update.camera is not None:
        fields += encode_camera(update.camera)
    if not fields:
        raise ValueError("no configuration fields given")
    return b"".join(bytes([tag, len(value)]) + value for tag, value in fields)


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """The camera's configuration as it reports it: never the key, only its fingerprint."""

    wifi_ssid: str
    wifi_password_set: bool
    server_host: str
    server_port: int
    device_name: str
    key_fingerprint: str | None
    camera: CameraSettings

    @property
    def server_url(self) -> str | None:
        """Where the camera streams to, None while it has no server."""
        return camera_url(self.server_host, self.server_port) if self.server_host else None


def parse_config(strings: list[bytes]) -> CameraConfig:
    """The `name=value` strings that follow "OK" in the SC_GET_CONFIG result."""
    values: dict[str, str] = {}
    for item in strings:
        name, sep, value = item.decode("utf-8", "replace").partition("=")
        if not sep:
            raise ImprovProtocolError(f"configuration item without '=': {name!r}")
        values[name] = value
    try:
        return CameraConfig(
            wifi_ssid=values["ssid"],
            wifi_password_set=values["pass"] == "set",
            server_host=values["host"],
            server_port=int(values["port"]),
            device_name=values["name"],
            key_fingerprint=values["key_fp"] or None,
            camera=decode_camera(values),
        )
    except (KeyError, ValueError) as exc:
        raise ImprovProtocolError(f"malformed configuration: {exc}") from None


# -- other results -----------------------------------------------------------------------


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


# -- the reader --------------------------------------------------------------------------


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
        """Add bytes read from the port; the packets (and bad checksums) they complete."""
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
