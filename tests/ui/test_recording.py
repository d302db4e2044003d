"""Recording from the window: File → Record to folder…, the status bar, and a full disk."""

import errno
import os

from app.ui.main_window import MainWindow
from tests.helpers import run
from tests.waiting import wait_until


class FullDisk:
    """`Recorder.os_write` once the disk is full: it takes half a file, then fails."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, fd: int, data: memoryview) -> int:
        self.calls += 1
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def jpegs(folder) -> list:
    return [p for p in folder.rglob("*.jpg") if p.is_file()]


async def choose_folder(window: MainWindow, folder) -> None:
    """Trigger File → Record to folder… and pick `folder` in its dialog."""
    window.record_action.trigger()
    dialog = await wait_until(lambda: window.record_dialog)
    await wait_until(dialog.isVisible)
    dialog.selectFile(str(folder))
    dialog.accept()


def test_record_from_the_menu_then_a_full_disk_unchecks_it_and_says_why(
    qloop, services, window, tmp_path
):
    folder = tmp_path / "footage"
    folder.mkdir()
    receiver = services.receiver

    async def scenario():
        await services.start(demo=1)
        assert not window.record_action.isChecked() and window.recording_label.isHidden()
        await choose_folder(window, folder)
        await wait_until(window.record_action.isChecked, 5, message="the action checks")
        assert receiver.recording and receiver.recording_dir == folder
        await wait_until(lambda: len(jpegs(folder)) >= 5, 10, message="frames reach the disk")
        window.refresh_status()
        assert window.recording_label.isVisible() and "REC" in window.recording_label.text()

        receiver.recorder.os_write = FullDisk()
        await wait_until(lambda: not window.record_action.isChecked(), 10, message="unchecks")
        box = await wait_until(lambda: window.recording_message, 5)
        await wait_until(box.isVisible, 5)
        assert "No space left on device" in box.text() and str(folder) in box.text()
        assert "keep streaming" in box.text()
        assert window.recording_label.isHidden() and not receiver.recording
        stats = receiver.stats("demo-1")
        at_failure = stats.frames_received
        await wait_until(lambda: stats.frames_received > at_failure + 10, 10, message="streams")
        written = jpegs(folder)
        assert len(written) == receiver.frames_recorded  # the half-written file is gone
        assert all(p.read_bytes().endswith(b"\xff\xd9") for p in written)
        box.accept()

        # Recording again starts where the last recording went.
        window.record_action.trigger()
        dialog = await wait_until(lambda: window.record_dialog)
        assert dialog.directory().absolutePath() == str(folder)
        dialog.reject()
        await services.shutdown()

    run(qloop, scenario(), timeout=60)
    assert not window.record_action.isChecked()


def test_unchecking_the_action_stops_recording_and_everything_queued_is_written(
    qloop, services, window, tmp_path
):
    folder = tmp_path / "footage"
    folder.mkdir()
    receiver = services.receiver

    async def scenario():
        await services.start(demo=1)
        await choose_folder(window, folder)
        await wait_until(lambda: len(jpegs(folder)) >= 3, 10, message="frames reach the disk")
        window.record_action.trigger()  # unchecks
        await wait_until(lambda: receiver.recorder is None, 5, message="recording stops")
        assert not window.record_action.isChecked() and window.recording_label.isHidden()
        assert receiver.recording_error is None and window.recording_message is None
        assert receiver.listening
        assert len(jpegs(folder)) == receiver.frames_recorded
        await services.shutdown()

    run(qloop, scenario())


def test_cancelling_the_folder_dialog_records_nothing(qloop, services, window):
    async def scenario():
        await services.start()
        window.record_action.trigger()
        dialog = await wait_until(lambda: window.record_dialog)
        assert not window.record_action.isChecked()  # not until recording has started
        dialog.reject()
        await wait_until(lambda: not dialog.isVisible())
        assert not services.receiver.recording and not window.record_action.isChecked()
        await services.shutdown()

    run(qloop, scenario())
