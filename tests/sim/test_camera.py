"""The simulated camera behaves like the firmware: paced, never behind, reconnecting."""

import asyncio
import socket
import time

from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.records import Control
from app.protocol.session import Credentials
from app.receiver.server import FrameArrived, Receiver
from app.sim import camera as camera_module
from app.sim.camera import SimulatedCamera, jpeg_quality
from app.sim.sources import PrerenderedSource

KEY = b"\x05" * 32
DEVICES = {"cam": Credentials("cam", KEY)}


class SlowSource:
    """A sensor that needs 30 ms per frame, slower than the 100 fps asked for."""

    def __init__(self) -> None:
        self._inner = PrerenderedSource.synthetic(FrameSize.QQVGA, count=2)
        self.width, self.height = self._inner.width, self._inner.height

    def next_frame(self) -> bytes:
        time.sleep(0.03)
        return self._inner.next_frame()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_slow_capture_skips_slots_instead_of_queueing_frames():
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        sim = SimulatedCamera(
            f"ws://127.0.0.1:{receiver.port}/camera",
            "cam",
            KEY,
            SlowSource(),
            fps=100,
            frames=10,
            reconnect=False,
        )
        started = time.monotonic()
        stats = await sim.run()
        elapsed = time.monotonic() - started
    assert stats.frames_sent == 10
    assert stats.frames_skipped >= 10  # about two 10 ms slots lost per 30 ms frame
    assert elapsed < 1.0  # ten frames took about ten capture times, no backlog to drain


async def test_frame_rate_is_capped():
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        sim = SimulatedCamera(
            f"ws://127.0.0.1:{receiver.port}/camera",
            "cam",
            KEY,
            PrerenderedSource.synthetic(FrameSize.QQVGA, count=2),
            fps=20,
            frames=11,
            reconnect=False,
        )
        started = time.monotonic()
        await sim.run()
        assert time.monotonic() - started >= 0.45  # 10 intervals of 50 ms


async def test_it_keeps_retrying_until_a_receiver_appears(monkeypatch):
    monkeypatch.setattr(camera_module, "BACKOFF_FIRST_S", 0.05)
    port = free_port()
    frames = []
    sim = SimulatedCamera(
        f"ws://127.0.0.1:{port}/camera",
        "cam",
        KEY,
        PrerenderedSource.synthetic(FrameSize.QQVGA, count=2),
        fps=50,
        frames=5,
    )
    task = asyncio.create_task(sim.run())
    await asyncio.sleep(0.4)
    assert sim.stats.connects == 0 and sim.stats.last_close[0] == 1006
    receiver = Receiver(DEVICES.get, host="127.0.0.1", port=port)
    receiver.add_listener(lambda e: frames.append(e) if isinstance(e, FrameArrived) else None)
    await receiver.start()
    try:
        stats = await asyncio.wait_for(task, 10)
    finally:
        await receiver.stop()
    assert stats.connects == 1 and stats.frames_sent == 5 and len(frames) == 5


async def test_an_identity_rejection_ends_the_run_unless_told_to_retry(monkeypatch):
    monkeypatch.setattr(camera_module, "BACKOFF_FIRST_S", 0.05)
    async with Receiver(DEVICES.get, host="127.0.0.1", port=0) as receiver:
        url = f"ws://127.0.0.1:{receiver.port}/camera"
        source = PrerenderedSource.synthetic(FrameSize.QQVGA, count=1)
        stranger = SimulatedCamera(url, "stranger", KEY, source)
        await asyncio.wait_for(stranger.run(), 5)
        assert stranger.rejected and stranger.stats.last_close[0] == CloseCode.UNKNOWN_DEVICE
        stubborn = SimulatedCamera(url, "stranger", KEY, source, retry_rejected=True)
        task = asyncio.create_task(stubborn.run())
        await asyncio.sleep(0.5)
        assert not task.done() and receiver.connections_rejected >= 3
        stubborn.stop()
        await asyncio.wait_for(task, 5)


async def test_plain_suite_needs_no_key_but_noise_does():
    source = PrerenderedSource.synthetic(FrameSize.QQVGA, count=1)
    SimulatedCamera("ws://127.0.0.1:1/camera", "cam", None, source, suite=Suite.PLAIN)
    try:
        SimulatedCamera("ws://127.0.0.1:1/camera", "cam", None, source)
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
        sim = SimulatedCamera(
            f"ws://127.0.0.1:{receiver.port}/camera",
            "cam",
            KEY,
            PrerenderedSource.synthetic(FrameSize.QQVGA, count=2),
            fps=50,
        )
        task = asyncio.create_task(sim.run())

        async def wait_for(suite: str, sessions: int) -> None:
            for _ in range(200):
                stats = receiver.stats.get("cam")
                if (
                    stats
                    and stats.connected
                    and stats.suite == suite
                    and stats.sessions == sessions
                ):
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"never {suite} session {sessions}: {receiver.stats.get('cam')}")

        await wait_for("noise", 1)
        assert await receiver.send_control("cam", Control(suite=Suite.PLAIN))
        await wait_for("plain", 2)
        assert await receiver.send_control("cam", Control(suite=Suite.NOISE))
        await wait_for("noise", 3)
        assert await receiver.send_control("cam", Control(suite=Suite.PLAIN))
        await wait_for("plain", 4)
        await receiver.disconnect("cam", CloseCode.GOING_AWAY, "test")  # plain session ends
        await wait_for("noise", 5)
        sim.stop()
        await task
