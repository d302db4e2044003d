"""Adaptive quality for one camera: step its settings down when the link cannot carry them and
back up when it can. Sans-I/O: STATUS records, frame timelines and the time go in; the CONTROL
to send (with why) comes out.

The ladder runs from the camera's own settings (its *ceiling*: what it streamed when first
seen, or what the user pinned) down: JPEG quality to 20, then smaller frames, 4:3 only, then
the worst quality at the smallest size, then lower frame rates. Each level's cost is predicted
from the size model of docs/JPEG-BUFFER.md (pixels × (12/q)^0.75), scaled by what this camera's
frames actually weigh.

What the link carries is measured per frame: bytes over the time from the camera's send to
the last byte here (`FrameTimeline.network_ms`) less the one-way delay (half the best ping
round trip of the session), over the last window. A level fits
when its frames keep the link busy at most `FIT_BUSY` of the time and each crosses within
`FIT_FRAME_S`. The window is judged every tick:
- *congested* (capture → decrypted p95 above `LATENCY_HIGH_MS`, or the link busy above
  `BUSY_HIGH`, or the camera reports dropped frames): go at once to the best level that fits,
  at least one level down (reported drops count when over `DROPS_HIGH` of the frames);
- *calm* (p95 under `LATENCY_CALM_MS` and the link busy at most `FIT_BUSY`) for `UP_AFTER_S`:
  go up to the best level that fits, at most `UP_MAX_GAIN` times the cost, never to a level
  blocked by a failed probe.

Hysteresis: after a change only frames captured under the new settings are judged, from
`SETTLE_S` after the camera confirmed them in STATUS. A level left for congestion within
`PROBE_GRACE_S` of being stepped up to is blocked for `BLOCK_FIRST_S`, doubled on each
failure up to `BLOCK_MAX_S`, so a link at the edge of a level does not make it oscillate.
Pinned settings are never changed; with all three pinned there is nothing to adapt.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from enum import Enum

from app.protocol.framesize import (
    JPEG_QUALITY_MAX,
    JPEG_QUALITY_MIN,
    QUALITY_SLOPE,
    FrameSize,
)
from app.protocol.records import NO_FPS_CAP, Control, Status
from app.protocol.timeline import FrameTimeline
from app.receiver.stats import percentile

WINDOW_S = 2.0
SETTLE_S = 0.5
CONFIRM_TIMEOUT_S = 3.0  # a camera that does not confirm a change in STATUS is judged anyway
LATENCY_HIGH_MS = 150.0
LATENCY_CALM_MS = 90.0
BUSY_HIGH = 0.85
FIT_BUSY = 0.6
FIT_FRAME_S = 0.1
UP_AFTER_S = 3.0
UP_MAX_GAIN = 3.0
PROBE_GRACE_S = 8.0
BLOCK_FIRST_S = 15.0
BLOCK_MAX_S = 120.0
MIN_FRAMES = 4
DROPS_HIGH = 0.05  # of the frames captured between two STATUS records
KEEP_S = 2 * WINDOW_S  # samples older than this are dropped as frames arrive
QUALITY_STEP = 20  # the quality number tried at each size before a smaller size
QUALITY_WORST = 30  # at the smallest size only
SIZES = (
    FrameSize.UXGA,
    FrameSize.SXGA,
    FrameSize.XGA,
    FrameSize.SVGA,
    FrameSize.VGA,
    FrameSize.CIF,
    FrameSize.QVGA,
)
FPS_STEPS = (15, 10, 5, 2)


class Move(Enum):
    DOWN = "down"
    UP = "up"
    RESTORE = "restore"  # back to the ceiling: adaptation turned off, or pins changed


@dataclass(frozen=True, slots=True)
class Setting:
    frame_size: FrameSize
    quality: int  # esp32-camera's scale: 4 (best) .. 63
    fps_cap: int  # 1..254, or NO_FPS_CAP

    @classmethod
    def of(cls, status: Status) -> Setting | None:
        """The settings a STATUS reports; None when any is outside what a camera can be asked
        for (a size this app cannot name, a quality outside 4..63, an fps cap of 0): such a
        camera is left alone."""
        if not JPEG_QUALITY_MIN <= status.quality <= JPEG_QUALITY_MAX or status.fps_cap < 1:
            return None
        try:
            return cls(FrameSize(status.frame_size), status.quality, status.fps_cap)
        except ValueError:
            return None

    @property
    def fps(self) -> float:
        return 25.0 if self.fps_cap == NO_FPS_CAP else float(self.fps_cap)

    def cost(self) -> float:
        """Relative bytes per second: pixels × (12/q)^0.75 × frames per second."""
        return float(self.frame_size.pixels * (12 / self.quality) ** QUALITY_SLOPE * self.fps)

    def control(self) -> Control:
        return Control(self.frame_size, self.quality, self.fps_cap)

    def describe(self) -> str:
        fps = "uncapped" if self.fps_cap == NO_FPS_CAP else f"{self.fps_cap} fps"
        return f"{self.frame_size.name} q{self.quality} {fps}"


@dataclass(frozen=True, slots=True)
class Pins:
    """Settings the user fixed; None leaves that one to adaptation."""

    frame_size: FrameSize | None = None
    quality: int | None = None
    fps_cap: int | None = None

    def apply(self, setting: Setting) -> Setting:
        return Setting(
            self.frame_size or setting.frame_size,
            self.quality or setting.quality,
            self.fps_cap or setting.fps_cap,
        )

    @property
    def all_pinned(self) -> bool:
        return None not in (self.frame_size, self.quality, self.fps_cap)


@dataclass(frozen=True, slots=True)
class Decision:
    setting: Setting
    move: Move
    reason: str

    @property
    def control(self) -> Control:
        return self.setting.control()


@dataclass(frozen=True, slots=True)
class WindowView:
    """What the last window showed."""

    frames: int
    p95_ms: float | None
    busy: float  # fraction of the window the link spent carrying frames
    carried_bps: float | None  # bytes/s while the link carried frames: its capacity, seen
    fps: float

    def describe(self) -> str:
        p95 = "?" if self.p95_ms is None else f"{self.p95_ms:.0f} ms"
        carried = "?" if self.carried_bps is None else f"{self.carried_bps * 8 / 1e6:.2f} Mbit/s"
        return f"p95 {p95}, link busy {self.busy:.0%}, carries {carried}, {self.fps:.1f} fps"


def ladder(ceiling: Setting, pins: Pins) -> list[Setting]:
    """The levels from `ceiling` down, each cheaper than the one before."""
    top = pins.apply(ceiling)
    sizes = [top.frame_size] if pins.frame_size else _sizes_from(top.frame_size)
    levels: list[Setting] = []
    for size in sizes:
        qualities = [top.quality]
        if pins.quality is None and top.quality < QUALITY_STEP:
            qualities.append(QUALITY_STEP)
        levels += [Setting(size, q, top.fps_cap) for q in qualities]
    last = levels[-1]
    if pins.quality is None and last.quality < QUALITY_WORST:
        levels.append(replace(last, quality=QUALITY_WORST))
    if pins.fps_cap is None:
        last = levels[-1]
        levels += [replace(last, fps_cap=f) for f in FPS_STEPS if f < last.fps]
    out: list[Setting] = []
    for level in levels:
        if not out or level.cost() < out[-1].cost():
            out.append(level)
    return out


def _sizes_from(size: FrameSize) -> list[FrameSize]:
    smaller = [s for s in SIZES if s.pixels < size.pixels]
    return [size, *smaller]


@dataclass(slots=True)
class _Sample:
    at_s: float  # when it was decrypted, app clock
    captured_s: float  # app clock
    latency_ms: float
    network_s: float
    size: int


class QualityController:
    """One camera's adaptation. Call `status`, `frame` and `tick` with the app's clock in s."""

    def __init__(self, device: str, pins: Pins | None = None, enabled: bool = True) -> None:
        self.device = device
        self.pins = pins or Pins()
        self.enabled = enabled
        self.ceiling: Setting | None = None  # the camera's own settings, as first seen
        self.current: Setting | None = None  # what its last STATUS said it streams
        self._target: Setting | None = None  # what was last asked for, until confirmed
        self._asked_at = 0.0
        self._judge_from = math.inf  # frames decrypted before this are not judged
        self._calm_since: float | None = None
        self._samples: deque[_Sample] = deque()  # the last KEEP_S of frames
        self._delay_ms = math.inf  # the session's smallest half round trip
        self._scale: float | None = None  # bytes per unit of Setting.cost() / fps
        self._dropped: int | None = None  # the camera's frames_dropped at the last STATUS
        self._new_drops = 0  # drops the camera reported beyond DROPS_HIGH, since the change
        self._status_at = 0.0
        self._frames_since_status = 0
        self._current_since = 0.0  # when STATUS first showed the current settings
        self._last_up: tuple[float, Setting] | None = None
        self._blocked: dict[Setting, float] = {}  # level -> until
        self._block_s = BLOCK_FIRST_S
        self.last_view: WindowView | None = None

    # -- what is known -----------------------------------------------------------------------

    @property
    def adapted(self) -> bool:
        """The camera streams other settings than its ceiling because of this controller."""
        top = self._top()
        return top is not None and self.current is not None and self.current != top

    def levels(self) -> list[Setting]:
        return [] if self.ceiling is None else ladder(self.ceiling, self.pins)

    # -- inputs ------------------------------------------------------------------------------

    def session_started(self, now_s: float) -> None:
        """A new session: its first frames (slow start, clock sync) are not judged."""
        self._samples.clear()
        self._delay_ms = math.inf
        self._target = None
        self._dropped = None
        self._new_drops = 0
        self._calm_since = None
        self._judge_from = now_s + SETTLE_S

    def status(self, status: Status, now_s: float) -> None:
        setting = Setting.of(status)
        if setting is None:
            return
        if self.ceiling is None:
            self.ceiling = setting
        if status.frames_dropped is not None:
            # Drops since a STATUS sent before the settle point may be the previous
            # settings' (a large frame still going out when they changed).
            judged = setting == self.current and self._status_at >= self._judge_from
            if self._dropped is not None and judged:
                dropped = (status.frames_dropped - self._dropped) % 2**32
                # A stray drop (a pause on either machine) is not the link's doing.
                if dropped > DROPS_HIGH * (dropped + self._frames_since_status):
                    self._new_drops += dropped
            self._dropped = status.frames_dropped
        self._status_at = now_s
        self._frames_since_status = 0
        if setting != self.current:
            self.current = setting
            self._current_since = now_s
            self._judge_from = max(self._judge_from, now_s + SETTLE_S)
            self._calm_since = None
            self._new_drops = 0
        if self._target is not None and setting == self._target:
            self._target = None

    def frame(self, timeline: FrameTimeline, now_s: float) -> None:
        self._frames_since_status += 1
        latency = timeline.latency_ms(timeline.decrypted_us)
        network = timeline.network_ms
        captured = timeline.capture_us
        if latency is None or network is None or captured is None:
            return  # the clock offset is not known yet
        # Less the one-way delay (half the session's best ping round trip: later ones may
        # have waited behind frames): what is left is the time the link carried the bytes.
        if timeline.clock_error_us is not None:
            self._delay_ms = min(self._delay_ms, timeline.clock_error_us / 1000)
        carrying = network - (0.0 if math.isinf(self._delay_ms) else self._delay_ms)
        sample = _Sample(now_s, captured / 1e6, latency, max(carrying, 0.1) / 1000, timeline.size)
        self._samples.append(sample)
        while self._samples[0].at_s < now_s - KEEP_S:
            self._samples.popleft()
        if self.current is not None and sample.captured_s >= self._current_since:
            weight = timeline.size / (self.current.cost() / self.current.fps)
            self._scale = weight if self._scale is None else 0.8 * self._scale + 0.2 * weight

    # -- decisions ---------------------------------------------------------------------------

    def set_enabled(self, enabled: bool, now_s: float) -> Decision | None:
        """Turn adaptation on or off; off restores the ceiling."""
        self.enabled = enabled
        return None if enabled else self.restore(now_s, "adaptation turned off")

    def set_pins(self, pins: Pins, now_s: float) -> Decision | None:
        """New pins take effect at once (the user's settings win)."""
        self.pins = pins
        self._blocked.clear()
        return self.restore(now_s, "pinned settings changed")

    def pinned_differs(self, now_s: float) -> Decision | None:
        """On a new session: the pinned settings, if the camera streams other ones."""
        if self.current is None or self.pins == Pins():
            return None
        wanted = self.pins.apply(self.current)
        if wanted == self.current:
            return None
        return self._ask(wanted, Move.RESTORE, "pinned settings", now_s)

    def tick(self, now_s: float) -> Decision | None:
        """Judge the last window; the change to make, if any."""
        if not self.enabled or self.current is None or self.ceiling is None:
            return None
        if self._target is not None and now_s - self._asked_at < CONFIRM_TIMEOUT_S:
            return None  # the camera has not confirmed the last change yet
        levels = self.levels()
        if len(levels) < 2 or now_s < self._judge_from:
            return None
        view = self._view(now_s)
        self.last_view = view
        if view is None:
            return None
        index = _index_of(self.current, levels)
        if self._congested(view):
            self._calm_since = None
            return self._step_down(levels, index, view, now_s)
        if not self._calm(view):
            self._calm_since = None
            return None
        if self._calm_since is None:
            self._calm_since = now_s
        if now_s - self._calm_since < UP_AFTER_S or index == 0:
            return None
        return self._step_up(levels, index, view, now_s)

    def _view(self, now_s: float) -> WindowView | None:
        start = max(now_s - WINDOW_S, self._judge_from)
        span = now_s - start
        # Only frames captured under the current settings: those still in flight from the
        # previous ones say nothing about them.
        window = [
            s for s in self._samples if s.at_s >= start and s.captured_s >= self._current_since
        ]
        if len(window) < MIN_FRAMES and not (window and span >= WINDOW_S):
            # Too few frames to judge, unless a whole window passed: then few is the news.
            if not window and now_s - self._judge_from >= 2 * WINDOW_S:
                return WindowView(0, None, 1.0, None, 0.0)  # nothing got through at all
            return None
        latencies = sorted(s.latency_ms for s in window)
        busy = min(1.0, sum(s.network_s for s in window) / max(span, 1e-3))
        # All the window's bytes over all its carrying time: one frame whose delay the
        # jitter hid (carrying time near zero) cannot make the link look fast.
        carried = sum(s.size for s in window) / sum(s.network_s for s in window)
        return WindowView(
            len(window), percentile(latencies, 95), busy, carried, len(window) / max(span, 1e-3)
        )

    def _congested(self, view: WindowView) -> bool:
        slow = view.p95_ms is None or view.p95_ms > LATENCY_HIGH_MS
        return slow or view.busy > BUSY_HIGH or self._new_drops > 0

    def _calm(self, view: WindowView) -> bool:
        return (
            view.p95_ms is not None
            and view.p95_ms < LATENCY_CALM_MS
            and view.busy <= FIT_BUSY
            and self._new_drops == 0
        )

    def _fits(self, level: Setting, carried_bps: float | None) -> bool:
        if carried_bps is None or self._scale is None:
            return False
        frame_bytes = self._scale * level.cost() / level.fps
        return (
            frame_bytes * level.fps <= FIT_BUSY * carried_bps
            and frame_bytes <= FIT_FRAME_S * carried_bps
        )

    def _step_down(
        self, levels: list[Setting], index: int, view: WindowView, now_s: float
    ) -> Decision | None:
        if index >= len(levels) - 1:
            return None  # nothing lower to go to
        below = levels[index + 1 :]
        target = next((lv for lv in below if self._fits(lv, view.carried_bps)), None)
        if target is None:
            # Nothing is known to fit: a quarter of the cost, or the bottom.
            budget = levels[index].cost() / 4
            target = next((lv for lv in below if lv.cost() <= budget), levels[-1])
        if self._last_up is not None and now_s - self._last_up[0] <= PROBE_GRACE_S:
            self._blocked[self._last_up[1]] = now_s + self._block_s
            self._block_s = min(self._block_s * 2, BLOCK_MAX_S)
        self._last_up = None
        return self._ask(target, Move.DOWN, view.describe(), now_s)

    def _step_up(
        self, levels: list[Setting], index: int, view: WindowView, now_s: float
    ) -> Decision | None:
        cost = levels[index].cost()
        for level in levels[:index]:
            if level.cost() > cost * UP_MAX_GAIN or self._blocked.get(level, 0.0) > now_s:
                continue
            if self._fits(level, view.carried_bps):
                self._last_up = (now_s, level)
                return self._ask(level, Move.UP, view.describe(), now_s)
        return None

    def restore(self, now_s: float, reason: str) -> Decision | None:
        """Back to the ceiling (pins applied), if the camera streams anything else."""
        top = self._top()
        if top is None or top == self.current:
            return None
        return self._ask(top, Move.RESTORE, reason, now_s)

    def _top(self) -> Setting | None:
        return None if self.ceiling is None else self.pins.apply(self.ceiling)

    def _ask(self, setting: Setting, move: Move, reason: str, now_s: float) -> Decision:
        self._target = setting
        self._asked_at = now_s
        self._calm_since = None
        self._judge_from = max(self._judge_from, now_s + SETTLE_S)
        return Decision(setting, move, reason)


def _index_of(setting: Setting, levels: list[Setting]) -> int:
    """The ladder position of `setting`, or of the first level no costlier than it."""
    if setting in levels:
        return levels.index(setting)
    cost = setting.cost()
    return next((i for i, level in enumerate(levels) if level.cost() <= cost), len(levels) - 1)
