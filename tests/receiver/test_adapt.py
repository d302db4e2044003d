"""The adaptive-quality controller against a model link, in model time (deterministic).

The model is the firmware's behaviour: frames captured at the fps cap, one frame on the link
at a time, the newest captured frame sent when the link frees (older ones dropped and counted),
STATUS every 5 s and after each CONTROL. JPEG bytes per frame follow the simulator's measured
sizes (its noise scene: VGA q12 about 40 KB). The real link is tested in test_adapt_link.py.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.records import Control, Status
from app.protocol.timeline import FrameTimeline
from app.receiver.adapt import (
    Decision,
    Move,
    Pins,
    QualityController,
    Setting,
    ladder,
)
from app.receiver.stats import percentile

TICK_S = 0.25
STEP_S = 0.001


def frame_bytes(setting: Setting) -> int:
    """The simulator's scene: 0.13 B/px at q12, scaled by (12/q)^0.5 (its measured slope)."""
    return int(setting.frame_size.pixels * 0.13 * (12 / setting.quality) ** 0.5)


@dataclass
class ModelCamera:
    """A camera behind a link of `rate_bps` bytes/s and `delay_s` one way, in model time."""

    setting: Setting
    rate_bps: float
    delay_s: float = 0.002
    frames_dropped: int = 0
    seq: int = 0
    link_free_at: float = 0.0
    next_capture: float = 0.0
    pending: float | None = None  # capture time of the newest frame waiting for the link
    next_status: float = 0.0
    controls: list[tuple[float, Control]] = field(default_factory=list)
    arrivals: list[tuple[float, FrameTimeline]] = field(default_factory=list)
    statuses: list[tuple[float, Status]] = field(default_factory=list)

    def status(self) -> Status:
        s = self.setting
        return Status(
            -50, s.frame_size, s.quality, s.fps_cap, s.frame_size.width, s.frame_size.height,
            100_000, 0, 1, "model", frames_dropped=self.frames_dropped, stack_min_free=None,
        )  # fmt: skip

    def advance(self, now: float) -> None:
        """Everything the camera does up to `now`."""
        for at, control in [c for c in self.controls if c[0] <= now]:
            self.controls.remove((at, control))
            self.setting = Setting(
                FrameSize(control.frame_size or self.setting.frame_size),
                control.quality or self.setting.quality,
                control.fps_cap or self.setting.fps_cap,
            )
            self.statuses.append((at + self.delay_s, self.status()))
        while self.next_capture <= now:
            if self.pending is not None:
                self.frames_dropped += 1  # replaced by a newer capture before it could go
            self.pending = self.next_capture
            self.next_capture += 1 / self.setting.fps
        if self.pending is not None and self.link_free_at <= now:
            self._send(max(self.pending, self.link_free_at))
        if now >= self.next_status:
            self.statuses.append((now + self.delay_s, self.status()))
            self.next_status = now + 5.0

    def _send(self, start: float) -> None:
        assert self.pending is not None
        size = frame_bytes(self.setting)
        self.seq += 1
        done = start + size / self.rate_bps
        self.link_free_at = done
        arrival = done + self.delay_s
        us = 1_000_000
        timeline = FrameTimeline(
            "cam", Suite.NOISE, self.seq, size, int(self.pending * us), int(start * us),
            int(arrival * us), int(arrival * us), int(arrival * us), 0, int(self.delay_s * us),
        )  # fmt: skip
        self.arrivals.append((arrival, timeline))
        self.pending = None


@dataclass
class Run:
    camera: ModelCamera
    controller: QualityController
    decisions: list[tuple[float, Decision]] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (arrival, ms)
    now: float = 0.0

    def until(self, end: float) -> None:
        next_tick = self.now + TICK_S
        while self.now < end:
            self.now = min(end, self.now + STEP_S)
            self.camera.advance(self.now)
            for at, status in [s for s in self.camera.statuses if s[0] <= self.now]:
                self.camera.statuses.remove((at, status))
                self.controller.status(status, at)
            for at, timeline in [a for a in self.camera.arrivals if a[0] <= self.now]:
                self.camera.arrivals.remove((at, timeline))
                self.controller.frame(timeline, at)
                latency = timeline.latency_ms(timeline.decrypted_us)
                assert latency is not None
                self.latencies.append((at, latency))
            if self.now >= next_tick:
                next_tick += TICK_S
                decision = self.controller.tick(self.now)
                if decision is not None:
                    self.decisions.append((self.now, decision))
                    self.camera.controls.append((self.now + self.camera.delay_s, decision.control))

    def p95_between(self, start: float, end: float) -> float:
        values = sorted(ms for at, ms in self.latencies if start <= at < end)
        return percentile(values, 95)


def start(setting: Setting, rate_mbit: float, pins: Pins | None = None) -> Run:
    camera = ModelCamera(setting, rate_mbit * 1e6 / 8)
    controller = QualityController("cam", pins)
    controller.session_started(0.0)
    return Run(camera, controller)


UXGA_25 = Setting(FrameSize.UXGA, 17, 25)  # the quality floor raises 12 to 17 at UXGA
VGA_25 = Setting(FrameSize.VGA, 12, 25)


def test_the_ladder_starts_at_the_ceiling_and_every_level_costs_less_than_the_one_above():
    levels = ladder(UXGA_25, Pins())
    assert levels[0] == UXGA_25
    assert all(b.cost() < a.cost() for a, b in itertools.pairwise(levels))
    assert levels[-1].frame_size is FrameSize.QVGA and levels[-1].fps_cap < 25


def test_pinned_settings_are_the_same_on_every_level():
    levels = ladder(UXGA_25, Pins(frame_size=FrameSize.SVGA, fps_cap=10))
    assert {(lv.frame_size, lv.fps_cap) for lv in levels} == {(FrameSize.SVGA, 10)}
    assert [lv.quality for lv in levels] == [17, 20, 30]
    assert ladder(UXGA_25, Pins(FrameSize.VGA, 12, 25)) == [VGA_25]


def test_a_uxga_camera_behind_2_mbit_converges_within_10_s_to_fast_frames_without_drops():
    run = start(UXGA_25, 2)
    run.until(10.0)
    assert run.decisions and run.decisions[0][1].move is Move.DOWN
    settled = run.camera.setting
    dropped = run.camera.frames_dropped
    run.until(20.0)
    assert run.camera.setting == settled  # converged: nothing changed after 10 s
    assert run.camera.frames_dropped == dropped  # and nothing dropped since
    assert run.p95_between(10.0, 20.0) < 200


def test_after_the_link_recovers_it_climbs_back_within_30_s_to_the_best_level_that_fits():
    run = start(UXGA_25, 2)
    run.until(20.0)
    low = run.camera.setting
    run.camera.rate_bps = 30e6 / 8
    run.until(50.0)
    climbed = run.camera.setting
    assert climbed.cost() > 10 * low.cost()
    # The best that fits: at 30 Mbit/s the next level up would keep the link busier than
    # the controller allows (60 %), the level reached does not.
    levels = ladder(UXGA_25, Pins())
    index = levels.index(climbed)
    assert frame_bytes(climbed) * climbed.fps <= 0.6 * 30e6 / 8
    assert index == 0 or frame_bytes(levels[index - 1]) * levels[index - 1].fps > 0.6 * 30e6 / 8
    assert run.p95_between(40.0, 50.0) < 200


def test_a_vga_camera_on_30_mbit_is_never_stepped_down():
    run = start(VGA_25, 30)
    run.until(60.0)
    assert run.decisions == []
    assert run.controller.adapted is False


def test_a_link_at_the_edge_of_a_level_does_not_make_the_settings_oscillate():
    # A link swinging between 10 and 6 Mbit/s every 2 s: VGA at 25 fps fits the best of it.
    run = start(VGA_25, 10)
    for step in range(60):
        run.camera.rate_bps = (10e6 if step % 2 else 6e6) / 8
        run.until(2.0 * (step + 1))
    probes = [at for at, d in run.decisions if d.move is Move.UP]
    assert len(probes) >= 2  # it does try again...
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    # ...but each failed probe waits twice as long as the last (15, 30, 60 s...).
    assert gaps[0] >= 15 and all(b > 1.8 * a for a, b in itertools.pairwise(gaps))
    assert len(run.decisions) <= 2 * len(probes) + 1


def test_turning_adaptation_off_restores_the_cameras_own_settings_and_stops_changes():
    run = start(UXGA_25, 2)
    run.until(10.0)
    assert run.controller.adapted
    decision = run.controller.set_enabled(False, run.now)
    assert decision is not None and decision.move is Move.RESTORE
    assert decision.setting == UXGA_25
    run.camera.controls.append((run.now, decision.control))
    made = len(run.decisions)
    run.until(20.0)
    assert run.camera.setting == UXGA_25 and len(run.decisions) == made
    assert run.controller.adapted is False


def test_pins_are_sent_when_a_camera_streams_other_settings_and_never_changed():
    run = start(UXGA_25, 2, Pins(frame_size=FrameSize.UXGA))
    run.until(1.0)
    assert run.controller.pinned_differs(run.now) is None  # it already streams UXGA
    run.until(20.0)
    assert {d.setting.frame_size for _, d in run.decisions} == {FrameSize.UXGA}
    decision = run.controller.set_pins(Pins(quality=40), run.now)
    assert decision is not None and decision.setting.quality == 40
    assert decision.setting.frame_size is FrameSize.UXGA  # the ceiling, unpinned again


@pytest.mark.parametrize("stray", [1, 2])
def test_a_stray_dropped_frame_is_not_taken_for_a_slow_link(stray):
    controller = QualityController("cam")
    controller.session_started(0.0)
    run = Run(ModelCamera(VGA_25, 30e6 / 8), controller)
    run.until(6.0)
    run.camera.frames_dropped += stray  # a pause on the camera, at 25 fps: < 5 % of 125
    run.until(30.0)
    assert run.decisions == []


def test_many_reported_drops_step_down_even_when_latency_looks_fine():
    controller = QualityController("cam")
    controller.session_started(0.0)
    run = Run(ModelCamera(VGA_25, 30e6 / 8), controller)
    run.until(6.0)
    run.camera.frames_dropped += 40
    run.until(12.0)
    assert [d.move for _, d in run.decisions][:1] == [Move.DOWN]


def test_a_controller_holds_only_the_last_few_seconds_of_frames():
    run = start(VGA_25, 30)
    run.until(120.0)
    assert len(run.latencies) > 2900  # 25 fps for two minutes went through it
    assert len(run.controller._samples) <= 4 * 25 + 2  # KEEP_S at 25 fps


@pytest.mark.parametrize(
    "fields", [dict(quality=0), dict(quality=64), dict(fps_cap=0), dict(frame_size=99)]
)
def test_a_status_with_settings_no_camera_can_have_leaves_the_camera_alone(fields):
    values = dict(frame_size=FrameSize.VGA, quality=12, fps_cap=25) | fields
    status = Status(
        -50, values["frame_size"], values["quality"], values["fps_cap"], 640, 480,
        100_000, 0, 1, "odd",
    )  # fmt: skip
    controller = QualityController("cam")
    controller.session_started(0.0)
    controller.status(status, 0.0)
    assert controller.ceiling is None and controller.current is None
    assert controller.tick(5.0) is None
