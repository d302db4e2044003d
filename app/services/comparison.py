"""Plain-versus-encrypted comparison runs: the in-app version of the paper's duration table.

A run alternates plain and encrypted sessions of one camera (a demo camera, or a device that
allows plain) by sending CONTROL suite switches, in blocks, until each suite has delivered the
requested number of frames. Alternating blocks spreads slow drifts (CPU load, Wi-Fi) evenly
over both suites instead of biasing whichever ran second.

Adaptive quality is held for the camera during a run (it streams at its own settings in
both suites) and released after. A run reacts to the receiver's events (a frame arrived, the
device connected or went away, the receiver stopped) rather than polling its stats.

On request (`start(..., paper=True)`, off by default), a run also times the first design's
scheme on the frames it collected: up to `PAPER_FRAMES` of their JPEGs, spread evenly over the
run, are kept as they arrive and, once the camera is back to encrypted, go one at a time
through app.bench.paper's INSECURE scheme (`measure_frames`, over loopback sockets of its own:
never the receiver, never the camera), on a thread with its own event loop so that its AES and
base64 work never runs on the window's loop, where the receiver and the widgets run. Its
figure is per frame from the start of sending to decrypted and reassembled, not capture to
decrypted: a third series (`ComparisonResult.paper_ms`) labelled `PAPER_LABEL`, measurement only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice

from PySide6.QtCore import QObject, Signal

from app.bench import BenchError
from app.errors import SecureCamError
from app.protocol.hello import Suite
from app.protocol.records import Control
from app.protocol.timeline import FrameTimeline, Mark
from app.receiver.events import FrameArrived, ReceiverEvent
from app.receiver.server import Receiver
from app.receiver.stats import DeviceStats, latency_summary
from app.services.receiver_service import ReceiverService
from app.tasks import spawn

log = logging.getLogger(__name__)

SUITES = (Suite.PLAIN, Suite.NOISE)  # the order within each block
BLOCKS = 4  # per suite
SWITCH_TIMEOUT_S = 10.0
PAINT_GRACE_S = 0.1  # after the last frame: time for it to be painted (frames keep the stamp)
SUMMARY_KEYS = ("p50", "p95", "p99", "mean")
CANCELLED = "cancelled"  # `error` (or `paper_error`) of a run the user cancelled

# The paper scheme's series. The label is app.bench.paper.LABEL (a test checks they agree):
# that module loads websockets and pycryptodome, so it is imported only when a run asks for it.
PAPER_LABEL = "paper scheme (insecure, measurement only)"
PAPER_FRAMES = 50  # at most this many of a run's frames go through the paper scheme
PAPER_PENDING = 64  # the device's latest frames kept until the run has seen their timelines


class ComparisonError(SecureCamError):
    """A run cannot start, or had to stop; the message is for the user as is."""


class CameraLost(ComparisonError):
    """The camera went away (or the receiver stopped) during the run."""


@dataclass(frozen=True)
class ComparisonSummary:
    """`latency_summary` of each suite, and encrypted / plain for each of SUMMARY_KEYS."""

    suites: dict[Suite, dict[str, float | int | None]]
    ratio: dict[str, float | None]
    # `latency_summary` of the paper scheme's times when the run measured it, else None. Not a
    # capture → mark latency (see ComparisonResult.paper_ms): no ratio is taken from it.
    paper: dict[str, float | int | None] | None = None


@dataclass
class ComparisonResult:
    device: str
    frames_per_suite: int
    timelines: dict[Suite, list[FrameTimeline]] = field(
        default_factory=lambda: {suite: [] for suite in SUITES}
    )
    error: str | None = None
    paper: bool = False  # the paper scheme was asked for
    # Per measured frame, in the order collected: ms from the start of sending to decrypted and
    # reassembled through the paper scheme (INSECURE) on loopback, in this app; and its JPEG's
    # size. Empty unless `paper` and the measurement succeeded.
    paper_ms: list[float] = field(default_factory=list)
    paper_bytes: list[int] = field(default_factory=list)
    paper_error: str | None = None  # why the paper scheme was not measured

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
        paper = latency_summary(self.paper_ms) if self.paper else None
        return ComparisonSummary(suites, ratio, paper)

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


class _PaperSample:
    """The JPEGs of the frames a run collects, for the paper scheme: bounded, spread evenly.

    A listener on the receiver keeps the device's latest `PAPER_PENDING` frames (latest frame
    wins; a reference each, no copy). When the run collects a frame's timeline, `collected`
    copies that frame's JPEG if its place in the run falls on the stride, so at most `capacity`
    JPEGs are ever kept, taken across the whole run rather than from its last block.
    """

    def __init__(
        self, receiver: Receiver | None, device: str, total: int, capacity: int = PAPER_FRAMES
    ) -> None:
        self._receiver = receiver
        self._device = device
        self.capacity = capacity
        self.stride = max(1, -(-total // capacity))
        self._pending: deque[tuple[FrameTimeline, bytes | memoryview]] = deque(maxlen=PAPER_PENDING)
        self.jpegs: list[bytes] = []

    def __enter__(self) -> _PaperSample:
        if self._receiver is not None:
            self._receiver.add_listener(self._on_event)
        return self

    def __exit__(self, *_: object) -> None:
        if self._receiver is not None:
            self._receiver.remove_listener(self._on_event)
        self._pending.clear()

    def _on_event(self, event: ReceiverEvent) -> None:
        if isinstance(event, FrameArrived) and event.frame.device == self._device:
            self._pending.append((event.frame.timeline, event.frame.jpeg))

    def collected(self, timeline: FrameTimeline, index: int) -> None:
        """The run took `timeline` as its `index`-th frame (from 0, both suites together)."""
        if self._receiver is None or index % self.stride or len(self.jpegs) >= self.capacity:
            return
        for pending, jpeg in reversed(self._pending):
            if pending is timeline:
                self.jpegs.append(bytes(jpeg))
                return


class _PaperWorker:
    """app.bench.paper's `measure_frames` on a thread of its own, with its own event loop.

    The paper scheme is CPU-bound Python (AES and base64 per 200-character block); on the
    window's loop it would hold up the receiver and the widgets for the whole measurement.
    Here it shares only the interpreter with them. `cancel()` cancels it from any thread.
    """

    def __init__(self, jpegs: Sequence[bytes], progress: Callable[[int, int], None]) -> None:
        self._jpegs = list(jpegs)
        self._progress = progress  # called on the worker thread
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[list[int]] | None = None
        self._cancelled = False

    async def run(self) -> list[int]:
        """Start the thread and wait for its times (µs per frame); cancelling cancels it.

        Raises:
            BenchError: if the paper scheme could not carry a frame intact.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[int]] = loop.create_future()

        def deliver(times: list[int] | None, exc: BaseException | None) -> None:
            if future.done():
                return  # cancelled meanwhile
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            elif exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(times or [])

        def main() -> None:
            times: list[int] | None = None
            error: BaseException | None = None
            try:
                times = asyncio.run(self._measure())
            except BaseException as exc:  # handed to the window's loop, raised there
                error = exc
            with contextlib.suppress(RuntimeError):  # the window's loop closed meanwhile
                loop.call_soon_threadsafe(deliver, times, error)

        threading.Thread(target=main, name="paper scheme measurement", daemon=True).start()
        try:
            return await future
        except asyncio.CancelledError:
            self.cancel()
            raise

    async def _measure(self) -> list[int]:
        from app.bench import paper  # the INSECURE scheme loads only when a run asks for it

        task = asyncio.current_task()
        assert task is not None
        with self._lock:
            if self._cancelled:
                raise asyncio.CancelledError
            self._loop, self._task = asyncio.get_running_loop(), task
        try:
            return await paper.measure_frames(self._jpegs, progress=self._progress)
        finally:
            with self._lock:
                self._loop = self._task = None

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)


class ComparisonService(QObject):
    """Runs one comparison at a time; `progress(done, total)` then `finished(result)`.

    A run follows the receiver's events (`frameArrived`, `deviceChanged`, `listeningChanged`
    of its ReceiverService); it never polls. A run asked to measure the paper scheme reports
    `paperProgress(done, total)` (frames through it) before `finished`.
    """

    progress = Signal(int, int)
    paperProgress = Signal(int, int)
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

    def start(self, device: str, frames_per_suite: int, paper: bool = False) -> None:
        """Start a run in the background; `finished` is emitted exactly once when it ends.

        With `paper`, the run also times the paper scheme on its frames (module docstring).

        Raises:
            ComparisonError: if a run is already going on.
            ValueError: if `frames_per_suite` is below BLOCKS.
        """
        if self.running:
            raise ComparisonError("a comparison is already running")
        if frames_per_suite < BLOCKS:
            raise ValueError(f"compare at least {BLOCKS} frames per suite")
        self._current = ComparisonResult(device, frames_per_suite, paper=paper)
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
            result.error = result.error or CANCELLED
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
        self,
        device: str,
        frames_per_suite: int,
        result: ComparisonResult | None = None,
        *,
        paper: bool = False,
    ) -> ComparisonResult:
        """Alternate the suites until each has `frames_per_suite` frames; emit `finished`.

        A camera that disconnects, a receiver that stops or a camera that does not switch in
        time ends the run early: `result.error` says why and the frames collected so far stay
        in `result.timelines`. With `paper` (or `result.paper`), the frames collected then go
        through the paper scheme, unless the run was cancelled.
        """
        result = result or ComparisonResult(device, frames_per_suite, paper=paper)
        total = 2 * frames_per_suite
        per_block = -(-frames_per_suite // BLOCKS)
        receiver = self._receiver.receiver if result.paper else None
        # Both suites at the camera's own settings: adaptation would change them mid-run.
        adapter = self._receiver.adapter
        if adapter is not None:
            adapter.hold(device)
        with (
            _Watch(self._receiver, device) as watch,
            _PaperSample(receiver, device, total) as sample,
        ):
            try:
                for _ in range(BLOCKS):
                    for suite in SUITES:
                        wanted = min(per_block, frames_per_suite - len(result.timelines[suite]))
                        if wanted > 0:
                            await self._collect(watch, device, suite, wanted, result, sample)
                            self.progress.emit(sum(result.counts().values()), total)
                await asyncio.sleep(PAINT_GRACE_S)
            except asyncio.CancelledError:
                result.error = CANCELLED
            except ComparisonError as exc:
                result.error = str(exc)
                log.warning("comparison on %s stopped: %s", device, result.error)
            finally:
                await self._leave_encrypted(watch, device)  # whatever happened
                if adapter is not None:
                    adapter.release(device)
        if result.paper:
            if result.error == CANCELLED:
                result.paper_error = CANCELLED
            else:
                await self._measure_paper(result, sample.jpegs)
        self._finish(result)
        return result

    async def _measure_paper(self, result: ComparisonResult, jpegs: list[bytes]) -> None:
        """Time `jpegs` through the paper scheme on its own thread; fill `result.paper_*`."""
        if not jpegs:
            result.paper_error = "no frames were collected to measure"
            return
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:  # on the worker thread
            with contextlib.suppress(RuntimeError):  # the window's loop closed meanwhile
                loop.call_soon_threadsafe(self.paperProgress.emit, done, total)

        self.paperProgress.emit(0, len(jpegs))
        try:
            times_us = await _PaperWorker(jpegs, progress).run()
        except asyncio.CancelledError:
            result.paper_error = CANCELLED
            return
        except BenchError as exc:
            result.paper_error = str(exc)
            log.warning("comparison on %s: %s not measured: %s", result.device, PAPER_LABEL, exc)
            return
        result.paper_ms = [round(us / 1000, 3) for us in times_us]
        result.paper_bytes = [len(jpeg) for jpeg in jpegs]

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
        self,
        watch: _Watch,
        device: str,
        suite: Suite,
        count: int,
        result: ComparisonResult,
        sample: _PaperSample,
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
                            sample.collected(timeline, sum(result.counts().values()))
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
