"""Fan-out of decrypted frames to viewers: latest-frame-wins per viewer, never a queue.

The hub is a receiver listener: `publish` runs on the event loop for every accepted frame and
only stores references (a frame's JPEG is shared, never copied or re-encoded). Each open
stream has its own one-frame-per-camera mailbox; a viewer that cannot keep up skips frames,
counted per stream and camera, and nobody else notices.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from app.protocol.clock import monotonic_us
from app.protocol.hello import Suite
from app.protocol.timeline import Frame
from app.receiver.delivery import LatestFrames
from app.receiver.stats import DeviceState, DeviceStats, percentile

_FPS_WINDOW_S = 2.0
_LATENCY_FRAMES = 50  # the latest frames a camera's shown latency is the median of


class StreamKind(Enum):
    PAGE = "page"  # the web page's WebSocket
    MJPEG = "mjpeg"  # a player's multipart stream


def wall_ms(app_us: int, now_app_us: int | None = None, now_wall: float | None = None) -> float:
    """An app-clock time (monotonic µs) as Unix time in milliseconds."""
    now_app_us = monotonic_us() if now_app_us is None else now_app_us
    now_wall = time.time() if now_wall is None else now_wall
    return now_wall * 1000.0 - (now_app_us - app_us) / 1000.0


@dataclass(eq=False)
class Stream:
    """One open stream: who watches which cameras, and what they were sent or skipped."""

    id: int
    kind: StreamKind
    viewer: str
    address: str
    generation: int
    session_id: str | None  # the page's session; None for a player token
    session_expires: float | None = None  # when that session ends (Unix time), unless refreshed
    # Unacknowledged frames allowed per camera (the page acknowledges each); None: no limit.
    window: int | None = None
    cameras: set[str] = field(default_factory=set)
    mailbox: LatestFrames = field(init=False)
    sent: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    unacked: Counter[str] = field(default_factory=Counter)
    last_progress: float = field(default_factory=time.monotonic)  # last send or acknowledgement
    writing_since: float | None = None  # when the write in progress started (monotonic)
    end_reason: str | None = None  # why the server ended it, once it did
    stopped: bool = False
    _sent_at: deque[float] = field(default_factory=lambda: deque(maxlen=256))
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.mailbox = LatestFrames(on_drop=self._count_drop, on_put=self._wake.set)

    def _has_room(self, camera: str) -> bool:
        return self.window is None or self.unacked[camera] < self.window

    async def next(self) -> Frame | None:
        """The oldest waiting frame of a camera with room in the window (waits for one);
        None once the stream is stopped."""
        while not self.stopped:
            frame = self.mailbox.take_first(self._has_room)
            if frame is not None:
                return frame
            self._wake.clear()  # no await since the check: nothing can have been missed
            await self._wake.wait()
        return None

    def stop(self, reason: str) -> None:
        """End the stream (the first reason given is kept); `next` returns None from now on."""
        if self.end_reason is None:
            self.end_reason = reason
        self.stopped = True
        self._wake.set()

    def blocked(self) -> bool:
        """Frames are waiting, but every one is for a camera whose window is full."""
        waiting = self.mailbox.waiting()
        return bool(waiting) and not any(self._has_room(camera) for camera in waiting)

    def acked(self, camera: str) -> None:
        """The viewer acknowledged a frame of `camera`."""
        if self.unacked[camera] > 0:
            self.unacked[camera] -= 1
            self.last_progress = time.monotonic()
            self._wake.set()

    def _count_drop(self, camera: str) -> None:
        self.dropped[camera] += 1

    def skipped(self, frame: Frame) -> None:
        """The frame was taken but not sent (the viewer's buffer was full)."""
        self.dropped[frame.device] += 1

    def delivered(self, frame: Frame) -> None:
        self.sent[frame.device] += 1
        self.last_progress = time.monotonic()
        self._sent_at.append(self.last_progress)
        if self.window is not None:
            self.unacked[frame.device] += 1

    def fps(self, now: float | None = None) -> float:
        """Frames sent per second over the last 2 s, all cameras together."""
        now = time.monotonic() if now is None else now
        recent = sum(1 for sent in self._sent_at if now - sent < _FPS_WINDOW_S)
        return recent / _FPS_WINDOW_S


@dataclass(frozen=True, slots=True)
class CameraView:
    """What a viewer is told about one camera."""

    name: str
    state: DeviceState
    suite: Suite | None
    fps: float
    width: int | None
    height: int | None
    latency_ms: float | None
    viewers: int

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "state": self.state.value,
            "suite": None if self.suite is None else self.suite.name.lower(),
            "encrypted": self.suite is Suite.NOISE,
            "fps": round(self.fps, 2),
            "width": self.width,
            "height": self.height,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "viewers": self.viewers,
        }


class ShareHub:
    """The latest frame of every camera, and every open stream's mailbox.

    `stats` gives the receiver's per-device stats (or None before any), `known` the names
    of the cameras that exist (registered, demo, or seen); both are read on demand, so the
    hub follows a receiver restart without being told.
    """

    def __init__(
        self,
        stats: Callable[[str], DeviceStats | None],
        known: Callable[[], Iterable[str]],
    ) -> None:
        self._stats = stats
        self._known = known
        self._latest: dict[str, Frame] = {}
        self._streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self.frames_published = 0

    # -- frames in ---------------------------------------------------------------------------

    def publish(self, frame: Frame) -> None:
        """A camera's frame, decrypted: keep it for snapshots and offer it to its watchers."""
        self.frames_published += 1
        self._latest[frame.device] = frame
        for stream in self._streams.values():
            if frame.device in stream.cameras:
                stream.mailbox.put(frame)

    def latest(self, camera: str) -> Frame | None:
        return self._latest.get(camera)

    # -- streams -----------------------------------------------------------------------------

    def open(
        self,
        kind: StreamKind,
        viewer: str,
        address: str,
        generation: int,
        session_id: str | None = None,
        session_expires: float | None = None,
        window: int | None = None,
    ) -> Stream:
        stream = Stream(
            next(self._ids), kind, viewer, address, generation, session_id, session_expires, window
        )
        self._streams[stream.id] = stream
        return stream

    def subscribe(self, stream: Stream, cameras: Iterable[str]) -> None:
        """Replace the stream's cameras; each new one starts with its latest frame, if any."""
        wanted = set(cameras)
        for camera in wanted - stream.cameras:
            frame = self._latest.get(camera)
            if frame is not None:
                stream.mailbox.put(frame)
        for camera in stream.cameras - wanted:
            stream.unacked.pop(camera, None)  # a camera watched again starts afresh
        stream.cameras = wanted
        for camera in list(stream.mailbox.waiting()):
            if camera not in wanted:
                stream.mailbox.discard(camera)

    def close(self, stream: Stream) -> None:
        self._streams.pop(stream.id, None)

    def streams(self) -> list[Stream]:
        return list(self._streams.values())

    def streams_of(self, viewer: str) -> list[Stream]:
        return [stream for stream in self._streams.values() if stream.viewer == viewer]

    def watchers(self, camera: str) -> int:
        """How many open streams include `camera`."""
        return sum(1 for stream in self._streams.values() if camera in stream.cameras)

    # -- camera state ------------------------------------------------------------------------

    def cameras(self) -> list[str]:
        """Every camera that exists now, sorted."""
        return sorted(set(self._known()))

    def view(self, camera: str, now_us: int | None = None) -> CameraView:
        now_us = monotonic_us() if now_us is None else now_us
        stats = self._stats(camera)
        if stats is None:
            return CameraView(camera, DeviceState.OFFLINE, None, 0.0, None, None, None, 0)
        status = stats.status
        latencies = sorted(
            value
            for timeline in itertools.islice(reversed(stats.timelines), _LATENCY_FRAMES)
            if (value := timeline.latency_ms(timeline.decrypted_us)) is not None
        )
        return CameraView(
            name=camera,
            state=stats.state,
            suite=stats.suite,
            fps=stats.fps(now_us) if stats.connected else 0.0,
            width=None if status is None else status.width,
            height=None if status is None else status.height,
            latency_ms=percentile(latencies, 50) if latencies else None,
            viewers=self.watchers(camera),
        )
