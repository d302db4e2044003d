"""Plain-versus-encrypted comparison runs: the in-app version of the paper's duration table.

A run alternates plain and encrypted sessions of one camera (a demo camera, or a device that
allows plain) by sending CONTROL suite switches, in blocks, until each suite has delivered the
requested number of frames. Alternating blocks spreads slow drifts (CPU load, Wi-Fi) evenly
over both suites instead of biasing whichever ran second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from app.protocol.hello import Suite
from app.protocol.records import Control
from app.protocol.timeline import FrameTimeline
from app.receiver.stats import latency_summary
from app.services.receiver_service import ReceiverService

log = logging.getLogger("securecam.ui.comparison")

SUITES = ("plain", "noise")
BLOCKS = 4  # per suite
SWITCH_TIMEOUT_S = 10.0


@dataclass
class ComparisonResult:
    device: str
    frames_per_suite: int
    timelines: dict[str, list[FrameTimeline]] = field(
        default_factory=lambda: {suite: [] for suite in SUITES}
    )
    error: str | None = None

    def latencies_ms(self, suite: str, stage: str = "painted") -> list[float]:
        """Capture-to-`stage` latency ('decrypted', 'decoded' or 'painted') of one suite."""
        out = []
        for timeline in self.timelines[suite]:
            value = timeline.latency_ms(getattr(timeline, f"{stage}_us"))
            if value is not None:
                out.append(value)
        return out

    def summary(self, stage: str = "painted") -> dict[str, dict[str, float | int | None]]:
        """p50/p95/p99/mean per suite, plus the encrypted/plain ratio of each."""
        plain = latency_summary(self.latencies_ms("plain", stage))
        noise = latency_summary(self.latencies_ms("noise", stage))
        ratio: dict[str, float | int | None] = {}
        for key in ("p50", "p95", "p99", "mean"):
            p, n = plain[key], noise[key]
            ratio[key] = (
                round(n / p, 3) if isinstance(p, float | int) and p and n is not None else None
            )
        return {"plain": plain, "noise": noise, "ratio": ratio}


class ComparisonService(QObject):
    """Runs one comparison at a time; `progress(done, total)` then `finished(result)`."""

    progress = Signal(int, int)
    finished = Signal(object)  # ComparisonResult

    def __init__(self, receiver: ReceiverService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._receiver = receiver
        self._task: asyncio.Task[ComparisonResult] | None = None
        self.last: ComparisonResult | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, device: str, frames_per_suite: int) -> None:
        if self.running:
            raise RuntimeError("a comparison is already running")
        if frames_per_suite < BLOCKS:
            raise ValueError(f"compare at least {BLOCKS} frames per suite")
        self._task = asyncio.ensure_future(self.run(device, frames_per_suite))
        self._task.add_done_callback(
            lambda task: task.cancelled() and self._cancelled_early(device, frames_per_suite)
        )

    def _cancelled_early(self, device: str, frames_per_suite: int) -> None:
        """A run cancelled before its first step still reports, so no listener waits forever."""
        self.last = ComparisonResult(device, frames_per_suite, error="cancelled")
        self.finished.emit(self.last)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def run(self, device: str, frames_per_suite: int) -> ComparisonResult:
        result = ComparisonResult(device, frames_per_suite)
        total = 2 * frames_per_suite
        per_block = -(-frames_per_suite // BLOCKS)
        try:
            for _ in range(BLOCKS):
                for suite in SUITES:
                    wanted = min(per_block, frames_per_suite - len(result.timelines[suite]))
                    if wanted > 0:
                        await self._collect(device, suite, wanted, result)
                        done = sum(len(t) for t in result.timelines.values())
                        self.progress.emit(done, total)
        except asyncio.CancelledError:
            result.error = "cancelled"
        except (TimeoutError, RuntimeError) as exc:
            result.error = str(exc) or "the camera did not switch suites in time"
            log.warning("comparison on %s stopped: %s", device, result.error)
        finally:
            # Leave the camera encrypted whatever happened.
            with contextlib.suppress(Exception):
                await self._switch(device, "noise")
        self.last = result
        self.finished.emit(result)
        return result

    async def _collect(self, device: str, suite: str, count: int, result: ComparisonResult) -> None:
        await self._switch(device, suite)
        stats = self._receiver.stats(device)
        assert stats is not None
        seen = {_key(t) for t in stats.timelines}
        collected: list[FrameTimeline] = []
        async with asyncio.timeout(SWITCH_TIMEOUT_S + count):
            while len(collected) < count:
                await asyncio.sleep(0.05)
                for timeline in list(stats.timelines):
                    if _key(timeline) not in seen and timeline.suite == suite:
                        seen.add(_key(timeline))
                        collected.append(timeline)
        # Frames keep their painted stamp once shown: give the last one a moment to be painted.
        await asyncio.sleep(0.1)
        result.timelines[suite].extend(collected[:count])

    async def _switch(self, device: str, suite: str) -> None:
        async with asyncio.timeout(SWITCH_TIMEOUT_S):
            while True:
                stats = self._receiver.stats(device)
                if stats is not None and stats.connected and stats.suite == suite:
                    return
                if stats is not None and stats.connected:
                    code = Suite.PLAIN if suite == "plain" else Suite.NOISE
                    await self._receiver.send_control(device, Control(suite=code))
                    await asyncio.sleep(0.3)  # the camera reconnects within a frame or two
                else:
                    await asyncio.sleep(0.05)


def _key(timeline: FrameTimeline) -> tuple[str, int, int]:
    return (timeline.suite, timeline.seq, timeline.device_capture_us)
