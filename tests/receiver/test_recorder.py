"""The recorder writes every frame unchanged, in order, with bounded memory."""

import asyncio

from app.protocol.timeline import Frame, FrameTimeline
from app.receiver.recorder import QUEUE_FRAMES, Recorder


def frame(device: str, seq: int, data: bytes) -> Frame:
    return Frame(device, seq, data, FrameTimeline(device, "noise", seq, len(data), 0, 0, 0, 0, 0))


async def test_every_frame_is_written_bit_exact_under_its_device(tmp_path):
    recorder = Recorder(tmp_path / "rec")
    await recorder.start()
    payloads = {("a", s): bytes([s]) * (s * 100) for s in range(1, 200)}
    payloads[("b", 4294967295)] = b"\xff\xd8last\xff\xd9"
    for (device, seq), data in payloads.items():
        await recorder(frame(device, seq, data))
    await recorder.stop()
    assert recorder.frames_written == len(payloads)
    for (device, seq), data in payloads.items():
        assert (tmp_path / "rec" / device / f"{seq:010d}.jpg").read_bytes() == data
    names = sorted(p.name for p in (tmp_path / "rec" / "a").iterdir())
    assert names == [f"{s:010d}.jpg" for s in range(1, 200)]


async def test_a_full_queue_makes_the_caller_wait_instead_of_growing(tmp_path):
    recorder = Recorder(tmp_path / "rec")  # not started: nothing drains the queue
    for seq in range(QUEUE_FRAMES):
        await recorder(frame("a", seq, b"x"))
    blocked = asyncio.create_task(recorder(frame("a", 999, b"x")))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    await recorder.start()
    await asyncio.wait_for(blocked, 5)
    await recorder.stop()
    assert recorder.frames_written == QUEUE_FRAMES + 1


async def test_an_unwritable_directory_is_logged_not_fatal(tmp_path, caplog):
    blocker = tmp_path / "rec"
    recorder = Recorder(blocker)
    await recorder.start()
    (blocker / "a").write_text("a file where the device directory should be")
    await recorder(frame("a", 1, b"x"))
    await recorder(frame("b", 1, b"y"))
    await recorder.stop()
    assert recorder.frames_written == 1
    assert "cannot record frame 1 of a" in caplog.text
