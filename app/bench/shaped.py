"""Cameras on a shaped link: the real receiver in one namespace, simulated cameras in another.

`over_link` runs a Receiver (with adaptive quality unless told not to) on the receiver's side
of a ShapedLink and a SimulatedCamera on the camera's side, holding its send buffer to the
board's 5,744 bytes so a slow link makes it drop frames, as the board does, rather than queue
them in Linux. `run_matrix` is `make bench`'s shaped-link section: each scenario of
app/bench/link.py, plain and encrypted, one camera, latencies capture → decrypted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

from app.bench.link import (
    RECEIVER_IP,
    SCENARIOS,
    WEAK_2,
    WIFI_30,
    LinkSpec,
    ShapedLink,
    unavailable_reason,
)
from app.protocol.endpoints import CAMERA_PATH
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.session import Credentials, monotonic_us
from app.receiver.adapter import Adapter
from app.receiver.server import Receiver
from app.receiver.stats import DeviceStats, latency_summary
from app.sim.camera import SimulatedCamera, jpeg_quality
from app.sim.sources import SyntheticSource

log = logging.getLogger(__name__)

DEVICE = "linkcam"
KEY = bytes(range(32))
PORT = 8765
BOARD_SEND_BUFFER = 5744  # lwIP's TCP send buffer on the board (firmware/src/net_link.cpp)
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
    seconds: float
    figures: dict[str, object]
    changes: list[str] = field(default_factory=list)  # adaptation, "t=3.2 s down to ..."
    camera_dropped: int = 0


async def run_scenario(
    spec: LinkSpec,
    suite: Suite,
    *,
    seconds: float = 10.0,
    warmup: float = 3.0,
    schedule: tuple[tuple[float, int], ...] = (),
    size: FrameSize = FrameSize.VGA,
) -> ScenarioResult:
    """One camera on `spec` for `seconds` after `warmup`; `schedule` changes the rate
    (seconds after the warm-up, kbit/s)."""
    changes: list[str] = []
    with ShapedLink(spec) as link, _noting(changes):
        async with over_link(link, size=size, suite=suite) as run:
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
    return ScenarioResult(
        spec.name, spec.describe(), suite.name.lower(), seconds, figures, changes, dropped
    )


@contextlib.contextmanager
def _noting(changes: list[str]) -> Iterator[None]:
    """Note each adaptation made meanwhile, with its time, for the report."""
    handler = _ChangeLog(changes, monotonic_us())
    logger = logging.getLogger("app.receiver.adapter")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


class _ChangeLog(logging.Handler):
    def __init__(self, changes: list[str], started: int) -> None:
        super().__init__(logging.INFO)
        self.changes, self.started = changes, started

    def emit(self, record: logging.LogRecord) -> None:
        at = (monotonic_us() - self.started) / 1e6
        self.changes.append(f"t={at:.1f} s {record.getMessage()}")


async def run_matrix(progress: Callable[[str], None] = print) -> list[ScenarioResult]:
    results = []
    plans: list[tuple[LinkSpec, tuple[tuple[float, int], ...], float]] = [
        *((spec, (), 10.0) for spec in SCENARIOS),
        (
            LinkSpec("drop-30-2-30", WIFI_30.rate_kbit, WIFI_30.delay_ms),
            ((DROP_AT_S, WEAK_2.rate_kbit), (DROP_AT_S + DROP_FOR_S, WIFI_30.rate_kbit)),
            DROP_AT_S + DROP_FOR_S + 30.0,
        ),
    ]
    for spec, schedule, seconds in plans:
        for suite in (Suite.PLAIN, Suite.NOISE):
            progress(f"shaped link {spec.name} ({spec.describe()}), {suite.name.lower()}")
            results.append(await run_scenario(spec, suite, seconds=seconds, schedule=schedule))
    return results


def render(results: list[ScenarioResult]) -> list[str]:
    lines = [
        "Shaped links: one VGA camera at 25 fps, adaptive quality on; capture → decrypted",
        f"{'scenario':<14} {'link':<24} {'suite':<6} {'fps':>5} {'Mbit/s':>7} "
        f"{'p50':>7} {'p95':>7} {'p99':>7} {'drops':>5} {'changes':>7}",
    ]
    for r in results:
        lat = r.figures["latency_ms"]
        assert isinstance(lat, dict)
        lines.append(
            f"{r.scenario:<14} {r.link:<24} {r.suite:<6} {r.figures['fps']:>5} "
            f"{r.figures['mbit_s']:>7} {_ms(lat['p50']):>7} {_ms(lat['p95']):>7} "
            f"{_ms(lat['p99']):>7} {r.camera_dropped:>5} {len(r.changes):>7}"
        )
    by = {(r.scenario, r.suite): r for r in results}
    for scenario in dict.fromkeys(r.scenario for r in results):
        plain, noise = by.get((scenario, "plain")), by.get((scenario, "noise"))
        if plain and noise:
            p, n = _p50(plain), _p50(noise)
            if p and n:
                lines.append(f"  {scenario}: encrypted/plain p50 {n / p:.2f}×")
    for r in results:
        for change in r.changes:
            lines.append(f"  {r.scenario} {r.suite}: {change}")
    return lines


def _p50(result: ScenarioResult) -> float | None:
    lat = result.figures["latency_ms"]
    assert isinstance(lat, dict)
    value = lat["p50"]
    return None if value is None else float(value)


def _ms(value: object) -> str:
    return "-" if value is None else f"{float(str(value)):.1f}"


def main() -> int:
    reason = unavailable_reason()
    if reason is not None:
        print(f"shaped links skipped: {reason}")
        return 0
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("app.receiver.adapter").setLevel(logging.INFO)
    results = asyncio.run(run_matrix())
    print("\n".join(render(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
