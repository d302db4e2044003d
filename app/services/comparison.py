"""Plain-versus-encrypted comparison runs: the in-app version of the paper's duration table.

A run alternates plain and encrypted sessions of one camera (a demo camera, or a device that
allows plain) by sending CONTROL suite switches, in blocks, until each suite has delivered the
requested number of frames. Alternating blocks spreads slow drifts (CPU load, Wi-Fi) evenly
over both suites instead of biasing whichever ran second.

A run reacts to the receiver's events (a frame arrived, the device connected or went away, the
receiver stopped) rather than polling its stats.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from itertools import islice

from PySide6.QtCore import QObject, Signal

from app.errors import SecureCamError
from app.protocol.hello import Suite
from app.protocol.records import Control
from app.protocol.timeline import FrameTimeline, Mark
from app.receiver.stats import DeviceStats, latency_summary
from app.services.receiver_service import ReceiverService
from app.tasks import spawn

log = logging.getLogger(__name__)

SUITES = (Suite.PLAIN, Suite.NOISE)  # the order within each block
BLOCKS = 4  # per suite
SWITCH_TIMEOUT_S = 10.0
PAINT_GRACE_S = 0.1  # after the last frame: time for it to be painted (frames keep the stamp)
SUMMARY_KEYS = ("p50", "p95", "p99", "mean")


class ComparisonError(SecureCamError):
    """A run cannot start, or had to stop; the message is for the user as is."""


class CameraLost(ComparisonError):
    """The camera went away (or the receiver stopped) during the run."""


@dataclass(frozen=True)
class ComparisonSummary:
    """`latency_summary` of each suite, and encrypted / plain for each of SUMMARY_KEYS."""

    suites: dict[Suite, dict[str, float | int | None]]
    ratio: dict[str, float | None]


@dataclass
class ComparisonResult:
    device: str
    frames_per_suite: int
    timelines: dict[Suite, list[FrameTimeline]] = field(
        default_factory=lambda: {suite: [] for suite in SUITES}
    )
    error: str | None = None

    def latencies_ms(self, suite: Suite, mark: Mark = Mark.PAINTED) -> list[float]:
        """Capture-to-`mark` latency of the frames of one suite that reached `mark`."""
        values = (timeline.latency_to(mark) for timeline in self.timelines[suite])
        return [value for value in values if value is not None]

    def summary(self, mark: Mark = Mark.PAINTED) -> ComparisonSummary:
        """p50/p95/p99/mean per suite, plus the encrypted/plain ratio of each."""
        suites = {suite: latency_summary(self.latencies_ms(suite, mark)) for suite in SUITES}
        plain, noise = suites[Suite.PLAIN], suites[Suite.NOISE]
        ratio: dict[str, float | None] = {}
        for key in SUMMARY_KEYS:
            p, n = plain[key], noise[key]
            ratio[key] = round(n / p, 3) if p and n is not None else None
        return ComparisonSummary(suites, ratio)

    def counts(self) -> dict[Suite, int]:
        return {suite: len(timelines) for suite, timelines in self.timelines.items()}


class _Watch:
    """Wakes a run whenever the receiver reports something about its device, or stops.

    `wait()` returns at the next frame, connection change, rejection or status of the device
    (or a receiver start/stop); `clear()` before reading the state, then `wait()`, so nothing
    that happens in between is missed.
    """

    def __init__(self, receiver: ReceiverService, device: str) -> None:
        self._receiver = receiver
        self._device = device
        self._event = asyncio.Event()
        self._on_device = self._device_event  # one bound method: connect and disconnect it
        self._on_listening = self._event.set

    def __enter__(self) -> _Watch:
        self._receiver.deviceChanged.connect(self._on_device)
        self._receiver.frameArrived.connect(self._on_device)
        self._receiver.listeningChanged.connect(self._on_listening)
        return self

    def __exit__(self, *_: object) -> None:
        self._receiver.deviceChanged.disconnect(self._on_device)
        self._receiver.frameArrived.disconnect(self._on_device)
        self._receiver.listeningChanged.disconnect(self._on_listening)

    def _device_event(self, device: str) -> None:
        if device == self._device:
            self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self) -> None:
        await self._event.wait()


class ComparisonService(QObject):
    """Runs one comparison at a time; `progress(done, total)` then `finished(result)`.

    A run follows the receiver's events (`frameArrived`, `deviceChanged`, `listeningChanged`
    of its ReceiverService); it never polls.
    """

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
        self._task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[ComparisonResult]) -> None:
        """A run cancelled before it could report (before its first step) still reports."""
        result = self._current
        if task.cancelled() and result is not None and result is not self.last:
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
        with _Watch(self._receiver, device) as watch:
            try:
                for _ in range(BLOCKS):
                    for suite in SUITES:
                        wanted = min(per_block, frames_per_suite - len(result.timelines[suite]))
                        if wanted > 0:
                            await self._collect(watch, device, suite, wanted, result)
                            self.progress.emit(sum(result.counts().values()), total)
                await asyncio.sleep(PAINT_GRACE_S)
            except asyncio.CancelledError:
                result.error = "cancelled"
            except ComparisonError as exc:
                result.error = str(exc)
                log.warning("comparison on %s stopped: %s", device, result.error)
            finally:
                await self._leave_encrypted(watch, device)  # whatever happened
        self._finish(result)
        return result

    async def _leave_encrypted(self, watch: _Watch, device: str) -> None:
        """Switch a still connected camera back to encrypted; a gone one comes back encrypted."""
        stats = self._receiver.stats(device)
        if stats is None or not stats.connected or stats.suite is Suite.NOISE:
            return
        try:
            await self._switch(watch, device, Suite.NOISE)
        except ComparisonError as exc:
            suite = "no" if stats.suite is None else stats.suite.label
            log.warning("%s is left in the %s suite: %s", device, suite, exc)

    async def _collect(
        self, watch: _Watch, device: str, suite: Suite, count: int, result: ComparisonResult
    ) -> None:
        """Switch to `suite`, then take its next `count` frames as they arrive."""
        await self._switch(watch, device, suite)
        collected = result.timelines[suite]
        goal = len(collected) + count
        ring = _RingReader(self._receiver.stats(device))
        limit_s = self.switch_timeout_s + count
        try:
            async with asyncio.timeout(limit_s):
                while True:
                    watch.clear()
                    stats = self._receiver.stats(device)
                    for timeline in ring.new(stats):
                        if timeline.suite is suite and len(collected) < goal:
                            collected.append(timeline)
                    if len(collected) >= goal:
                        return
                    self._check_live(device, suite, stats, result)
                    await watch.wait()
        except TimeoutError:
            got = count - (goal - len(collected))
            raise ComparisonError(
                f"{device} sent too few {suite.label} frames: {got} of {count} in {limit_s:.0f} s"
            ) from None

    def _check_live(
        self, device: str, suite: Suite, stats: DeviceStats | None, result: ComparisonResult
    ) -> None:
        """Raise CameraLost or ComparisonError unless the device streams in `suite`."""
        if stats is None:
            raise CameraLost("the receiver stopped during the run")
        if stats.connected and stats.suite is suite:
            return
        counts = result.counts()
        so_far = f"after {counts[Suite.NOISE]} encrypted and {counts[Suite.PLAIN]} plain frames"
        if not stats.connected:
            raise CameraLost(f"{device} disconnected during the run ({so_far})")
        raise ComparisonError(f"{device} left the {suite.label} suite ({so_far})")

    async def _switch(self, watch: _Watch, device: str, suite: Suite) -> None:
        """Ask the camera to reconnect in `suite`, and wait until it is live in it.

        The control goes once to each live session that is in the other suite. One that could
        not be sent (the connection closed meanwhile) is not an error by itself: a camera closes
        its session to switch. Raises CameraLost if the receiver stops, or if the camera is
        gone when `switch_timeout_s` runs out; ComparisonError if it is still in the other suite
        then.
        """
        stats: DeviceStats | None = None
        asked: DeviceStats | None = None  # the stats and session count the control went to
        asked_session = 0
        try:
            async with asyncio.timeout(self.switch_timeout_s):
                while True:
                    watch.clear()
                    stats = self._receiver.stats(device)
                    if stats is None:
                        raise CameraLost("the receiver stopped during the run")
                    if stats.connected and stats.suite is suite:
                        return
                    if stats.connected and (asked is not stats or asked_session != stats.sessions):
                        asked, asked_session = stats, stats.sessions
                        await self._receiver.send_control(device, Control(suite=suite))
                        continue  # the state may have changed while the control was sent
                    await watch.wait()
        except TimeoutError:
            waited = f"{self.switch_timeout_s:g} s"
            if stats is None or not stats.connected:
                raise CameraLost(
                    f"{device} disconnected during the run and did not come back within {waited}"
                ) from None
            raise ComparisonError(
                f"{device} did not switch to {suite.label} within {waited}"
            ) from None


class _RingReader:
    """The frames a device's stats ring received since the reader was made (or last read)."""

    def __init__(self, stats: DeviceStats | None) -> None:
        self._stats = stats
        self._seen = 0 if stats is None else stats.frames_received

    def new(self, stats: DeviceStats | None) -> list[FrameTimeline]:
        if stats is None:
            return []
        if stats is not self._stats:  # the receiver restarted: a fresh ring
            self._stats, self._seen = stats, 0
        count = min(stats.frames_received - self._seen, len(stats.timelines))
        self._seen = stats.frames_received
        fresh = list(islice(reversed(stats.timelines), max(count, 0)))
        fresh.reverse()
        return fresh
