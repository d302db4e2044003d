"""Frame chunking (camera side) and strict reassembly (receiver side)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.records import MAX_CHUNK_DATA, FrameChunk, encode_chunk_header


def chunk_count(size: int, chunk_data: int = MAX_CHUNK_DATA) -> int:
    return max(1, -(-size // chunk_data))


def chunk_records(
    jpeg: bytes | memoryview,
    seq: int,
    capture_us: int,
    send_us: int,
    chunk_data: int = MAX_CHUNK_DATA,
) -> Iterator[bytes]:
    """Yield the FRAME_CHUNK records that carry one frame, in order."""
    if not 0 < chunk_data <= MAX_CHUNK_DATA:
        raise ValueError(f"chunk data size must be 1..{MAX_CHUNK_DATA}")
    if not jpeg:
        raise ValueError("a frame cannot be empty")
    view = memoryview(jpeg)
    count = chunk_count(len(view), chunk_data)
    for index in range(count):
        header = encode_chunk_header(seq, capture_us, send_us, len(view), index, count)
        yield header + view[index * chunk_data : (index + 1) * chunk_data]


@dataclass(slots=True)
class AssembledFrame:
    seq: int
    capture_us: int
    send_us: int
    first_rx_us: int
    data: bytes | memoryview  # a single chunk's own data when it cannot change, else a copy


class Reassembler:
    """Rebuild frames from chunks that must arrive complete and in order.

    Over an ordered, authenticated stream any gap, repeat or inconsistency means a broken or
    hostile sender, so every violation raises ProtocolError instead of being patched over.
    Memory held is what the peer actually sent, never the length it merely claims.
    """

    def __init__(self, max_frame_bytes: int, max_chunks: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.max_chunks = max_chunks
        self._first: FrameChunk | None = None
        self._parts: list[bytes | memoryview] = []
        self._received = 0
        self._first_rx_us = 0
        self._last_seq: int | None = None

    @property
    def in_progress(self) -> bool:
        return self._first is not None

    def abort(self) -> bool:
        """Discard a partly rebuilt frame; True if there was one."""
        had_frame = self._first is not None
        self._first, self._parts, self._received = None, [], 0
        return had_frame

    def add(self, chunk: FrameChunk, now_us: int) -> AssembledFrame | None:
        """Take one chunk; return the frame when this chunk completes it."""
        self._check_limits(chunk)
        first = self._first
        if first is None:
            self._check_start(chunk)
            self._first, self._first_rx_us = chunk, now_us
            first = chunk
        elif chunk.seq != first.seq:
            raise _sequence(
                f"frame {first.seq} truncated after {len(self._parts)} of "
                f"{first.count} chunks (frame {chunk.seq} started)"
            )
        elif chunk.index != len(self._parts):
            raise _sequence(
                f"frame {chunk.seq}: chunk {chunk.index} arrived, expected {len(self._parts)}"
            )
        elif (chunk.capture_us, chunk.send_us, chunk.total_len, chunk.count) != (
            first.capture_us,
            first.send_us,
            first.total_len,
            first.count,
        ):
            raise _sequence(f"frame {chunk.seq}: chunk {chunk.index} disagrees with chunk 0")
        self._received += len(chunk.data)
        if self._received > first.total_len:
            raise _sequence(f"frame {chunk.seq} longer than its declared {first.total_len} bytes")
        self._parts.append(chunk.data)
        if chunk.index + 1 < first.count:
            return None
        if self._received != first.total_len:
            raise _sequence(
                f"frame {chunk.seq} ended at {self._received} of {first.total_len} bytes"
            )
        data = b"".join(self._parts) if len(self._parts) > 1 else _kept(self._parts[0])
        frame = AssembledFrame(first.seq, first.capture_us, first.send_us, self._first_rx_us, data)
        self._last_seq = first.seq
        self.abort()
        return frame

    def _check_limits(self, chunk: FrameChunk) -> None:
        if chunk.total_len > self.max_frame_bytes:
            raise ProtocolError(
                CloseCode.FRAME_TOO_LARGE,
                f"frame {chunk.seq} of {chunk.total_len} bytes exceeds {self.max_frame_bytes}",
            )
        if chunk.count > self.max_chunks:
            raise ProtocolError(
                CloseCode.FRAME_TOO_LARGE,
                f"frame {chunk.seq} in {chunk.count} chunks exceeds {self.max_chunks}",
            )
        if chunk.count == 0 or chunk.total_len == 0 or chunk.index >= chunk.count:
            raise ProtocolError(
                CloseCode.MALFORMED_RECORD,
                f"frame {chunk.seq}: chunk {chunk.index} of {chunk.count}, {chunk.total_len} bytes",
            )

    def _check_start(self, chunk: FrameChunk) -> None:
        if chunk.index != 0:
            raise _sequence(f"frame {chunk.seq} starts at chunk {chunk.index}, not 0")
        if self._last_seq is not None and chunk.seq <= self._last_seq:
            raise _sequence(f"frame {chunk.seq} does not follow frame {self._last_seq}")


def _kept(data: bytes | memoryview) -> bytes | memoryview:
    """A single chunk's data as the frame: itself when its bytes cannot change (bytes, or a
    read-only view: of a received message, or of the buffer the decrypt wrote and nothing else
    holds), else a copy that outlives a buffer the caller may reuse."""
    if isinstance(data, bytes) or data.readonly:
        return data
    return bytes(data)


def _sequence(reason: str) -> ProtocolError:
    return ProtocolError(CloseCode.CHUNK_SEQUENCE, reason)
