"""Per-device counters and a bounded ring of frame timelines, for stats, plots and export."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.records import Status
from app.protocol.timeline import FrameTimeline

RING_SIZE = 2048  # about 80 s at 25 fps: enough for plots, bounded per camera
RECENT_US = 10_000_000  # `recent_latency_ms` covers the frames of the last 10 s


class DeviceState(Enum):
    """What the app shows about a device. The receiver changes it only through DeviceStats's
    `went_live`, `was_rejected` and `went_offline`; CONNECTING is the window's own (a tile
    waiting for a first frame), never set by the receiver, since an unconfirmed handshake may
    be a replay."""

    OFFLINE = "offline"
    CONNECTING = "connecting"
    LIVE = "live"
    REJECTED = "rejected"


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence."""
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def latency_summary(values: Iterable[float]) -> dict[str, float | int | None]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    return {
        "count": len(ordered),
        "p50": round(percentile(ordered, 50), 3),
        "p95": round(percentile(ordered, 95), 3),
        "p99": round(percentile(ordered, 99), 3),
        "mean": round(sum(ordered) / len(ordered), 3),
        "max": round(ordered[-1], 3),
    }


@dataclass
class DeviceStats:
    """Everything the receiver knows about one device's stream; updated on the event loop."""

    device: str
    suite: Suite | None = None
    state: DeviceState = DeviceState.OFFLINE
    peer: str | None = None
    reason: str | None = None  # why it was last rejected or closed
    frames_received: int = 0
    frames_rejected: int = 0
    frames_dropped: int = 0
    # Connections that named this device but never proved its key: counted, never its state.
    failed_attempts: int = 0
    bytes: int = 0
    sessions: int = 0
    clock_offset_us: int | None = None
    clock_error_us: int | None = None
    status: Status | None = None
    timelines: deque[FrameTimeline] = field(
        default_factory=lambda: deque(maxlen=RING_SIZE), repr=False
    )

    @property
    def connected(self) -> bool:
        return self.state is DeviceState.LIVE

    # -- the only writers of `state` ---------------------------------------------------------

    def went_live(self, suite: Suite, peer: str) -> None:
        """A confirmed session of this device became the live one."""
        self.state, self.suite, self.peer, self.reason = DeviceState.LIVE, suite, peer, None
        self.sessions += 1

    def was_rejected(self, reason: str) -> None:
        """A session that had proved the key was closed for a violation."""
        self.state, self.reason = DeviceState.REJECTED, reason

    def went_offline(self) -> None:
        """The live session ended; a rejection stays shown until the next live session."""
        if self.state is DeviceState.LIVE:
            self.state = DeviceState.OFFLINE

    def add_frame(self, timeline: FrameTimeline) -> None:
        self.frames_received += 1
        self.bytes += timeline.size
        self.timelines.append(timeline)

    def fps(self, now_us: int, window_us: int = 2_000_000) -> float:
        """Frames received per second over the last `window_us`."""
        count = 0
        for timeline in reversed(self.timelines):
            if now_us - timeline.last_rx_us >= window_us:
                break
            count += 1
        return count * 1_000_000 / window_us

    def latencies_ms(self, suite: Suite | None = None, since_us: int | None = None) -> list[float]:
        """Capture-to-decrypted latency of the frames in the ring whose clock offset was known
        (of `suite` only, decrypted at or after `since_us` only, when given)."""
        out = []
        for timeline in self.timelines:
            if since_us is not None and timeline.decrypted_us < since_us:
                continue
            if suite is None or timeline.suite is suite:
                value = timeline.latency_ms(timeline.decrypted_us)
                if value is not None:
                    out.append(value)
        return out

    def snapshot(self, now_us: int) -> dict[str, object]:
        """A JSON-ready summary (the `--stats-json` per-device object)."""
        status = self.status
        return {
            "device": self.device,
            "suite": None if self.suite is None else self.suite.name.lower(),
            "state": self.state.value,
            "connected": self.connected,
            "peer": self.peer,
            "reason": self.reason,
            "sessions": self.sessions,
            "frames_received": self.frames_received,
            "frames_rejected": self.frames_rejected,
            "frames_dropped": self.frames_dropped,
            "failed_attempts": self.failed_attempts,
            "bytes": self.bytes,
            "fps": round(self.fps(now_us), 2),
            "latency_ms": latency_summary(self.latencies_ms()),
            "recent_latency_ms": latency_summary(self.latencies_ms(since_us=now_us - RECENT_US)),
            "clock_offset_us": self.clock_offset_us,
            "clock_error_us": self.clock_error_us,
            "resolution": None if status is None else f"{status.width}x{status.height}",
            # The settings the camera streams at, from its STATUS; fps_cap 255 is no cap.
            "frame_size": None if status is None else _frame_size_name(status.frame_size),
            "quality": None if status is None else status.quality,
            "fps_cap": None if status is None else status.fps_cap,
            "rssi_dbm": None if status is None else status.rssi_dbm,
            "free_heap": None if status is None else status.free_heap,
            # From the camera's STATUS when it reports them; None (null) means unknown, never 0.
            "camera_frames_dropped": None if status is None else status.frames_dropped,
            "stack_min_free": None if status is None else status.stack_min_free,
            "firmware": None if status is None else status.firmware,
        }


def _frame_size_name(code: int) -> str:
    """'vga' for a known code, else the number as text (a newer camera's size)."""
    try:
        return FrameSize(code).name.lower()
    except ValueError:
        return str(code)
