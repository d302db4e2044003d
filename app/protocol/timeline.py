"""A frame's timeline from device capture to pixels on screen, and the frame itself.

`FrameTimeline` is also the one home of the latency arithmetic: the per-stage durations
(`stage_ms`, `device_ms` … `paint_ms`) and the capture-to-X latencies (`latency_to`,
`to_decrypted_ms` …). The plots, the CSV export, comparison runs and the benches read these
instead of subtracting stamps themselves. Durations are milliseconds (float); None where a stamp
they need is missing (not decoded or painted yet, or the clock offset still unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from app.protocol.hello import Suite


class Stage(Enum):
    """The steps of a frame's journey, in pipeline order; their durations sum to capture→painted.

    The values are the stable names used in files (CSV columns `<value>_ms`).
    """

    DEVICE = "device"  # capture → send, on the camera's clock
    NETWORK = "network"  # send → last byte received (needs the clock offset)
    DECRYPT = "decrypt"  # last byte → decrypted (reassembly and decryption)
    DECODE = "decode"  # decrypted → decoded (JPEG)
    PAINT = "paint"  # decoded → painted on screen


class Mark(Enum):
    """App-clock stamps a capture-to-X latency can end at; values are their stable names."""

    DECRYPTED = "decrypted"
    DECODED = "decoded"
    PAINTED = "painted"


def _ms(start_us: int | None, end_us: int | None) -> float | None:
    return None if start_us is None or end_us is None else (end_us - start_us) / 1000.0


@dataclass(slots=True)
class FrameTimeline:
    """Timestamps in microseconds; device_* on the camera's clock, the rest on the app's.

    `clock_offset_us` is device clock minus app clock at the time of the frame, or None while
    the offset is still unknown (then device times cannot be placed on the app's clock).
    `clock_error_us` bounds that offset's error (RTT/2), so a latency may read up to that
    much below its true value, even negative on a fast link.
    """

    device: str
    suite: Suite
    seq: int
    size: int
    device_capture_us: int
    device_send_us: int
    first_rx_us: int
    last_rx_us: int
    decrypted_us: int
    clock_offset_us: int | None = None
    clock_error_us: int | None = None
    decoded_us: int | None = None
    painted_us: int | None = None

    # -- device times on the app's clock -----------------------------------------------------

    @property
    def capture_us(self) -> int | None:
        """Capture time on the app's clock."""
        if self.clock_offset_us is None:
            return None
        return self.device_capture_us - self.clock_offset_us

    @property
    def sent_us(self) -> int | None:
        """Send time on the app's clock."""
        if self.clock_offset_us is None:
            return None
        return self.device_send_us - self.clock_offset_us

    # -- stages ------------------------------------------------------------------------------

    @property
    def device_ms(self) -> float:
        """Capture → send on the camera (its own clock: known without the offset)."""
        return (self.device_send_us - self.device_capture_us) / 1000.0

    @property
    def network_ms(self) -> float | None:
        """Send → last byte received."""
        return _ms(self.sent_us, self.last_rx_us)

    @property
    def decrypt_ms(self) -> float:
        """Last byte received → decrypted."""
        return (self.decrypted_us - self.last_rx_us) / 1000.0

    @property
    def decode_ms(self) -> float | None:
        """Decrypted → decoded."""
        return _ms(self.decrypted_us, self.decoded_us)

    @property
    def paint_ms(self) -> float | None:
        """Decoded → painted."""
        return _ms(self.decoded_us, self.painted_us)

    def stage_ms(self, stage: Stage) -> float | None:
        """The duration of one `stage` (see the properties of the same names)."""
        if stage is Stage.DEVICE:
            return self.device_ms
        if stage is Stage.NETWORK:
            return self.network_ms
        if stage is Stage.DECRYPT:
            return self.decrypt_ms
        if stage is Stage.DECODE:
            return self.decode_ms
        return self.paint_ms

    def stages_ms(self) -> dict[Stage, float | None]:
        """Every stage's duration, in pipeline order; they sum to `to_painted_ms` when known."""
        return {stage: self.stage_ms(stage) for stage in Stage}

    # The first byte splits network + decrypt differently (what the benches report).

    @property
    def transit_ms(self) -> float | None:
        """Send → first byte received."""
        return _ms(self.sent_us, self.first_rx_us)

    @property
    def receive_ms(self) -> float:
        """First byte received → decrypted (the rest of the transfer, reassembly, decryption)."""
        return (self.decrypted_us - self.first_rx_us) / 1000.0

    # -- capture → X -------------------------------------------------------------------------

    def latency_ms(self, end_us: int | None) -> float | None:
        """Milliseconds from capture to `end_us` (e.g. `decrypted_us`), if both are known."""
        return _ms(self.capture_us, end_us)

    def mark_us(self, mark: Mark) -> int | None:
        """The app-clock stamp of `mark`, if it happened."""
        if mark is Mark.DECRYPTED:
            return self.decrypted_us
        if mark is Mark.DECODED:
            return self.decoded_us
        return self.painted_us

    def latency_to(self, mark: Mark) -> float | None:
        """Capture → `mark`, in milliseconds."""
        return self.latency_ms(self.mark_us(mark))

    @property
    def to_decrypted_ms(self) -> float | None:
        return self.latency_ms(self.decrypted_us)

    @property
    def to_decoded_ms(self) -> float | None:
        return self.latency_ms(self.decoded_us)

    @property
    def to_painted_ms(self) -> float | None:
        return self.latency_ms(self.painted_us)

    @property
    def to_shown_ms(self) -> float | None:
        """Capture → painted once painted, capture → decrypted until then (a tile's figure)."""
        return self.latency_ms(self.decrypted_us if self.painted_us is None else self.painted_us)


@dataclass(slots=True)
class Frame:
    """One complete JPEG as the camera sent it, with its timeline.

    `jpeg` is a read-only memoryview when the frame came in one chunk (a slice of the buffer
    the decrypt wrote, or of the plain message: the frame is never copied), bytes when its
    chunks were joined. Both are buffers with the same length, slices and equality; take
    `bytes()` first where a method of bytes, a hash or an order is needed (a view of a
    bytearray has none of these).
    """

    device: str
    seq: int
    jpeg: bytes | memoryview = field(repr=False)
    timeline: FrameTimeline
    session_id: int = 0  # unique per receiver session within this process; 0 outside one
