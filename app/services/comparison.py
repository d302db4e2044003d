"""Plain-versus-encrypted comparison runs: the in-app version of the paper's duration table.

A run alternates plain and encrypted sessions of one camera (a demo camera, or a device that
allows plain) by sending CONTROL suite switches, in blocks, until each suite has delivered the
requested number of frames. Alternating blocks spreads slow drifts (CPU load, Wi-Fi) evenly
over both suites instead of biasing whichever ran second.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from app.protocol.hello import Suite
from app.protocol.records import Control
from app.protocol.timeline import FrameTimeline
from app.receiver.stats import DeviceStats, latency_summary
from app.services.receiver_service import ReceiverService
from app.tasks import spawn

log = logging.getLogger(__name__)

SUITES = ("plain", "noise")
BLOCKS = 4  # per suite
SWITCH_TIMEOUT_S = 10.0
SUITE_LABELS = {"plain": "plain", "noise": "encrypted"}


class ComparisonError(Exception):
    """A run cannot start, or had to stop; the message is for the user as is."""


class CameraLost(ComparisonError):
    """The camera went away (or the receiver stopped) during the run."""


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
        self._current: ComparisonResult | None = None
        self.last: ComparisonResult | None = None
        self.switch_timeout_s = SWITCH_TIMEOUT_S

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, device: str, frames_per_suite: int) -> None:
        """Start a run in the background; `finished` is emitted exactly once when it ends.

        Raises:
            ComparisonError: if a run is already going on.
            ValueError: if `frames_per_suite` is below BLOCKS.
        """
        if self.running:
            raise ComparisonError("a comparison is already running")
        if frames_per_suite < BLOCKS:
            raise ValueError(f"compare at least {BLOCKS} frames per suite")
        self._current = ComparisonResult(device, frames_per_suite)
        self._task = spawn(
            self.run(device, frames_per_suite, self._current),
            name=f"comparison on {device}",
            on_error=self._failed,
        )
        self._task.add_done_callback(lambda task: task.cancelled() and self._cancelled())

    def _cancelled(self) -> None:
        """A run cancelled before it could report (before its first step) still reports."""
        result = self._current
        if result is not None and result is not self.last:
            result.error = result.error or "cancelled"
            self._finish(result)

    def _failed(self, exc: BaseException) -> None:
        """An unexpected failure (already logged by `spawn`) ends the run with what it had."""
        result = self._current
        if result is None or result is self.last:
            return  # already reported
        message = str(exc)
        name = type(exc).__name__
        result.error = f"unexpected error: {name}: {message}" if message else name
        self._finish(result)

    def _finish(self, result: ComparisonResult) -> None:
        self.last = result
        self.finished.emit(result)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def run(
        self, device: str, frames_per_suite: int, result: ComparisonResult | None = None
    ) -> ComparisonResult:
        """Alternate the suites until each has `frames_per_suite` frames; emit `finished`.

        A camera that disconnects, a receiver that stops or a camera that does not switch in
        time ends the run early: `result.error` says why and the frames collected so far stay
        in `result.timelines`.
        """
        result = result or ComparisonResult(device, frames_per_suite)
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
        except ComparisonError as exc:
            result.error = str(exc)
            log.warning("comparison on %s stopped: %s", device, result.error)
        finally:
            await self._leave_encrypted(device)  # whatever happened
        self._finish(result)
        return result

    async def _leave_encrypted(self, device: str) -> None:
        """Switch a still connected camera back to encrypted; a gone one comes back encrypted."""
        stats = self._receiver.stats(device)
        if stats is None or not stats.connected or stats.suite == "noise":
            return
        try:
            await self._switch(device, "noise")
        except ComparisonError as exc:
            log.warning("%s is left in the %s suite: %s", device, stats.suite, exc)

    async def _collect(self, device: str, suite: str, count: int, result: ComparisonResult) -> None:
        await self._switch(device, suite)
        stats = self._live_stats(device, suite, result)
        seen = {_key(t) for t in stats.timelines}
        collected = result.timelines[suite]
        goal = len(collected) + count
        try:
            async with asyncio.timeout(self.switch_timeout_s + count):
                while len(collected) < goal:
                    await asyncio.sleep(0.05)
                    stats = self._live_stats(device, suite, result)
                    for timeline in list(stats.timelines):
                        if _key(timeline) not in seen and timeline.suite == suite:
                            seen.add(_key(timeline))
                            if len(collected) < goal:
                                collected.append(timeline)
        except TimeoutError:
            got = count - (goal - len(collected))
            raise ComparisonError(
                f"{device} sent too few {SUITE_LABELS[suite]} frames: {got} of {count} "
                f"in {self.switch_timeout_s + count:.0f} s"
            ) from None
        # Frames keep their painted stamp once shown: give the last one a moment to be painted.
        await asyncio.sleep(0.1)

    def _live_stats(self, device: str, suite: str, result: ComparisonResult) -> DeviceStats:
        """The device's stats while it streams in `suite`; raises CameraLost once it does not."""
        stats = self._receiver.stats(device)
        if stats is None:
            raise CameraLost("the receiver stopped during the run")
        if stats.connected and stats.suite == suite:
            return stats
        counts = {s: len(t) for s, t in result.timelines.items()}
        so_far = f"after {counts['noise']} encrypted and {counts['plain']} plain frames"
        if not stats.connected:
            raise CameraLost(f"{device} disconnected during the run ({so_far})")
        raise ComparisonError(f"{device} left the {SUITE_LABELS[suite]} suite ({so_far})")

    async def _switch(self, device: str, suite: str) -> None:
        """Ask the camera to reconnect in `suite` until it is live in it.

        A control that could not be sent (the connection closed meanwhile) is not an error by
        itself: a camera closes its session to switch. Raises ComparisonError if the camera is
        not live in `suite` within `switch_timeout_s`.
        """
        code = Suite.PLAIN if suite == "plain" else Suite.NOISE
        stats: DeviceStats | None = None
        try:
            async with asyncio.timeout(self.switch_timeout_s):
                while True:
                    stats = self._receiver.stats(device)
                    if stats is None:
                        raise CameraLost("the receiver stopped during the run")
                    if stats.connected and stats.suite == suite:
                        return
                    if stats.connected:
                        await self._receiver.send_control(device, Control(suite=code))
                        await asyncio.sleep(0.3)  # the camera reconnects within a frame or two
                    else:
                        await asyncio.sleep(0.05)
        except TimeoutError:
            waited = f"{self.switch_timeout_s:g} s"
            if stats is None or not stats.connected:
                raise CameraLost(
                    f"{device} disconnected during the run and did not come back within {waited}"
                ) from None
            raise ComparisonError(
                f"{device} did not switch to {SUITE_LABELS[suite]} within {waited}"
            ) from None


def _key(timeline: FrameTimeline) -> tuple[str, int, int]:
    return (timeline.suite, timeline.seq, timeline.device_capture_us)
