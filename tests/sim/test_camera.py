"""The simulated camera behaves like the firmware: paced, never behind, reconnecting."""

import asyncio
import socket
import threading
import time
from typing import Any

import pytest

from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.records import Control
from app.protocol.session import Credentials
from app.receiver.events import FrameArrived
from app.receiver.server import Receiver
from app.sim import camera as camera_module
from app.sim.camera import CameraStats, SimulatedCamera, jpeg_quality, missed_slots
from app.sim.sources import FrameSource, PrerenderedSource, SyntheticSource
from tests.waiting import scaled, wait_until

KEY = b"\x05" * 32
DEVICES = {"cam": Credentials("cam", KEY)}


class SlowSource:
    """A sensor that needs 30 ms per frame, slower than the 100 fps asked for."""

    def __init__(self) -> None:
        self._inner = PrerenderedSource.synthetic(FrameSize.QQVGA, count=2)
        self.width, self.height = self._inner.width, self._inner.height

    def next_frame(self) -> bytes:
        time.sleep(0.03)  # models the sensor's capture time, blocking like the real driver
        return self._inner.next_frame()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def camera(
    port: int,
    *,
    name: str = "cam",
    key: bytes | None = KEY,
    source: FrameSource | None = None,
    **options: Any,
) -> SimulatedCamera:
    """A simulated camera for a receiver on `port`: "cam" with KEY, sending two synthetic
    QQVGA frames in turn unless told otherwise; `options` go to SimulatedCamera."""
    return SimulatedCamera(
        f"ws://127.0.0.1:{port}/camera",
        name,
        key,
        source or PrerenderedSource.synthetic(FrameSize.QQVGA, count=2),
        **options,
    )


async def run_to_end(sim: SimulatedCamera, timeout: float = 30) -> CameraStats:
    """Run `sim` until it ends by itself (its frames sent, or refused)."""
    return await asyncio.wait_for(sim.run(), scaled(timeout))


async def stop(sim: SimulatedCamera, task: asyncio.Task[CameraStats], timeout: float = 5) -> None:
    """Stop `sim` running in `task` and wait for it to end."""
    sim.stop()
    await asyncio.wait_for(task, scaled(timeout))


async def test_a_slow_capture_skips_slots_instead_of_queueing_frames():
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        sim = camera(receiver.port, source=SlowSource(), fps=100, frames=10, reconnect=False)
        stats = await run_to_end(sim)
    assert stats.frames_sent == 10
    # Each 30 ms capture overruns its 10 ms slot: the slots it covered are counted as skipped
    # (two or more per frame, more on a busy machine) instead of being sent late, back to
    # back, to catch up; a camera that queued frames would skip none.
    assert stats.frames_skipped >= 10


async def test_its_status_reports_frames_dropped_and_leaves_the_stack_unknown():
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        await run_to_end(camera(receiver.port, fps=20, frames=3, reconnect=False))
        status = await wait_until(lambda: "cam" in receiver.stats and receiver.stats["cam"].status)
    # A count (0 unless the loopback link was ever busy), never "unknown"; the stack
    # high-water mark is the firmware's alone, so the simulator does not invent one.
    assert isinstance(status.frames_dropped, int) and status.frames_dropped >= 0
    assert status.stack_min_free is None
    assert receiver.stats["cam"].snapshot(0)["stack_min_free"] is None


@pytest.mark.parametrize(
    ("next_capture", "send_started", "now", "expected"),
    [
        (1.0, 0.9, 0.95, (0, 0)),  # on time: nothing missed
        (1.0, 1.0, 1.8, (4, 4)),  # the send took the slots at 1.0, 1.25, 1.5 and 1.75
        (1.0, 1.3, 1.8, (4, 2)),  # 1.0 and 1.25 went to a slow capture, 1.5 and 1.75 to the link
        (1.0, 1.9, 1.95, (4, 0)),  # all missed before the send began: none dropped
        (1.0, 1.5, 1.75, (4, 2)),  # a slot exactly at the send's start is the link's
    ],
    ids=["on-time", "all-send", "split", "all-capture", "boundary"],
)
def test_missed_slots_counts_as_dropped_only_those_that_came_while_a_frame_was_sent(
    next_capture, send_started, now, expected
):
    assert missed_slots(next_capture, send_started, now, 0.25) == expected


async def test_frame_rate_is_capped():
    interval_us = 50_000  # 20 fps
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        await run_to_end(camera(receiver.port, fps=20, frames=11, reconnect=False))
        timelines = await wait_until(
            lambda: len(receiver.stats["cam"].timelines) == 11 and receiver.stats["cam"].timelines
        )
    # On the camera's own clock, as the frames carry it: frame j is captured no earlier than
    # the slot after the one frame i was sent in, and every slot is one interval long. Delays
    # (a busy machine) only push captures later, so this holds at any speed.
    captures = [t.device_capture_us for t in timelines]
    for i in range(len(captures)):
        for j in range(i + 1, len(captures)):
            assert captures[j] - captures[i] >= (j - i - 1) * interval_us, (i, j, captures)


async def test_it_keeps_retrying_until_a_receiver_appears(monkeypatch, caplog):
    monkeypatch.setattr(camera_module, "BACKOFF_FIRST_S", 0.05)
    port = free_port()
    frames = []
    sim = camera(port, fps=50, frames=5)
    task = asyncio.create_task(sim.run())
    await wait_until(lambda: caplog.text.count("cam: connection failed") >= 2)
    assert sim.stats.connects == 0 and sim.stats.last_close[0] == 1006
    receiver = Receiver(DEVICES.get, host="127.0.0.1", port=port)
    receiver.add_listener(lambda e: frames.append(e) if isinstance(e, FrameArrived) else None)
    await receiver.start()
    try:
        stats = await asyncio.wait_for(task, scaled(10))
    finally:
        await receiver.stop()
    assert stats.connects == 1 and stats.frames_sent == 5 and len(frames) == 5


async def test_an_identity_rejection_ends_the_run_unless_told_to_retry(monkeypatch):
    monkeypatch.setattr(camera_module, "BACKOFF_FIRST_S", 0.05)
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        source = PrerenderedSource.synthetic(FrameSize.QQVGA, count=1)
        stranger = camera(receiver.port, name="stranger", source=source)
        await run_to_end(stranger, 5)
        # An unknown device is told only that authentication failed: the receiver does not
        # say which names it knows.
        assert stranger.rejected and stranger.stats.last_close[0] == CloseCode.AUTH_FAILED
        stubborn = camera(receiver.port, name="stranger", source=source, retry_rejected=True)
        task = asyncio.create_task(stubborn.run())
        await wait_until(lambda: receiver.connections_rejected >= 3 or task.done())
        assert not task.done()  # still retrying after three rejections
        await stop(stubborn, task)


async def test_plain_suite_needs_no_key_but_noise_does():
    camera(1, key=None, suite=Suite.PLAIN)
    try:
        camera(1, key=None)
    except ValueError as exc:
        assert "key" in str(exc)
    else:
        raise AssertionError("an encrypted camera without a key was accepted")


def test_esp32_quality_maps_onto_jpeg_quality_monotonically():
    values = [jpeg_quality(q) for q in range(4, 64)]
    assert values == sorted(values, reverse=True)
    assert min(values) >= 5 and max(values) <= 95


async def test_a_suite_control_reconnects_in_that_suite_and_plain_lasts_one_session():
    devices = {"cam": Credentials("cam", KEY, allow_plain=True)}
    async with Receiver(devices.get, host="127.0.0.1", port=0) as receiver:
        sim = camera(receiver.port, fps=50)
        task = asyncio.create_task(sim.run())

        async def wait_for(suite: Suite, sessions: int) -> None:
            def live() -> bool:
                stats = receiver.stats.get("cam")
                now = None if stats is None else (stats.connected, stats.suite, stats.sessions)
                return now == (True, suite, sessions)

            await wait_until(live, message=f"{suite.name.lower()} session {sessions} live")

        await wait_for(Suite.NOISE, 1)
        assert await receiver.send_control("cam", Control(suite=Suite.PLAIN))
        await wait_for(Suite.PLAIN, 2)
        assert await receiver.send_control("cam", Control(suite=Suite.NOISE))
        await wait_for(Suite.NOISE, 3)
        assert await receiver.send_control("cam", Control(suite=Suite.PLAIN))
        await wait_for(Suite.PLAIN, 4)
        await receiver.disconnect("cam", CloseCode.GOING_AWAY, "test")  # plain session ends
        await wait_for(Suite.NOISE, 5)
        await stop(sim, task)


async def test_a_quality_the_jpeg_buffer_cannot_hold_is_raised_to_the_floor_and_reported():
    # Like a board with PSRAM (docs/JPEG-BUFFER.md): UXGA frames fit its 384,000-byte buffer
    # from quality 17 on; the quality asked for is kept and comes back at a smaller size.
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        sim = camera(
            receiver.port,
            fps=20,
            frame_size=FrameSize.UXGA,  # the provisioned default asks for UXGA at 12
            quality=12,
        )
        task = asyncio.create_task(sim.run())
        try:

            def status() -> tuple[int, int] | None:
                stats = receiver.stats.get("cam")
                if stats is None or stats.status is None:
                    return None
                return stats.status.frame_size, stats.status.quality

            assert await wait_until(status) == (FrameSize.UXGA, 17)
            assert await receiver.send_control("cam", Control(frame_size=FrameSize.VGA))
            await wait_until(lambda: status() == (FrameSize.VGA, 12))
            assert await receiver.send_control("cam", Control(frame_size=FrameSize.SXGA, quality=4))
            await wait_until(lambda: status() == (FrameSize.SXGA, 10))
            assert await receiver.send_control("cam", Control(quality=30))
            await wait_until(lambda: status() == (FrameSize.SXGA, 30))
        finally:
            await stop(sim, task, 10)
    assert sim.settings.quality == 30


async def test_new_settings_show_the_same_scene_at_the_new_size():
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        sim = camera(receiver.port, source=SyntheticSource(FrameSize.QVGA, seed=3), fps=20)
        task = asyncio.create_task(sim.run())
        try:
            await wait_until(lambda: receiver.is_live("cam"))
            assert await receiver.send_control("cam", Control(frame_size=FrameSize.CIF))
            await wait_until(lambda: sim.source.width == FrameSize.CIF.width)
            assert sim.source.seed == 3  # demo-4's room stays demo-4's room
        finally:
            await stop(sim, task, 10)


class ThreadNotingSource:
    """Two synthetic QQVGA frames in turn, noting the thread each was captured on."""

    def __init__(self) -> None:
        self._inner = PrerenderedSource.synthetic(FrameSize.QQVGA, count=2)
        self.width, self.height = self._inner.width, self._inner.height
        self.threads: set[int] = set()

    def next_frame(self) -> bytes:
        self.threads.add(threading.get_ident())
        return self._inner.next_frame()


@pytest.mark.parametrize("in_thread", [True, False], ids=["worker-thread", "event-loop"])
async def test_capture_in_thread_keeps_the_event_loop_free_of_rendering(in_thread):
    source = ThreadNotingSource()
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        sim = camera(
            receiver.port, source=source, frames=5, reconnect=False, capture_in_thread=in_thread
        )
        stats = await run_to_end(sim)
        await wait_until(lambda: receiver.stats["cam"].frames_received == 5)
    assert stats.frames_sent == 5
    loop_thread = threading.get_ident()
    assert (loop_thread not in source.threads) is in_thread
