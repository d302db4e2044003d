"""Comparison runs end with a result whatever happens to the camera: never silently."""

import asyncio
import contextlib
import logging
import threading

import pytest
from websockets.exceptions import ConnectionClosedOK
from websockets.frames import Close

from app.bench import paper
from app.devices.lookup import credentials_lookup
from app.devices.registry import Registry
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.records import Control
from app.protocol.timeline import Frame, FrameTimeline, Mark
from app.receiver.events import FrameArrived
from app.receiver.server import Receiver
from app.receiver.stats import DeviceState
from app.services.comparison import (
    PAPER_FRAMES,
    PAPER_LABEL,
    PAPER_PENDING,
    ComparisonError,
    ComparisonService,
    _PaperSample,
)
from app.services.receiver_service import ReceiverService
from app.sim.camera import SimulatedCamera
from app.sim.sources import SyntheticSource
from app.tasks import spawn
from tests.waiting import scaled, wait_until


def live(receiver: ReceiverService, name: str, suite: Suite = Suite.NOISE):
    stats = receiver._receiver.device_stats(name)
    stats.state, stats.suite = DeviceState.LIVE, suite
    return stats


def run(loop, coro, timeout: float = 10):
    return loop.run_until_complete(asyncio.wait_for(coro, scaled(timeout)))


def test_a_connection_closed_while_sending_control_is_false_not_an_exception(
    qloop,
    receiver,
    monkeypatch,
):
    # The race (the camera closes while the control is flushed) cannot be forced over a real
    # socket, so the receiver raises what websockets raised there.
    async def closing(device, control):
        raise ConnectionClosedOK(Close(1000, "switching to plain"), Close(1000, ""), True)

    monkeypatch.setattr(receiver._receiver, "send_control", closing)
    assert run(qloop, receiver.send_control("cam", Control(suite=1))) is False


def test_a_camera_that_never_comes_back_ends_the_run_with_a_reason(qloop, receiver):
    stats = live(receiver, "cam")
    comparison = ComparisonService(receiver)
    comparison.switch_timeout_s = 0.3
    results = []
    comparison.finished.connect(results.append)
    comparison.start("cam", 8)
    stats.state = DeviceState.OFFLINE  # gone before the first switch

    run(qloop, wait_until(lambda: results))
    (result,) = results
    assert result is comparison.last
    assert "cam disconnected during the run" in result.error
    assert "did not come back" in result.error
    assert not comparison.running


def test_an_unexpected_error_is_logged_and_still_ends_the_run(
    qloop,
    receiver,
    monkeypatch,
    caplog,
):
    live(receiver, "cam")
    unhandled = []
    qloop.set_exception_handler(lambda _loop, context: unhandled.append(context))

    async def broken(device, control):
        raise KeyError("a bug")

    monkeypatch.setattr(receiver, "send_control", broken)
    comparison = ComparisonService(receiver)
    results = []
    comparison.finished.connect(results.append)
    comparison.start("cam", 8)

    run(qloop, wait_until(lambda: results))
    assert len(results) == 1
    assert results[0].error.startswith("unexpected error: KeyError")
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "comparison on cam" in logged[0].getMessage()
    assert unhandled == []


def test_a_second_run_is_refused_with_a_comparison_error(qloop, receiver):
    live(receiver, "cam")
    comparison = ComparisonService(receiver)
    comparison.start("cam", 8)
    with pytest.raises(ComparisonError, match="already running"):
        comparison.start("cam", 8)
    comparison.cancel()
    run(qloop, wait_until(lambda: comparison.last))
    assert comparison.last.error == "cancelled"


class FakeCamera:
    """Answers suite controls the way a camera does (a new session in the asked suite) and
    sends frames on demand, through the receiver's stats and the service's signals only."""

    def __init__(self, receiver: ReceiverService, name: str) -> None:
        self.receiver = receiver
        self.name = name
        self.stats = live(receiver, name)
        self.stats.sessions = 1
        self.controls: list[tuple[Suite, int]] = []
        self.seq = 0

    async def send_control(self, device: str, control: Control) -> bool:
        self.controls.append((Suite(control.suite), self.stats.sessions))
        self.stats.suite = Suite(control.suite)
        self.stats.sessions += 1
        self.receiver.deviceChanged.emit(self.name)
        return True

    def send_frames(self, count: int) -> None:
        for _ in range(count):
            self.seq += 1
            self.stats.add_frame(
                FrameTimeline(self.name, self.stats.suite, self.seq, 100, 0, 0, 1, 1, 2, 0)
            )
            self.receiver.frameArrived.emit(self.name)

    async def stream(self, until) -> None:
        """A frame per loop turn while the camera is live, until `until()` is true."""
        while not until():
            if self.stats.connected:
                self.send_frames(1)
            await asyncio.sleep(0)


def test_a_run_follows_the_cameras_frames_and_switches(qloop, receiver, monkeypatch):
    camera = FakeCamera(receiver, "cam")
    monkeypatch.setattr(receiver, "send_control", camera.send_control)
    comparison = ComparisonService(receiver)
    results, progress = [], []
    comparison.finished.connect(results.append)
    comparison.progress.connect(lambda done, total: progress.append((done, total)))
    comparison.start("cam", 8)

    run(qloop, camera.stream(lambda: results))
    (result,) = results
    assert result.error is None
    assert [len(result.timelines[s]) for s in (Suite.PLAIN, Suite.NOISE)] == [8, 8]
    assert {t.suite for t in result.timelines[Suite.PLAIN]} == {Suite.PLAIN}
    assert {t.suite for t in result.timelines[Suite.NOISE]} == {Suite.NOISE}
    # One control per session in the other suite: plain, encrypted, four blocks each.
    assert [suite for suite, _ in camera.controls] == [Suite.PLAIN, Suite.NOISE] * 4
    assert len({session for _, session in camera.controls}) == len(camera.controls)
    assert progress[-1] == (16, 16)
    assert camera.stats.suite is Suite.NOISE  # left encrypted


def test_a_camera_lost_mid_run_ends_it_with_the_frames_so_far(qloop, receiver, monkeypatch):
    camera = FakeCamera(receiver, "cam")
    monkeypatch.setattr(receiver, "send_control", camera.send_control)
    comparison = ComparisonService(receiver)
    results = []
    comparison.finished.connect(results.append)
    comparison.start("cam", 40)  # blocks of 10

    async def scenario():
        await wait_until(lambda: camera.stats.suite is Suite.PLAIN)
        camera.send_frames(3)
        camera.stats.state = DeviceState.OFFLINE
        receiver.deviceChanged.emit("cam")
        await wait_until(lambda: results)

    run(qloop, scenario())
    (result,) = results
    assert result.error == "cam disconnected during the run (after 0 encrypted and 3 plain frames)"
    assert len(result.timelines[Suite.PLAIN]) == 3 and result.timelines[Suite.NOISE] == []
    assert not comparison.running


def test_a_receiver_that_stops_ends_the_run(qloop, receiver, monkeypatch):
    camera = FakeCamera(receiver, "cam")
    monkeypatch.setattr(receiver, "send_control", camera.send_control)
    comparison = ComparisonService(receiver)
    results = []
    comparison.finished.connect(results.append)
    comparison.start("cam", 8)

    async def scenario():
        await wait_until(lambda: camera.stats.suite is Suite.PLAIN)
        receiver._receiver = None
        receiver.listeningChanged.emit()
        await wait_until(lambda: results)

    run(qloop, scenario())
    assert results[0].error == "the receiver stopped during the run"


# -- the paper scheme as a third series (issue 12 §2) -----------------------------------------


class RecordingSource:
    """A real synthetic VGA source that remembers every JPEG it handed to the camera."""

    def __init__(self) -> None:
        self.inner = SyntheticSource(FrameSize.VGA, label="cam")
        self.width, self.height = self.inner.width, self.inner.height
        self.sent: list[bytes] = []

    def next_frame(self) -> bytes:
        jpeg = self.inner.next_frame()
        self.sent.append(jpeg)
        return jpeg


@contextlib.asynccontextmanager
async def streaming(directory, adapt=False):
    """A listening ReceiverService and a simulated camera allowed to switch to plain, both
    stopped on the way out (inside the test's coroutine: nothing left running on the loop)."""
    registry = Registry(directory)
    registry.add("cam", allow_plain=True)
    service = ReceiverService(credentials_lookup(registry), adapt=adapt)
    assert await service.start("127.0.0.1", 0)
    source = RecordingSource()
    url = f"ws://127.0.0.1:{service.port}/camera"
    camera = SimulatedCamera(url, "cam", registry.get("cam").key.raw, source, fps=25)
    task = spawn(camera.run(), name="camera")
    try:
        await wait_until(lambda: service.live_devices() == ["cam"], 10)
        yield service, source
    finally:
        camera.stop()
        await asyncio.wait_for(task, scaled(10))
        await service.stop()
        service.close()


async def compare(service, paper_option: bool, on_paper_progress=None):
    """One run of 8 frames per suite on "cam"; its result."""
    comparison = ComparisonService(service)
    results = []
    comparison.finished.connect(results.append)
    if on_paper_progress is not None:
        comparison.paperProgress.connect(lambda *p: on_paper_progress(comparison, *p))
    comparison.start("cam", 8, paper=paper_option)
    (result,) = await wait_until(lambda: results, 60)
    return result


class MeasureSpy:
    """Calls the bench's real `measure_frames`, noting what it was given and on which thread."""

    def __init__(self) -> None:
        self.real = paper.measure_frames
        self.calls: list[tuple[list[bytes], object, threading.Thread]] = []

    async def __call__(self, jpegs, transport=None, progress=None):
        self.calls.append((list(jpegs), transport, threading.current_thread()))
        return await self.real(jpegs, transport, progress)


def test_the_paper_option_adds_a_third_series_measured_by_the_bench_on_the_runs_frames(
    qloop, tmp_path, monkeypatch
):
    spy = MeasureSpy()
    monkeypatch.setattr(paper, "measure_frames", spy)
    paper_progress = []

    async def scenario():
        async with streaming(tmp_path) as (service, source):
            stats = service.stats("cam")
            result = await compare(service, True, lambda _, *p: paper_progress.append(p))
            # The scheme never reached the receiver or the camera: one camera, no other peer.
            assert service.receiver.connections_rejected == 0
            assert list(service.all_stats()) == ["cam"] and service.stats("cam") is stats
            return result, list(source.sent)

    result, sent = run(qloop, scenario(), timeout=90)
    assert result.error is None and result.paper_error is None
    assert result.counts() == {Suite.PLAIN: 8, Suite.NOISE: 8}
    # One sample per frame the run collected (16, under PAPER_FRAMES), measured by the bench
    # code on its own thread over its own loopback sockets, from what the camera really sent.
    ((measured, transport, thread),) = spy.calls
    assert len(measured) == 16 and len(result.paper_ms) == 16
    assert all(ms > 0 for ms in result.paper_ms)
    assert result.paper_bytes == [len(jpeg) for jpeg in measured]
    index = {jpeg: i for i, jpeg in enumerate(sent)}
    order = [index[jpeg] for jpeg in measured]  # KeyError: a frame the camera never sent
    assert order == sorted(order) and len(set(order)) == 16
    assert transport is None  # measure_frames' default: Loopback
    assert thread is not threading.main_thread()
    assert paper_progress[0] == (0, 16) and paper_progress[-1] == (16, 16)
    summary = result.summary(Mark.DECRYPTED)
    assert summary.paper["count"] == 16
    assert summary.suites[Suite.PLAIN]["count"] == summary.suites[Suite.NOISE]["count"] == 8


def test_without_the_paper_option_a_run_has_two_series_and_never_runs_the_scheme(
    qloop, tmp_path, monkeypatch
):
    spy = MeasureSpy()
    monkeypatch.setattr(paper, "measure_frames", spy)

    async def scenario():
        async with streaming(tmp_path) as (service, _):
            return await compare(service, False)

    result = run(qloop, scenario(), timeout=90)
    assert result.error is None and result.counts() == {Suite.PLAIN: 8, Suite.NOISE: 8}
    assert not result.paper and result.paper_ms == [] and result.paper_error is None
    assert result.summary(Mark.DECRYPTED).paper is None
    assert spy.calls == []


def test_the_paper_sample_is_bounded_and_spread_over_the_whole_run():
    receiver = Receiver(lambda name: None)
    total = 400
    timelines = [
        FrameTimeline("cam", Suite.NOISE, seq, 100, 0, 0, 1, 1, 2, 0) for seq in range(total)
    ]
    with _PaperSample(receiver, "cam", total) as sample:
        for index, timeline in enumerate(timelines):
            jpeg = b"\xff\xd8 frame %d" % index
            receiver._emit(FrameArrived(Frame("cam", index, memoryview(jpeg), timeline)))
            receiver._emit(FrameArrived(Frame("other", index, b"not cam", timeline)))
            sample.collected(timeline, index)
            assert len(sample._pending) <= PAPER_PENDING
    assert len(sample.jpegs) == PAPER_FRAMES
    assert sample.jpegs[0] == b"\xff\xd8 frame 0" and sample.jpegs[-1] == b"\xff\xd8 frame 392"
    assert all(type(jpeg) is bytes for jpeg in sample.jpegs)  # copies, not views
    assert receiver._listeners == []  # the listener leaves with the run


def test_the_paper_label_is_the_bench_codes():
    assert PAPER_LABEL == paper.LABEL


def test_cancelling_during_the_paper_measurement_keeps_the_live_series_and_stops_the_thread(
    qloop, tmp_path
):
    def measuring() -> bool:
        return any(t.name == "paper scheme measurement" for t in threading.enumerate())

    async def scenario():
        async with streaming(tmp_path) as (service, _):
            result = await compare(service, True, lambda comparison, *_: comparison.cancel())
            await wait_until(lambda: not measuring())
            return result

    result = run(qloop, scenario(), timeout=90)
    assert result.error is None and result.counts() == {Suite.PLAIN: 8, Suite.NOISE: 8}
    assert result.paper_error == "cancelled" and result.paper_ms == []


def test_a_run_holds_the_cameras_adaptation_and_releases_it_after(qloop, tmp_path):
    async def scenario():
        async with streaming(tmp_path, adapt=True) as (service, _):
            adapter = service.adapter
            assert adapter.adapting("cam")
            comparison = ComparisonService(service)
            results = []
            comparison.finished.connect(results.append)
            comparison.start("cam", 8)
            await wait_until(lambda: comparison.running and not adapter.adapting("cam"), 10)
            service.refresh_adaptation()  # the window's timer: the hold stays
            assert not adapter.adapting("cam")
            (result,) = await wait_until(lambda: results, 60)
            assert adapter.adapting("cam")
            return result

    result = run(qloop, scenario(), timeout=90)
    assert result.error is None and result.counts() == {Suite.PLAIN: 8, Suite.NOISE: 8}
