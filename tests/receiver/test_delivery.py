"""Latest-frame-wins delivery."""

import asyncio

from app.protocol.hello import Suite
from app.protocol.timeline import Frame, FrameTimeline
from app.receiver.delivery import LatestFrames
from tests.waiting import scaled


def frame(device: str, seq: int) -> Frame:
    timeline = FrameTimeline(device, Suite.NOISE, seq, 1, 0, 0, 0, 0, 0)
    return Frame(device, seq, b"x", timeline)


def test_a_newer_frame_replaces_an_untaken_one_and_counts_a_drop():
    dropped = []
    box = LatestFrames(on_drop=dropped.append)
    for seq in range(1, 6):
        box.put(frame("a", seq))
    assert len(box) == 1 and box.dropped == 4 and dropped == ["a"] * 4
    assert box.take().seq == 5
    assert box.take() is None


def test_devices_do_not_displace_each_other_and_come_out_oldest_first():
    box = LatestFrames()
    box.put(frame("a", 1))
    box.put(frame("b", 1))
    box.put(frame("a", 2))  # a moves behind b
    assert [(f.device, f.seq) for f in (box.take(), box.take())] == [("b", 1), ("a", 2)]
    assert box.dropped == 1


async def test_get_waits_for_the_next_frame():
    box = LatestFrames()
    waiter = asyncio.create_task(box.get())
    await asyncio.sleep(0)  # the waiter runs up to its wait: an empty box has nothing for it
    assert not waiter.done()
    box.put(frame("a", 7))
    assert (await asyncio.wait_for(waiter, scaled(1))).seq == 7
