"""Comparison runs end with a result whatever happens to the camera: never silently."""

import asyncio
import logging

import pytest
from websockets.exceptions import ConnectionClosedOK
from websockets.frames import Close

from app.protocol.hello import Suite
from app.protocol.records import Control
from app.protocol.timeline import FrameTimeline
from app.receiver.stats import DeviceState
from app.services.comparison import ComparisonError, ComparisonService
from app.services.receiver_service import ReceiverService
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
