"""Recording through the receiver service: it outlives receiver restarts and ends with stop()."""

import asyncio
import os
import threading

import pytest

from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.session import Credentials
from app.protocol.timeline import Frame, FrameTimeline
from app.services.receiver_service import ReceiverService
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource
from tests.waiting import scaled, wait_until

CAM = Credentials("cam1", b"\x05" * 32)
SOURCE = PrerenderedSource.synthetic(FrameSize.QQVGA, count=3)


@pytest.fixture
async def service(qapp):
    service = ReceiverService({CAM.device_id: CAM}.get)
    changes: list[bool] = []
    service.recordingChanged.connect(lambda: changes.append(service.recording))
    service.changes = changes
    service.failures = []
    service.recordingFailed.connect(service.failures.append)
    yield service
    await service.stop()
    service.close()


async def stream(service: ReceiverService, frames: int) -> None:
    url = f"ws://127.0.0.1:{service.port}/camera"
    await SimulatedCamera(url, CAM.device_id, CAM.psk, SOURCE, frames=frames, fps=200).run()


def frame(seq: int) -> Frame:
    data = SOURCE.frames[seq % 3]
    timeline = FrameTimeline(CAM.device_id, Suite.NOISE, seq, len(data), 0, 0, 0, 0, 0)
    return Frame(CAM.device_id, seq, data, timeline, session_id=1)


def on_disk(root) -> list:
    return [p for p in root.rglob("*.jpg") if p.is_file()]


async def test_recording_survives_a_receiver_restart_and_ends_with_stop(service, tmp_path):
    assert await service.start("127.0.0.1", 0)
    assert await service.start_recording(tmp_path / "rec")
    assert service.recording and service.recording_dir == tmp_path / "rec"
    await stream(service, 10)
    await wait_until(lambda: service.frames_recorded == 10, 10)
    assert await service.start("127.0.0.1", 0)  # new settings: a new receiver, same recording
    assert service.recording
    await stream(service, 10)
    await wait_until(lambda: service.frames_recorded == 20, 10)
    await service.stop()
    assert not service.recording and service.recording_error is None
    assert service.frames_recorded == len(on_disk(tmp_path / "rec")) == 20
    assert len(list((tmp_path / "rec" / CAM.device_id).iterdir())) == 2  # one per session
    assert service.changes == [True, False]


async def test_stopping_recording_leaves_the_receiver_listening(service, tmp_path):
    assert await service.start("127.0.0.1", 0)
    assert await service.start_recording(tmp_path / "rec")
    await service.stop_recording()
    assert service.listening and not service.recording
    await stream(service, 5)
    await wait_until(lambda: len(service.receiver.stats[CAM.device_id].timelines) == 5, 10)
    assert on_disk(tmp_path / "rec") == [] and service.frames_recorded == 0


async def test_a_folder_that_cannot_be_made_says_why(service, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert not await service.start_recording(blocker / "rec")
    assert not service.recording
    assert service.recording_error == f"cannot record to {blocker / 'rec'}: Not a directory"
    assert service.changes == [False]
    assert service.failures == [service.recording_error]


async def test_while_stop_recording_writes_the_queue_the_count_stays_true(service, tmp_path):
    assert await service.start("127.0.0.1", 0)
    assert await service.start_recording(tmp_path / "rec")
    recorder = service.recorder
    disk_free = threading.Event()

    def slow_disk(fd: int, data: memoryview) -> int:
        disk_free.wait(scaled(10))
        return os.write(fd, data)

    recorder.os_write = slow_disk
    for seq in range(1, 6):
        await recorder(frame(seq))
    stopping = asyncio.create_task(service.stop_recording())
    await wait_until(lambda: not service.recording)
    assert service.recorder is recorder  # still writing what is queued
    assert service.frames_recorded == recorder.frames_written < 5
    disk_free.set()
    await asyncio.wait_for(stopping, scaled(10))
    assert service.recorder is None and service.changes == [True, False]
    assert service.frames_recorded == len(on_disk(tmp_path / "rec")) == 5
