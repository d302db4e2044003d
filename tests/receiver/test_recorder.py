"""The recorder keeps every frame of every session, privately, and a full disk stops only it."""

import asyncio
import errno
import logging
import os
import re
import stat
from datetime import UTC, datetime

import pytest

from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.session import Credentials
from app.protocol.timeline import Frame, FrameTimeline
from app.receiver import recorder as recorder_module
from app.receiver.events import FrameArrived
from app.receiver.recorder import QUEUE_FRAMES, Recorder
from app.receiver.server import Receiver
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource
from tests.waiting import scaled, wait_until

SESSION_NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z(-\d+)?")
CAM = Credentials("cam1", b"\x07" * 32)


def frame(device: str, seq: int, data: bytes, session: int = 1) -> Frame:
    timeline = FrameTimeline(device, Suite.NOISE, seq, len(data), 0, 0, 0, 0, 0)
    return Frame(device, seq, data, timeline, session)


def files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file())


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class DiskFillsUp:
    """`os_write` for a disk with room for `fit` more files: then it takes half a file and fails."""

    def __init__(self, fit: int, code: int = errno.ENOSPC) -> None:
        self.fit = fit
        self.code = code
        self.failed_at: list[int] = []

    def __call__(self, fd: int, data: memoryview) -> int:
        if self.fit > 0:
            self.fit -= 1
            return os.write(fd, data)  # a regular file takes it all in one call
        os.write(fd, data[: len(data) // 2])
        self.failed_at.append(fd)
        raise OSError(self.code, os.strerror(self.code))


async def record(directory, frames, **kwargs) -> Recorder:
    recorder = Recorder(directory, **kwargs)
    await recorder.start()
    for f in frames:
        await recorder(f)
    await recorder.stop()
    return recorder


async def test_every_frame_is_written_bit_exact_under_its_device_and_session(tmp_path):
    payloads = {("a", s): bytes([s]) * (s * 100) for s in range(1, 200)}
    payloads[("b", 4294967295)] = b"\xff\xd8last\xff\xd9"
    recorder = await record(
        tmp_path / "rec", [frame(d, s, data) for (d, s), data in payloads.items()]
    )
    assert recorder.frames_written == len(payloads)
    assert recorder.stopped_reason is None
    for device in ("a", "b"):
        (session,) = (tmp_path / "rec" / device).iterdir()
        assert SESSION_NAME.fullmatch(session.name)
    (session_a,) = (tmp_path / "rec" / "a").iterdir()
    (session_b,) = (tmp_path / "rec" / "b").iterdir()
    for (device, seq), data in payloads.items():
        folder = session_a if device == "a" else session_b
        assert (folder / f"{seq:010d}.jpg").read_bytes() == data
    # seq is a u32: ten digits keep name order equal to frame order
    assert [p.name for p in sorted(session_a.iterdir())] == [f"{s:010d}.jpg" for s in range(1, 200)]


async def test_a_reconnect_starts_a_new_folder_and_overwrites_nothing(tmp_path):
    # A camera that reconnects (or reboots) numbers its frames from 1 again.
    first = [frame("cam", seq, b"first %d" % seq, session=7) for seq in range(1, 13)]
    second = [frame("cam", seq, b"second %d" % seq, session=8) for seq in range(1, 13)]
    recorder = await record(tmp_path, first + second)
    written = files(tmp_path / "cam")
    assert recorder.frames_written == len(written) == 24
    older, newer = sorted((tmp_path / "cam").iterdir())  # names sort in session order
    assert sorted(p.read_bytes() for p in older.iterdir()) == sorted(f.jpeg for f in first)
    assert sorted(p.read_bytes() for p in newer.iterdir()) == sorted(f.jpeg for f in second)
    assert older.name < newer.name


async def test_a_restart_in_the_same_instant_or_after_a_clock_step_back_reuses_no_folder(
    tmp_path, monkeypatch
):
    instant = datetime(2026, 12, 3, 12, 15, 0, 123456, tzinfo=UTC)
    monkeypatch.setattr(recorder_module, "utc_now", lambda: instant)
    for run in range(3):  # three receivers started within one clock tick
        await record(tmp_path, [frame("cam", 1, b"run %d" % run, session=1)])
    folders = sorted(p.name for p in (tmp_path / "cam").iterdir())
    stem = "20261203T121500.123456Z"
    assert folders == [stem, f"{stem}-1", f"{stem}-2"]
    assert [(tmp_path / "cam" / f / "0000000001.jpg").read_bytes() for f in folders] == [
        b"run 0",
        b"run 1",
        b"run 2",
    ]


async def test_the_same_seq_twice_in_one_session_keeps_both_frames(tmp_path):
    # Frames fed outside a receiver session all share session 0; nothing may be overwritten.
    recorder = await record(tmp_path, [frame("cam", 5, b"one", 0), frame("cam", 5, b"two", 0)])
    written = files(tmp_path)
    assert recorder.frames_written == len(written) == 2
    assert sorted(p.read_bytes() for p in written) == [b"one", b"two"]
    assert {p.name for p in written} == {"0000000005.jpg"}


async def test_recordings_are_private_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        await record(tmp_path / "new" / "rec", [frame("cam", 1, b"x"), frame("cam", 2, b"y")])
    finally:
        os.umask(previous)
    root = tmp_path / "new" / "rec"
    (session,) = (root / "cam").iterdir()
    assert [mode(p) for p in (root, root / "cam", session)] == [0o700] * 3
    assert [mode(p) for p in session.iterdir()] == [0o600, 0o600]


async def test_an_existing_directory_keeps_its_owners_mode(tmp_path):
    shared = tmp_path / "videos"
    shared.mkdir()
    os.chmod(shared, 0o755)
    await record(shared, [frame("cam", 1, b"x")])
    assert mode(shared) == 0o755
    (session,) = (shared / "cam").iterdir()
    assert mode(shared / "cam") == mode(session) == 0o700


async def test_a_full_queue_makes_the_caller_wait_instead_of_growing(tmp_path):
    recorder = Recorder(tmp_path / "rec")  # not started: nothing drains the queue
    for seq in range(QUEUE_FRAMES):
        await recorder(frame("a", seq, b"x"))
    blocked = asyncio.create_task(recorder(frame("a", 999, b"x")))
    # Until start() nothing takes from the queue, so waiting longer proves nothing more: a few
    # loop turns are enough for a put that does not wait to have finished.
    for _ in range(3):
        await asyncio.sleep(0)
    assert not blocked.done()
    await recorder.start()
    await asyncio.wait_for(blocked, scaled(5))
    await recorder.stop()
    assert recorder.frames_written == QUEUE_FRAMES + 1 == len(files(tmp_path / "rec"))


async def test_a_stopped_recorder_returns_at_once_and_records_nothing(tmp_path):
    recorder = await record(tmp_path, [frame("a", 1, b"x")])
    for seq in range(2, 2 + 2 * QUEUE_FRAMES):  # more than the queue holds: none may wait
        await asyncio.wait_for(recorder(frame("a", seq, b"x")), scaled(5))
    assert recorder.frames_written == len(files(tmp_path)) == 1
    assert not recorder.recording


async def test_a_write_error_stops_recording_with_one_log_line(tmp_path, caplog):
    root = tmp_path / "rec"
    stopped = []
    recorder = Recorder(root, on_stopped=stopped.append)
    await recorder.start()
    await recorder(frame("a", 1, b"x"))
    (root / "b").write_text("a file where the device folder should be")
    for seq in range(1, 50):
        await recorder(frame("b", seq, b"y"))
    await recorder(frame("a", 2, b"x"))
    await recorder.stop()
    assert recorder.frames_written == len(files(root / "a")) == 1
    assert stopped == [recorder.stopped_reason]
    assert str(root / "b") in recorder.stopped_reason
    assert "[EEXIST]" in recorder.stopped_reason
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(root) in errors[0].getMessage()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
async def test_a_full_disk_removes_the_partial_file_and_says_why(tmp_path, caplog, code):
    root = tmp_path / "rec"
    recorder = Recorder(root)
    recorder.os_write = disk = DiskFillsUp(fit=3, code=code)
    await recorder.start()
    for seq in range(1, 10):
        await recorder(frame("cam", seq, bytes(1000)))
    await recorder.stop()
    assert disk.failed_at  # the fourth file was half written, then the disk was full
    written = files(root)
    assert recorder.frames_written == len(written) == 3
    assert [p.name for p in written] == ["0000000001.jpg", "0000000002.jpg", "0000000003.jpg"]
    assert all(p.stat().st_size == 1000 for p in written)
    assert os.strerror(code) in recorder.stopped_reason
    assert f"[{errno.errorcode[code]}]" in recorder.stopped_reason
    assert "0000000004.jpg" in recorder.stopped_reason
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


# -- with a real receiver and a simulated camera -------------------------------------------


@pytest.fixture
async def receiver():
    receiver = Receiver({CAM.device_id: CAM}.get, host="127.0.0.1", port=0)
    await receiver.start()
    yield receiver
    await receiver.stop()


def camera(receiver: Receiver, source, **kwargs) -> SimulatedCamera:
    url = f"ws://127.0.0.1:{receiver.port}/camera"
    return SimulatedCamera(url, CAM.device_id, CAM.psk, source, **kwargs)


def count_frames(receiver: Receiver) -> list[Frame]:
    arrived: list[Frame] = []
    receiver.add_listener(
        lambda e: arrived.append(e.frame) if isinstance(e, FrameArrived) else None
    )
    return arrived


async def test_two_sessions_through_the_receiver_are_all_on_disk(receiver, tmp_path):
    source = PrerenderedSource.synthetic(FrameSize.QQVGA, count=5)
    recorder = Recorder(tmp_path / "rec")
    await recorder.start()
    receiver.add_frame_sink(recorder)
    arrived = count_frames(receiver)
    for session in (1, 2):  # a new camera object starts from seq 1 again, like a reboot
        await camera(receiver, source, frames=12, fps=200, reconnect=False).run()
        await wait_until(lambda n=12 * session: len(arrived) == n, 10)
    await recorder.stop()
    written = files(tmp_path / "rec")
    assert recorder.frames_written == len(written) == 24
    assert len({p.parent for p in written}) == 2
    assert sorted(p.read_bytes() for p in written) == sorted(bytes(f.jpeg) for f in arrived)


async def test_a_full_disk_stops_recording_while_the_camera_keeps_streaming(
    receiver, tmp_path, caplog
):
    source = PrerenderedSource.synthetic(FrameSize.QQVGA, count=5)
    root = tmp_path / "rec"
    stopped: list[str] = []
    recorder = Recorder(root, on_stopped=stopped.append)
    recorder.os_write = DiskFillsUp(fit=10)
    await recorder.start()
    receiver.add_frame_sink(recorder)
    arrived = count_frames(receiver)
    sim = camera(receiver, source, fps=200)
    streaming = asyncio.create_task(sim.run())
    try:
        await wait_until(lambda: stopped, 10, message="recording stops")
        at_failure = len(arrived)
        # More frames than the queue holds: a sink that still waited would stall the camera.
        await wait_until(
            lambda: len(arrived) > at_failure + 2 * QUEUE_FRAMES, 10, message="frames go on"
        )
        assert receiver.is_live(CAM.device_id)
        assert sim.stats.connects == 1  # never dropped
    finally:
        sim.stop()
        await asyncio.wait_for(streaming, scaled(10))
    await recorder.stop()
    assert stopped == [recorder.stopped_reason] and not recorder.recording
    assert "No space left on device [ENOSPC]" in recorder.stopped_reason
    assert str(root) in recorder.stopped_reason
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert errors[0].name == "app.receiver.recorder" and str(root) in errors[0].getMessage()
    written = files(root)
    assert recorder.frames_written == len(written) == 10  # the half-written eleventh is gone
    assert {p.read_bytes() for p in written} <= set(source.frames)
