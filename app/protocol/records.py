"""Records: the plaintext of every message after the handshake, one record per message.

All integers are big-endian. The first byte names the record type; each layout is fixed, so
any length mismatch is a malformed record. STATUS alone may end in an optional extension (a
flags byte, then one 32-bit value per set flag), whose length its flags fix exactly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.sizes import MAX_MESSAGE, TAGLEN  # not noise: no pycryptodome to load

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
_U32 = struct.Struct("!I")

CHUNK_HEADER_LEN = _CHUNK.size
MAX_CHUNK_DATA = MAX_RECORD - CHUNK_HEADER_LEN
UNCHANGED = 0  # CONTROL field value meaning "keep the current setting"
NO_FPS_CAP = 255
# STATUS extension flags; bits 2..7 are reserved (their values are skipped when parsing).
STATUS_EXT_FRAMES_DROPPED = 0x01
STATUS_EXT_STACK_MIN_FREE = 0x02
STATUS_EXT_MAX = 1 + 2 * _U32.size  # flags + both values, as this version sends it


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
    # Optional (the extension), None when the camera does not report them:
    frames_dropped: int | None = None  # captured but not sent, link busy; since boot, wraps
    stack_min_free: int | None = None  # the loop task's least free stack ever, bytes


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


def _status_extension(status: Status) -> bytes:
    """Flags and values of the fields reported, in flag order; nothing when none is."""
    flags, values = 0, b""
    for flag, value in (
        (STATUS_EXT_FRAMES_DROPPED, status.frames_dropped),
        (STATUS_EXT_STACK_MIN_FREE, status.stack_min_free),
    ):
        if value is not None:
            flags |= flag
            values += _U32.pack(value)
    return bytes([flags]) + values if flags else b""


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
                + _status_extension(record)
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


def _with_text(
    layout: struct.Struct, data: memoryview, name: str, *, trailer: bool = False
) -> tuple[tuple[int, ...], str, memoryview]:
    """The fixed fields, the text their last field sizes, and what follows the text (which
    must be nothing unless `trailer`)."""
    if len(data) < layout.size:
        raise _malformed(f"{name} record too short")
    fields = layout.unpack(data[: layout.size])
    end = layout.size + fields[-1]
    if len(data) < end or (len(data) > end and not trailer):
        raise _malformed(f"{name} text length does not match the record")
    try:
        return fields, str(data[layout.size : end], "utf-8"), data[end:]
    except UnicodeDecodeError:
        raise _malformed(f"{name} text is not UTF-8") from None


def _status_fields(ext: memoryview) -> tuple[int | None, int | None]:
    """frames_dropped and stack_min_free from a STATUS extension (empty: neither reported).

    The flags are not 0 and the extension is exactly 1 + 4 bytes per set flag; the values of
    reserved flags are skipped, so that later 32-bit fields do not break this parser.
    """
    if not ext:
        return None, None
    flags = ext[0]
    if flags == 0:
        raise _malformed("status extension without fields: omit it")
    if len(ext) != 1 + _U32.size * flags.bit_count():
        raise _malformed("status extension length does not match its flags")
    values = iter(_U32.unpack_from(ext, 1 + _U32.size * i)[0] for i in range(flags.bit_count()))
    dropped = next(values) if flags & STATUS_EXT_FRAMES_DROPPED else None
    stack = next(values) if flags & STATUS_EXT_STACK_MIN_FREE else None
    return dropped, stack


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
        fields, firmware, ext = _with_text(_STATUS, data, "status", trailer=True)
        rssi, frame_size, quality, fps_cap, width, height, heap, psram, uptime = fields[1:-1]
        dropped, stack = _status_fields(ext)
        return Status(
            rssi,
            frame_size,
            quality,
            fps_cap,
            width,
            height,
            heap,
            psram,
            uptime,
            firmware,
            frames_dropped=dropped,
            stack_min_free=stack,
        )
    if kind == RecordType.CLOSE:
        (_, code, _), reason, _ = _with_text(_CLOSE, data, "close")
        return Close(code, reason)
    raise _malformed(f"unknown record type 0x{kind:02x}")
