"""The fan-out: each stream gets its cameras' newest frame; a slow stream skips only its own."""

from __future__ import annotations

import asyncio

from app.protocol.hello import Suite
from app.protocol.records import Status
from app.protocol.timeline import Frame, FrameTimeline
from app.receiver.stats import DeviceState, DeviceStats
from app.share.hub import ShareHub, StreamKind, wall_ms


def frame(camera: str, seq: int, *, capture_us: int = 0, offset: int | None = None) -> Frame:
    data = f"{camera}-{seq}".encode()
    timeline = FrameTimeline(
        camera, Suite.NOISE, seq, len(data), capture_us, 0, 0, 0, 5_000, clock_offset_us=offset
    )
    return Frame(camera, seq, data, timeline)


def hub(stats: dict[str, DeviceStats] | None = None, known: tuple[str, ...] = ()) -> ShareHub:
    table = stats or {}
    return ShareHub(table.get, lambda: known)


def test_a_stream_gets_only_its_cameras_and_the_same_bytes() -> None:
    share = hub()
    stream = share.open(StreamKind.PAGE, "alice", "192.0.2.1", 1)
    share.subscribe(stream, ["door"])
    door, yard = frame("door", 1), frame("yard", 1)
    share.publish(door)
    share.publish(yard)
    taken = stream.mailbox.take()
    assert taken is door and taken.jpeg is door.jpeg  # shared, never copied
    assert stream.mailbox.take() is None


def test_a_slow_stream_skips_to_the_newest_frame_and_counts_its_own_drops() -> None:
    share = hub()
    slow = share.open(StreamKind.PAGE, "slow", "192.0.2.1", 1)
    fast = share.open(StreamKind.MJPEG, "fast", "192.0.2.2", 1)
    share.subscribe(slow, ["door"])
    share.subscribe(fast, ["door"])
    for seq in range(1, 11):
        share.publish(frame("door", seq))
        taken = fast.mailbox.take()
        assert taken is not None and taken.seq == seq
    newest = slow.mailbox.take()
    assert newest is not None and newest.seq == 10
    assert len(slow.mailbox) == 0  # one frame per camera at most: no queue
    assert slow.dropped["door"] == 9
    assert fast.dropped["door"] == 0


def test_subscribing_starts_with_the_latest_frame_and_unsubscribing_discards_waiting_ones() -> None:
    share = hub()
    share.publish(frame("door", 4))
    stream = share.open(StreamKind.PAGE, "alice", "192.0.2.1", 1)
    share.subscribe(stream, ["door", "yard"])
    share.publish(frame("yard", 1))
    share.subscribe(stream, ["yard"])
    assert stream.mailbox.waiting() == ["yard"]
    assert stream.dropped["door"] == 0  # leaving a camera is not a drop


def test_watchers_count_open_streams_per_camera_and_closing_forgets_them() -> None:
    share = hub()
    a = share.open(StreamKind.PAGE, "a", "192.0.2.1", 1)
    b = share.open(StreamKind.MJPEG, "b", "192.0.2.2", 1)
    share.subscribe(a, ["door", "yard"])
    share.subscribe(b, ["door"])
    assert (share.watchers("door"), share.watchers("yard")) == (2, 1)
    share.close(a)
    assert (share.watchers("door"), share.watchers("yard")) == (1, 0)
    assert share.streams_of("b") == [b] and share.streams_of("a") == []
    share.publish(frame("door", 1))
    assert len(a.mailbox) == 0  # a closed stream is no longer fed


def test_a_camera_view_reports_state_suite_size_and_latency_from_the_receiver() -> None:
    stats = DeviceStats("door")
    stats.went_live(Suite.NOISE, "192.0.2.5:1234")
    stats.status = Status(
        rssi_dbm=-60,
        frame_size=8,
        quality=12,
        fps_cap=25,
        width=640,
        height=480,
        free_heap=1,
        free_psram=0,
        uptime_s=1,
        firmware="x",
    )
    for seq in range(5):
        stats.add_frame(frame("door", seq, capture_us=1_000, offset=0).timeline)
    share = hub({"door": stats}, ("door", "yard"))
    view = share.view("door", now_us=5_000).to_json()
    assert view["state"] == "live" and view["encrypted"] is True and view["suite"] == "noise"
    assert (view["width"], view["height"]) == (640, 480)
    assert view["latency_ms"] == 4.0  # decrypted 5000 µs - capture 1000 µs
    offline = share.view("yard").to_json()
    assert offline["state"] == DeviceState.OFFLINE.value and offline["latency_ms"] is None
    assert share.cameras() == ["door", "yard"]


def test_wall_ms_places_an_app_clock_time_on_the_wall_clock() -> None:
    assert wall_ms(1_000_000, now_app_us=3_000_000, now_wall=100.0) == 98_000.0


async def test_a_windowed_stream_sends_a_cameras_next_frame_only_on_acknowledgement() -> None:
    share = hub()
    stream = share.open(StreamKind.PAGE, "alice", "192.0.2.1", 1, window=1)
    share.subscribe(stream, ["door", "yard"])
    share.publish(frame("door", 1))
    first = await stream.next()
    stream.delivered(first)
    share.publish(frame("door", 2))
    share.publish(frame("yard", 1))
    # door's window is full: yard goes first although door's frame arrived earlier
    taken = await stream.next()
    assert (taken.device, taken.seq) == ("yard", 1)
    stream.delivered(taken)
    assert stream.blocked()  # door 2 waits on its acknowledgement
    share.publish(frame("door", 3))  # replaces door 2 while it waits: latest-frame-wins
    waiter = asyncio.ensure_future(stream.next())
    await asyncio.sleep(0)
    assert not waiter.done()
    stream.acked("door")
    nxt = await asyncio.wait_for(waiter, 5)
    assert (nxt.device, nxt.seq) == ("door", 3)
    assert stream.dropped["door"] == 1


async def test_an_unwindowed_stream_never_waits_on_acknowledgements() -> None:
    share = hub()
    stream = share.open(StreamKind.MJPEG, "player", "192.0.2.1", 1)
    share.subscribe(stream, ["door"])
    for seq in range(3):
        share.publish(frame("door", seq))
        stream.delivered(await stream.next())
    assert not stream.blocked() and stream.sent["door"] == 3


async def test_stopping_a_stream_wakes_its_sender_and_keeps_the_first_reason() -> None:
    share = hub()
    stream = share.open(StreamKind.MJPEG, "player", "192.0.2.1", 1)
    share.subscribe(stream, ["door"])
    waiter = asyncio.ensure_future(stream.next())
    await asyncio.sleep(0)
    stream.stop("viewer removed")
    stream.stop("took nothing for 15 s")
    assert await asyncio.wait_for(waiter, 5) is None
    share.publish(frame("door", 1))
    assert await stream.next() is None  # stopped for good, even with a frame waiting
    assert stream.end_reason == "viewer removed"
