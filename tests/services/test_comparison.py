"""Comparison runs end with a result whatever happens to the camera: never silently."""

import asyncio
import logging

import pytest
from websockets.exceptions import ConnectionClosedOK
from websockets.frames import Close

from app.protocol.records import Control
from app.receiver.stats import DeviceState
from app.services.comparison import ComparisonError, ComparisonService
from app.services.receiver_service import ReceiverService
from tests.waiting import scaled, wait_until


def live(receiver: ReceiverService, name: str, suite: str = "noise"):
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
