"""A frame's timeline from device capture to pixels on screen, and the frame itself."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class FrameTimeline:
    """Timestamps in microseconds; device_* on the camera's clock, the rest on the app's.

    `clock_offset_us` is device clock minus app clock at the time of the frame, or None while
    the offset is still unknown (then device times cannot be placed on the app's clock).
    `clock_error_us` bounds that offset's error (RTT/2), so a latency may read up to that
    much below its true value, even negative on a fast link.
    """

    device: str
    suite: str
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

    def latency_ms(self, end_us: int | None) -> float | None:
        """Milliseconds from capture to `end_us` (e.g. `decrypted_us`), if both are known."""
        capture = self.capture_us
        if capture is None or end_us is None:
            return None
        return (end_us - capture) / 1000.0


@dataclass(slots=True)
class Frame:
    """One complete JPEG as the camera sent it, with its timeline."""

    device: str
    seq: int
    jpeg: bytes = field(repr=False)
    timeline: FrameTimeline
    session_id: int = 0  # unique per receiver session within this process; 0 outside one
