"""The receiver against simulated cameras over real loopback WebSockets."""

import asyncio
import socket

import pytest

from app.devices.lookup import credentials_lookup
from app.devices.registry import Registry
from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.limits import Limits
from app.protocol.records import Control
from app.protocol.session import Credentials
from app.receiver.events import (
    ConnectionRejected,
    DeviceConnected,
    DeviceDisconnected,
    FrameArrived,
    StatusArrived,
)
from app.receiver.server import Receiver
from app.receiver.stats import DeviceState
from app.serial.provisioner import _register
from app.sim.camera import BOARD_SEND_BUFFER, SimulatedCamera
from app.sim.sources import PrerenderedSource, SyntheticSource
from tests.waiting import scaled, wait_until

DEVICES = {
    f"cam{i}": Credentials(f"cam{i}", bytes([i + 1]) * 32, allow_plain=i % 2 == 1) for i in range(4)
}


@pytest.fixture
async def receiver():
    receiver = Receiver(DEVICES.get, host="127.0.0.1", port=0)
    await receiver.start()
    yield receiver
    await receiver.stop()


def url(receiver: Receiver) -> str:
    return f"ws://127.0.0.1:{receiver.port}/camera"


def camera(receiver, name, source, **kwargs) -> SimulatedCamera:
    return SimulatedCamera(url(receiver), name, DEVICES[name].psk, source, **kwargs)


async def test_several_cameras_in_both_suites_deliver_every_frame_bit_exact(receiver):
    sources = {
        name: PrerenderedSource.synthetic(FrameSize.QVGA, count=7, seed=i)
        for i, name in enumerate(DEVICES)
    }
    expected = {name: [sources[name].frames[i % 7] for i in range(40)] for name in DEVICES}
    received: dict[str, list[bytes]] = {name: [] for name in DEVICES}
    receiver.add_listener(
        lambda e: (
            received[e.frame.device].append(e.frame.jpeg) if isinstance(e, FrameArrived) else None
        )
    )
    cameras = [
        camera(
            receiver,
            name,
            sources[name],
            frames=40,
            fps=200,
            reconnect=False,
            suite=Suite.PLAIN if DEVICES[name].allow_plain else Suite.NOISE,
        )
        for name in DEVICES
    ]
    await asyncio.gather(*(c.run() for c in cameras))
    # A camera's run ends at its close handshake, which may beat the receiver to its last frames.
    await wait_until(
        lambda: all(len(received[name]) >= 40 for name in DEVICES), message="every frame"
    )
    assert received == expected
    for name in DEVICES:
        stats = receiver.stats[name]
        assert stats.frames_received == 40 and stats.frames_rejected == 0
        assert stats.suite is (Suite.PLAIN if DEVICES[name].allow_plain else Suite.NOISE)
        assert stats.bytes == sum(len(f) for f in expected[name])


async def test_multi_chunk_frames_arrive_bit_exact_with_a_complete_timeline(receiver):
    source = PrerenderedSource.synthetic(FrameSize.UXGA, count=2)
    assert len(source.frames[0]) > 65490  # needs more than one chunk
    frames = []
    receiver.add_listener(lambda e: frames.append(e.frame) if isinstance(e, FrameArrived) else None)
    await camera(receiver, "cam0", source, frames=6, fps=100, reconnect=False).run()
    await wait_until(lambda: len(frames) == 6, message="six frames")
    assert [f.jpeg for f in frames] == [source.frames[i % 2] for i in range(6)]
    assert [f.seq for f in frames] == list(range(1, 7))
    for frame in frames:
        t = frame.timeline
        assert t.size == len(frame.jpeg)
        assert t.first_rx_us <= t.last_rx_us <= t.decrypted_us
        assert t.device_capture_us <= t.device_send_us
        assert t.clock_offset_us is not None and t.clock_error_us is not None
        latency = t.latency_ms(t.decrypted_us)
        # The offset is only known to within RTT/2, so on loopback a latency may read below 0.
        assert latency is not None and latency >= -t.clock_error_us / 1000


async def test_clock_offset_recovers_the_simulated_device_clock(receiver):
    sim = camera(receiver, "cam0", PrerenderedSource.synthetic(FrameSize.QVGA, count=2), fps=50)
    task = asyncio.create_task(sim.run())
    await wait_until(
        lambda: (s := receiver.stats.get("cam0")) is not None and s.clock_error_us is not None,
        message="a clock offset for cam0",
    )
    stats = receiver.stats["cam0"]
    true_offset = -sim._boot_us  # device clock = app monotonic clock - boot time
    assert stats.clock_offset_us is not None and stats.clock_error_us is not None
    assert abs(stats.clock_offset_us - true_offset) <= stats.clock_error_us + 1000
    sim.stop()
    await task


async def test_events_tell_connect_status_frames_and_disconnect_in_order(receiver):
    events = []
    receiver.add_listener(events.append)
    sim = camera(
        receiver,
        "cam0",
        PrerenderedSource.synthetic(FrameSize.QVGA, count=2),
        frames=3,
        fps=100,
        reconnect=False,
    )
    await sim.run()
    await wait_until(
        lambda: any(isinstance(e, DeviceDisconnected) for e in events), message="the disconnect"
    )
    kinds = [type(e) for e in events]
    assert kinds[0] is DeviceConnected and kinds[-1] is DeviceDisconnected
    assert StatusArrived in kinds and kinds.count(FrameArrived) == 3
    assert events[-1].reason == "camera stopping"
    assert receiver.stats["cam0"].state is DeviceState.OFFLINE
    assert receiver.stats["cam0"].status.width == 320


async def test_control_reaches_the_live_camera_and_changes_its_stream(receiver):
    sim = camera(receiver, "cam0", SyntheticSource(FrameSize.QVGA, label="cam0"), fps=30)
    task = asyncio.create_task(sim.run())
    await asyncio.wait_for(sim.connected.wait(), scaled(5))
    await wait_until(lambda: receiver.is_live("cam0"), message="cam0 to go live")
    assert await receiver.send_control("cam0", Control(frame_size=FrameSize.VGA, fps_cap=10))
    frames = receiver.subscribe()
    # The camera answers a control with a status of the settings now in force.
    await wait_until(
        lambda: (
            sim.settings.fps == 10
            and (status := receiver.stats["cam0"].status) is not None
            and status.width == 640
            and len(frames) > 0
        ),
        message="the new settings reported and a frame",
    )
    frame = frames.take()
    assert frame is not None
    assert sim.settings.fps == 10 and sim.settings.frame_size is FrameSize.VGA
    assert (sim.source.width, sim.source.height) == (640, 480)
    assert not await receiver.send_control("cam3", Control(quality=10))  # not connected
    sim.stop()
    await task


async def test_a_slow_consumer_gets_the_latest_frame_and_drops_are_counted(receiver):
    mailbox = receiver.subscribe()
    sim = camera(
        receiver,
        "cam0",
        PrerenderedSource.synthetic(FrameSize.QVGA, count=3),
        frames=30,
        fps=300,
        reconnect=False,
    )
    await sim.run()
    await wait_until(lambda: receiver.stats["cam0"].frames_received == 30, message="30 frames")
    assert len(mailbox) == 1  # never a queue
    latest = mailbox.take()
    assert latest.seq == 30
    assert receiver.stats["cam0"].frames_dropped == 29 == mailbox.dropped


async def test_receiver_stop_closes_cameras_with_going_away_and_they_reconnect(receiver):
    sim = camera(receiver, "cam0", PrerenderedSource.synthetic(FrameSize.QVGA, count=2), fps=50)
    task = asyncio.create_task(sim.run())
    await asyncio.wait_for(sim.connected.wait(), scaled(5))
    port = receiver.port
    await receiver.stop()
    await wait_until(
        lambda: sim.stats.last_close is not None, message="the camera to see the close"
    )
    assert sim.stats.last_close == (CloseCode.GOING_AWAY, "receiver shutting down")
    again = Receiver(DEVICES.get, host="127.0.0.1", port=port)
    await again.start()
    try:
        await wait_until(
            lambda: (s := again.stats.get("cam0")) is not None and s.frames_received > 3,
            message="frames after the reconnect",
        )
        assert sim.stats.connects == 2
    finally:
        sim.stop()
        await task
        await again.stop()


async def test_stop_leaves_no_tasks_behind():
    before = set(asyncio.all_tasks())
    receiver = Receiver(DEVICES.get, host="127.0.0.1", port=0, limits=Limits(ping_interval_s=0.05))
    await receiver.start()
    sim = camera(receiver, "cam0", PrerenderedSource.synthetic(FrameSize.QVGA, count=2), fps=50)
    task = asyncio.create_task(sim.run())
    await asyncio.wait_for(sim.connected.wait(), scaled(5))
    # Live, with pings answered: the keepalive task has run and the clock is set.
    await wait_until(
        lambda: receiver.is_live("cam0") and receiver.stats["cam0"].clock_offset_us is not None,
        message="cam0 live with a clock offset",
    )
    await receiver.stop()
    sim.stop()
    await task

    def leftover() -> set[asyncio.Task]:
        return {t for t in asyncio.all_tasks() - before if not t.done()}

    await wait_until(lambda: not leftover(), message="every task to end")


async def test_rejections_are_events_and_counted(receiver):
    events = []
    receiver.add_listener(lambda e: events.append(e) if isinstance(e, ConnectionRejected) else None)
    sim = SimulatedCamera(
        url(receiver),
        "cam2",
        b"\x99" * 32,
        PrerenderedSource.synthetic(FrameSize.QVGA, count=1),
        reconnect=False,
    )
    await sim.run()
    assert sim.rejected and sim.stats.last_close[0] == CloseCode.AUTH_FAILED
    assert [e.code for e in events] == [CloseCode.AUTH_FAILED]
    assert receiver.connections_rejected == 1
    # A wrong key proves nothing: it is counted as an attempt, the device's state is untouched.
    assert receiver.stats["cam2"].state is DeviceState.OFFLINE
    assert receiver.stats["cam2"].failed_attempts == 1


async def test_a_plain_session_cannot_evict_a_live_encrypted_one_unless_asked(receiver):
    source = PrerenderedSource.synthetic(FrameSize.QVGA, count=2)
    genuine = camera(receiver, "cam1", source, fps=30)
    task = asyncio.create_task(genuine.run())
    await wait_until(lambda: receiver.is_live("cam1"), message="cam1 to go live")
    intruder = SimulatedCamera(
        url(receiver), "cam1", None, source, suite=Suite.PLAIN, reconnect=False, frames=3
    )
    await intruder.run()
    assert intruder.stats.last_close[0] == CloseCode.PLAIN_NOT_ALLOWED
    assert receiver.stats["cam1"].suite is Suite.NOISE and receiver.stats["cam1"].sessions == 1
    assert receiver.stats["cam1"].connected
    genuine.stop()
    await task


async def test_revalidate_closes_a_removed_device(receiver):
    devices = dict(DEVICES)
    live = Receiver(devices.get, host="127.0.0.1", port=0)
    await live.start()
    try:
        sim = camera(
            live,
            "cam0",
            PrerenderedSource.synthetic(FrameSize.QVGA, count=2),
            fps=30,
            retry_rejected=False,
        )
        task = asyncio.create_task(sim.run())
        await wait_until(lambda: live.is_live("cam0"), message="cam0 to go live")
        del devices["cam0"]
        await live.revalidate()
        await wait_until(
            lambda: not live.is_live("cam0") and sim.stats.last_close is not None,
            message="the removed device's session to end",
        )
        assert sim.stats.last_close == (CloseCode.DEVICE_REMOVED, "device removed")
        sim.stop()
        await task
    finally:
        await live.stop()


@pytest.mark.parametrize("change", ["remove then add", "rename then add", "provision --replace"])
async def test_a_live_session_whose_key_changed_is_closed_without_being_asked(tmp_path, change):
    """The receiver watches the registry itself: nothing here calls revalidate()."""
    registry = Registry(tmp_path)
    old = registry.add("cam")
    events: list[object] = []
    async with Receiver(credentials_lookup(registry), host="127.0.0.1", port=0) as live:
        live.add_listener(events.append)
        sim = SimulatedCamera(
            url(live),
            "cam",
            old.key.raw,
            PrerenderedSource.synthetic(FrameSize.QVGA, count=2),
            fps=30,
            reconnect=False,
        )
        task = asyncio.create_task(sim.run())
        await wait_until(lambda: live.is_live("cam"), message="cam to go live")
        other = Registry(tmp_path)  # another process editing the same file
        if change == "remove then add":
            other.remove("cam")
            other.add("cam")
        elif change == "rename then add":
            other.rename("cam", "cam-old")
            other.add("cam")
        else:
            _register(other, "cam", previous=old)  # what `provision --replace` does
        await wait_until(lambda: not live.is_live("cam"), message="the old key's session to end")
        (gone,) = [e for e in events if isinstance(e, DeviceDisconnected)]
        assert gone.code == CloseCode.DEVICE_REMOVED
        assert gone.reason in ("key changed", "device removed")
        await asyncio.wait_for(task, scaled(5))
        assert sim.stats.last_close is not None
        assert sim.stats.last_close[0] == CloseCode.DEVICE_REMOVED


async def test_a_key_change_is_caught_even_when_the_name_never_disappears(tmp_path):
    """Swapping the key in one registry write still ends the old key's session."""
    devices = {"cam": Credentials("cam", b"\x01" * 32)}
    events: list[object] = []
    async with Receiver(devices.get, host="127.0.0.1", port=0) as live:
        live.add_listener(events.append)
        sim = SimulatedCamera(
            url(live),
            "cam",
            b"\x01" * 32,
            PrerenderedSource.synthetic(FrameSize.QVGA, count=2),
            fps=30,
            reconnect=False,
        )
        task = asyncio.create_task(sim.run())
        await wait_until(lambda: live.is_live("cam"), message="cam to go live")
        devices["cam"] = Credentials("cam", b"\x02" * 32)
        await wait_until(lambda: not live.is_live("cam"), message="the old key's session to end")
        assert DeviceDisconnected("cam", CloseCode.DEVICE_REMOVED, "key changed") in events
        await asyncio.wait_for(task, scaled(5))


async def test_a_receiver_listens_on_a_given_socket_and_a_camera_connects_through_one():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    opened: list[socket.socket] = []

    async def open_socket() -> socket.socket:
        sock = socket.socket()
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        opened.append(sock)
        return sock

    async with Receiver(DEVICES.get, host=None, port=0, sock=listener) as receiver:
        assert receiver.port == port
        source = PrerenderedSource.synthetic(FrameSize.QVGA, count=2)
        cam = camera(
            receiver,
            "cam0",
            source,
            frames=3,
            open_socket=open_socket,
            send_buffer=BOARD_SEND_BUFFER,
        )
        run = asyncio.create_task(cam.run())
        await asyncio.wait_for(cam.connected.wait(), scaled(10))
        # Linux doubles the value asked for, for its bookkeeping.
        assert opened[0].getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 2 * BOARD_SEND_BUFFER
        stats = await asyncio.wait_for(run, scaled(10))
    assert stats.frames_sent == 3 and receiver.stats["cam0"].frames_received == 3
    assert len(opened) == 1
