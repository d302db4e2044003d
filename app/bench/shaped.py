"""Cameras on a shaped link: the real receiver in one namespace, simulated cameras in another.

`over_link` runs a Receiver (with adaptive quality unless told not to) on the receiver's side
of a ShapedLink and a SimulatedCamera on the camera's side, holding its send buffer to the
board's 5,744 bytes so a slow link makes it drop frames, as the board does, rather than queue
them in Linux. `run_matrix` is `make bench`'s shaped-link section: each scenario of
app/bench/link.py, plain and encrypted, one camera, latencies capture → decrypted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.bench.link import (
    RECEIVER_IP,
    SCENARIOS,
    WEAK_2,
    WIFI_30,
    LinkSpec,
    ShapedLink,
    unavailable_reason,
)
from app.protocol.clock import monotonic_us
from app.protocol.endpoints import CAMERA_PATH
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.session import Credentials
from app.receiver.adapter import Adapter
from app.receiver.server import Receiver
from app.receiver.stats import DeviceStats, latency_summary
from app.sim.camera import BOARD_SEND_BUFFER, SimulatedCamera, jpeg_quality
from app.sim.sources import SyntheticSource

log = logging.getLogger(__name__)

DEVICE = "linkcam"
KEY = bytes(range(32))
PORT = 8765
DROP_AT_S, DROP_FOR_S = 10.0, 20.0  # the falling link: 30 Mbit/s, 2 for 20 s, 30 again


@dataclass
class OverLink:
    link: ShapedLink
    receiver: Receiver
    adapter: Adapter | None
    camera: SimulatedCamera

    @property
    def stats(self) -> DeviceStats:
        return self.receiver.device_stats(DEVICE)

    def window(self, since_us: int) -> dict[str, object]:
        """Figures for the frames decrypted since `since_us` (app clock)."""
        frames = [t for t in self.stats.timelines if t.decrypted_us >= since_us]
        latencies = [ms for t in frames if (ms := t.latency_ms(t.decrypted_us)) is not None]
        span = max(1e-6, (monotonic_us() - since_us) / 1e6)
        return {
            "frames": len(frames),
            "fps": round(len(frames) / span, 2),
            "mbit_s": round(sum(t.size for t in frames) * 8 / span / 1e6, 3),
            "latency_ms": latency_summary(latencies),
        }


@contextlib.asynccontextmanager
async def over_link(
    link: ShapedLink,
    *,
    size: FrameSize = FrameSize.VGA,
    fps: float = 25.0,
    quality: int = 12,
    suite: Suite = Suite.NOISE,
    adapt: bool = True,
) -> AsyncIterator[OverLink]:
    """A receiver (and its Adapter) on one side of `link`, one streaming camera on the other."""
    credentials = {DEVICE: Credentials(DEVICE, KEY, allow_plain=True)}
    receiver = Receiver(credentials.get, host=None, sock=link.listen(PORT))
    await receiver.start()
    adapter = Adapter(receiver) if adapt else None
    if adapter is not None:
        adapter.start()
    camera = SimulatedCamera(
        f"ws://{RECEIVER_IP}:{PORT}{CAMERA_PATH}",
        DEVICE,
        KEY,
        SyntheticSource(size, quality=jpeg_quality(quality), label=DEVICE),
        suite=suite,
        fps=fps,
        frame_size=size,
        quality=quality,
        open_socket=lambda: link.connect(PORT),
        send_buffer=BOARD_SEND_BUFFER,
    )
    running = asyncio.create_task(camera.run())
    try:
        yield OverLink(link, receiver, adapter, camera)
    finally:
        camera.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 10)
        if adapter is not None:
            await adapter.stop()
        await receiver.stop()


@dataclass
class ScenarioResult:
    scenario: str
    link: str
    suite: str
    adapt: bool
    repeat: int
    figures: dict[str, object]
    changes: list[str] = field(default_factory=list)  # "t=3.2 s down to QVGA q30 25 fps"
    camera_dropped: int = 0


@dataclass
class AdaptResult:
    """The adaptive-quality goals of issue 12 §3, measured once."""

    repeat: int
    converge_s: float | None  # connected -> last change on 2 Mbit/s
    low: str | None  # the settings it converged to
    low_p95_ms: float | None  # capture -> decrypted, the last 8 s on 2 Mbit/s
    low_dropped: int  # frames the camera dropped in those 8 s
    climb_s: float | None  # the link back at 30 Mbit/s -> last change
    high: str | None
    high_p95_ms: float | None
    vga_changes: int  # changes made to a VGA camera in 20 s on 30 Mbit/s


Schedule = tuple[tuple[float, int], ...]


async def run_scenario(
    spec: LinkSpec,
    suite: Suite,
    *,
    seconds: float = 10.0,
    warmup: float = 3.0,
    schedule: Schedule = (),
    adapt: bool = True,
    repeat: int = 1,
) -> ScenarioResult:
    """One VGA camera on `spec` for `seconds` after `warmup`; `schedule` changes the rate
    (seconds after the warm-up, kbit/s)."""
    with ShapedLink(spec) as link:
        async with over_link(link, suite=suite, adapt=adapt) as run:
            started = _now()
            await asyncio.sleep(warmup)
            since = monotonic_us()
            dropped = run.camera.stats.frames_dropped
            elapsed = 0.0
            for at, rate in schedule:
                await asyncio.sleep(at - elapsed)
                link.set_rate(rate)
                elapsed = at
            await asyncio.sleep(seconds - elapsed)
            figures = run.window(since)
            dropped = run.camera.stats.frames_dropped - dropped
            changes = _changes(run, started) if adapt else []
    return ScenarioResult(
        spec.name, spec.describe(), suite.name.lower(), adapt, repeat, figures, changes, dropped
    )


async def run_adapt_goals(repeat: int, *, low_s: float = 20.0, high_s: float = 35.0) -> AdaptResult:
    """A UXGA camera at 25 fps behind 2 Mbit/s for `low_s`, then 30 Mbit/s for `high_s`; and a
    VGA camera on 30 Mbit/s for 20 s."""
    with ShapedLink(WEAK_2) as link:
        async with over_link(link, size=FrameSize.UXGA) as run:
            await asyncio.wait_for(run.camera.connected.wait(), 30)
            connected = _now()
            await asyncio.sleep(low_s - 8)
            since, dropped = monotonic_us(), run.camera.stats.frames_dropped
            await asyncio.sleep(8)
            low_p95 = _p95(run.window(since))
            low_dropped = run.camera.stats.frames_dropped - dropped
            low_last = _last_change(run, connected, _now())
            low = _current(run)
            link.set_rate(WIFI_30.rate_kbit)
            recovered = _now()
            await asyncio.sleep(high_s - 5)
            since = monotonic_us()
            await asyncio.sleep(5)
            high_p95 = _p95(run.window(since))
            high_last = _last_change(run, recovered, _now())
            high = _current(run)
    with ShapedLink(WIFI_30) as link:
        async with over_link(link) as run:
            await asyncio.sleep(20)
            vga_changes = len(_changes(run, 0.0))
    return AdaptResult(
        repeat,
        None if low_last is None else round(low_last - connected, 2),
        low,
        low_p95,
        low_dropped,
        None if high_last is None else round(high_last - recovered, 2),
        high,
        high_p95,
        vga_changes,
    )


def _now() -> float:
    return monotonic_us() / 1e6


def _changes(run: OverLink, since: float) -> list[str]:
    assert run.adapter is not None
    return [
        f"t={at - since:.1f} s {d.move.value} to {d.setting.describe()} ({d.reason})"
        for at, _, d in run.adapter.history
        if at >= since
    ]


def _last_change(run: OverLink, start: float, end: float) -> float | None:
    assert run.adapter is not None
    times = [at for at, _, _ in run.adapter.history if start <= at <= end]
    return times[-1] if times else None


def _current(run: OverLink) -> str | None:
    assert run.adapter is not None
    current = run.adapter.controller(DEVICE).current
    return None if current is None else current.describe()


def _p95(figures: dict[str, object]) -> float | None:
    latency = figures["latency_ms"]
    assert isinstance(latency, dict)
    value = latency["p95"]
    return None if value is None else float(value)


@dataclass(frozen=True)
class ShapedSettings:
    repeats: int = 2
    seconds: float = 8.0
    drop_at: float = DROP_AT_S
    drop_for: float = DROP_FOR_S
    after: float = 30.0  # at 30 Mbit/s again
    adapt_repeats: int = 2

    @classmethod
    def quick(cls) -> ShapedSettings:
        return cls(repeats=1, seconds=4.0, drop_at=4.0, drop_for=10.0, after=15.0, adapt_repeats=1)


async def run_matrix(
    settings: ShapedSettings, progress: Callable[[str], None]
) -> list[ScenarioResult]:
    """Each scenario `settings.repeats` times: plain and encrypted at fixed settings (their
    ratio), then encrypted with adaptive quality; the falling link with adaptation only."""
    drop = LinkSpec("drop-30-2-30", WIFI_30.rate_kbit, WIFI_30.delay_ms)
    fixed_then_adapted = ((Suite.PLAIN, False), (Suite.NOISE, False), (Suite.NOISE, True))
    both_adapted = ((Suite.PLAIN, True), (Suite.NOISE, True))
    plans: list[tuple[LinkSpec, Schedule, float, int, tuple[tuple[Suite, bool], ...]]] = [
        *((spec, (), settings.seconds, settings.repeats, fixed_then_adapted) for spec in SCENARIOS),
        (
            drop,
            (
                (settings.drop_at, WEAK_2.rate_kbit),
                (settings.drop_at + settings.drop_for, WIFI_30.rate_kbit),
            ),
            settings.drop_at + settings.drop_for + settings.after,
            1,
            both_adapted,
        ),
    ]
    results = []
    for spec, schedule, seconds, repeats, runs in plans:
        for repeat in range(1, repeats + 1):
            for suite, adapt in runs:
                how = "adaptive" if adapt else "fixed VGA q12 25 fps"
                progress(
                    f"shaped link {spec.name} ({spec.describe()}), {suite.name.lower()}, {how}"
                )
                results.append(
                    await run_scenario(
                        spec, suite, seconds=seconds, schedule=schedule, adapt=adapt, repeat=repeat
                    )
                )
    return results


def render(results: list[ScenarioResult], goals: list[AdaptResult]) -> list[str]:
    lines = [
        "Shaped links (app/bench/link.py): one camera asked for VGA q12 at 25 fps, its",
        "settings fixed or adapted; latency capture → decrypted, ms; median [min–max] of repeats",
        f"{'scenario':<13} {'link':<23} {'suite':<5} {'adapt':<5} {'fps':>5} {'Mbit/s':>6} "
        f"{'p50':>17} {'p95':>17} {'drops':>5} {'changes':>7}",
    ]
    groups: dict[tuple[str, str, bool], list[ScenarioResult]] = {}
    for result in results:
        groups.setdefault((result.scenario, result.suite, result.adapt), []).append(result)
    for (scenario, suite, adapt), group in groups.items():
        lines.append(
            f"{scenario:<13} {group[0].link:<23} {suite:<5} {'on' if adapt else 'off':<5} "
            f"{_spread([float(str(r.figures['fps'])) for r in group], 1):>5} "
            f"{_spread([float(str(r.figures['mbit_s'])) for r in group], 2):>6} "
            f"{_spread([_lat(r, 'p50') for r in group]):>17} "
            f"{_spread([_lat(r, 'p95') for r in group]):>17} "
            f"{sum(r.camera_dropped for r in group):>5} "
            f"{sum(len(r.changes) for r in group):>7}"
        )
    lines.append("encrypted ÷ plain p50, same settings, each repeat's pair taken in the same run:")
    for scenario in dict.fromkeys(r.scenario for r in results):
        adapt = (scenario, "plain", False) not in groups  # the falling link: both adaptive
        plain = groups.get((scenario, "plain", adapt), [])
        noise = groups.get((scenario, "noise", adapt), [])
        pairs = zip(map(_p50, plain), map(_p50, noise), strict=False)
        ratios: list[float | None] = [n / p for p, n in pairs if p and n]
        if ratios:
            lines.append(f"  {scenario:<13} {_spread(ratios, 3)}")
    for result in results:
        if result.scenario.startswith("drop"):
            for change in result.changes:
                lines.append(f"  {result.scenario} {result.suite}: {change}")
    lines.append("")
    lines.append("Adaptive quality goals (issue 12 §3), per repeat:")
    for goal in goals:
        lines.append(
            f"  UXGA 25 fps behind 2 Mbit/s: last change {_s(goal.converge_s)} after connecting "
            f"(goal 10 s) → {goal.low}; then p95 {_ms(goal.low_p95_ms)} ms (goal < 200), "
            f"{goal.low_dropped} frames dropped (goal 0)"
        )
        lines.append(
            f"  back to 30 Mbit/s: last change {_s(goal.climb_s)} after (goal 30 s) → "
            f"{goal.high}; p95 {_ms(goal.high_p95_ms)} ms"
        )
        lines.append(f"  VGA on 30 Mbit/s for 20 s: {goal.vga_changes} changes (goal 0)")
    return lines


def _lat(result: ScenarioResult, key: str) -> float | None:
    latency = result.figures["latency_ms"]
    assert isinstance(latency, dict)
    value = latency[key]
    return None if value is None else float(value)


def _p50(result: ScenarioResult) -> float | None:
    return _lat(result, "p50")


def _spread(values: Sequence[float | None], digits: int = 1) -> str:
    known = sorted(v for v in values if v is not None)
    if not known:
        return "-"
    median = statistics.median(known)
    if len(known) == 1:
        return f"{median:.{digits}f}"
    return f"{median:.{digits}f} [{known[0]:.{digits}f}–{known[-1]:.{digits}f}]"


def _s(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f} s"


def _ms(value: object) -> str:
    return "-" if value is None else f"{float(str(value)):.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.bench.shaped",
        description="Cameras on shaped links: the scenario matrix and the adaptive-quality goals.",
    )
    parser.add_argument("--quick", action="store_true", help="one short repeat of everything")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason is not None:
        print(f"shaped links skipped: {reason}")
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = ShapedSettings.quick() if args.quick else ShapedSettings()

    def progress(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    async def everything() -> tuple[list[ScenarioResult], list[AdaptResult]]:
        results = await run_matrix(settings, progress)
        goals = []
        for repeat in range(1, settings.adapt_repeats + 1):
            progress(f"adaptive quality goals, repeat {repeat}")
            goals.append(await run_adapt_goals(repeat))
        return results, goals

    results, goals = asyncio.run(everything())
    print("\n".join(render(results, goals)))
    if args.json is not None:
        document = {"scenarios": [asdict(r) for r in results], "adapt": [asdict(g) for g in goals]}
        args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
