"""Records: the plaintext of every message after the handshake, one record per message.

All integers are big-endian. The first byte names the record type; each layout is fixed, so
any length mismatch is a malformed record.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.noise import MAX_MESSAGE, TAGLEN

MAX_RECORD = MAX_MESSAGE - TAGLEN  # the same bound in the plain suite keeps one code path
MAX_TEXT = 123  # fits a WebSocket close reason


class RecordType(IntEnum):
    FRAME_CHUNK = 0x01
    PING = 0x02
    PONG = 0x03
    CONTROL = 0x04
    STATUS = 0x05
    CLOSE = 0x06


_CHUNK = struct.Struct("!BIQQIHH")  # type, seq, capture_us, send_us, total_len, index, count
_PING = struct.Struct("!BIQ")  # type, id, sender_time_us
_PONG = struct.Struct("!BIQQ")  # type, id, echoed sender_time_us, responder_time_us
_CONTROL = struct.Struct("!BBBBB")  # type, frame size, jpeg quality, fps cap, suite
_STATUS = struct.Struct("!BbBBBHHIIIB")  # ..., uptime_s, firmware version length
_CLOSE = struct.Struct("!BHB")  # type, code, reason length

CHUNK_HEADER_LEN = _CHUNK.size
MAX_CHUNK_DATA = MAX_RECORD - CHUNK_HEADER_LEN
UNCHANGED = 0  # CONTROL field value meaning "keep the current setting"
NO_FPS_CAP = 255


@dataclass(frozen=True, slots=True)
class FrameChunk:
    seq: int
    capture_us: int  # device clock, microseconds
    send_us: int  # device clock, microseconds
    total_len: int
    index: int
    count: int
    data: bytes | memoryview = field(repr=False)


@dataclass(frozen=True, slots=True)
class Ping:
    ping_id: int
    sender_time_us: int


@dataclass(frozen=True, slots=True)
class Pong:
    ping_id: int
    echo_time_us: int
    responder_time_us: int


@dataclass(frozen=True, slots=True)
class Control:
    """App to camera; UNCHANGED (0) leaves a setting alone.

    `suite` asks the camera to end this session and reconnect in that suite (1 Noise, 2 plain),
    for plain-versus-encrypted comparisons. A camera honours a switch to plain only when it
    arrives inside an encrypted session, and returns to Noise whenever a plain session ends.
    """

    frame_size: int = UNCHANGED  # a FrameSize code
    quality: int = UNCHANGED  # esp32-camera scale 4..63, lower is better
    fps_cap: int = UNCHANGED  # 1..254 frames per second, or NO_FPS_CAP
    suite: int = UNCHANGED  # a Suite code


@dataclass(frozen=True, slots=True)
class Status:
    """Camera to app, after the handshake and whenever something changes (at least every 5 s)."""

    rssi_dbm: int  # 0 when unknown
    frame_size: int
    quality: int
    fps_cap: int
    width: int
    height: int
    free_heap: int
    free_psram: int
    uptime_s: int
    firmware: str


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


Record = FrameChunk | Ping | Pong | Control | Status | Close


def _text(value: str) -> bytes:
    data = value.encode("utf-8", "replace")[:MAX_TEXT]
    return data.decode("utf-8", "ignore").encode("utf-8")  # never cut a character in half


def encode_chunk_header(
    seq: int, capture_us: int, send_us: int, total_len: int, index: int, count: int
) -> bytes:
    return _CHUNK.pack(RecordType.FRAME_CHUNK, seq, capture_us, send_us, total_len, index, count)


def encode(record: Record) -> bytes:
    """Serialize one record; raises struct.error or ValueError when a field is out of range."""
    match record:
        case FrameChunk():
            header = encode_chunk_header(
                record.seq,
                record.capture_us,
                record.send_us,
                record.total_len,
                record.index,
                record.count,
            )
            return header + bytes(record.data)
        case Ping():
            return _PING.pack(RecordType.PING, record.ping_id, record.sender_time_us)
        case Pong():
            return _PONG.pack(
                RecordType.PONG, record.ping_id, record.echo_time_us, record.responder_time_us
            )
        case Control():
            return _CONTROL.pack(
                RecordType.CONTROL, record.frame_size, record.quality, record.fps_cap, record.suite
            )
        case Status():
            firmware = _text(record.firmware)
            return (
                _STATUS.pack(
                    RecordType.STATUS,
                    record.rssi_dbm,
                    record.frame_size,
                    record.quality,
                    record.fps_cap,
                    record.width,
                    record.height,
                    record.free_heap,
                    record.free_psram,
                    record.uptime_s,
                    len(firmware),
                )
                + firmware
            )
        case Close():
            reason = _text(record.reason)
            return _CLOSE.pack(RecordType.CLOSE, record.code, len(reason)) + reason
    raise TypeError(f"not a record: {record!r}")


def _malformed(reason: str) -> ProtocolError:
    return ProtocolError(CloseCode.MALFORMED_RECORD, reason)


def _fixed(layout: struct.Struct, data: memoryview, name: str) -> tuple[int, ...]:
    if len(data) != layout.size:
        raise _malformed(f"{name} record must be {layout.size} bytes, got {len(data)}")
    return layout.unpack(data)


def _with_text(layout: struct.Struct, data: memoryview, name: str) -> tuple[tuple[int, ...], str]:
    if len(data) < layout.size:
        raise _malformed(f"{name} record too short")
    fields = layout.unpack(data[: layout.size])
    text = data[layout.size :]
    if len(text) != fields[-1]:
        raise _malformed(f"{name} text length does not match the record")
    try:
        return fields, str(text, "utf-8")
    except UnicodeDecodeError:
        raise _malformed(f"{name} text is not UTF-8") from None


def parse(message: bytes | memoryview) -> Record:
    """Parse one record; raises ProtocolError(MALFORMED_RECORD) on anything off.

    A chunk's `data` is a zero-copy view into `message`.
    """
    data = memoryview(message)
    if not data:
        raise _malformed("empty record")
    if len(data) > MAX_RECORD:
        raise _malformed("record longer than 65,519 bytes")
    kind = data[0]
    if kind == RecordType.FRAME_CHUNK:
        if len(data) <= CHUNK_HEADER_LEN:
            raise _malformed("frame chunk without data")
        _, seq, capture, send, total, index, count = _CHUNK.unpack(data[:CHUNK_HEADER_LEN])
        return FrameChunk(seq, capture, send, total, index, count, data[CHUNK_HEADER_LEN:])
    if kind == RecordType.PING:
        _, ping_id, sent = _fixed(_PING, data, "ping")
        return Ping(ping_id, sent)
    if kind == RecordType.PONG:
        _, ping_id, echo, remote = _fixed(_PONG, data, "pong")
        return Pong(ping_id, echo, remote)
    if kind == RecordType.CONTROL:
        _, frame_size, quality, fps_cap, suite = _fixed(_CONTROL, data, "control")
        return Control(frame_size, quality, fps_cap, suite)
    if kind == RecordType.STATUS:
        fields, firmware = _with_text(_STATUS, data, "status")
        rssi, frame_size, quality, fps_cap, width, height, heap, psram, uptime = fields[1:-1]
        return Status(
            rssi, frame_size, quality, fps_cap, width, height, heap, psram, uptime, firmware
        )
    if kind == RecordType.CLOSE:
        (_, code, _), reason = _with_text(_CLOSE, data, "close")
        return Close(code, reason)
    raise _malformed(f"unknown record type 0x{kind:02x}")
