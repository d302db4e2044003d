"""Record every received frame's JPEG bytes, unchanged, one private folder per camera session.

Layout: `DIR/<device>/<session>/<seq:010d>.jpg`, where `<session>` is the UTC time the
session's first frame reached the recorder, e.g.
`recordings/porch/20261203T121500.123456Z/0000000042.jpg`. Names sort in time order, and the
frame's sequence number is always the last number of a file's name. A folder or file that
already exists is never reused: a taken session name (a restart within the same microsecond,
a clock stepped back) gets a `-1`, `-2`, ... suffix, and every file is created exclusively.

Footage is private: files are 0600, session and device folders 0700, and so is DIR when the
recorder creates it (an existing DIR keeps its mode: it is the owner's folder), whatever the
umask.

Any OSError while writing (ENOSPC, EDQUOT, EROFS, EIO, EACCES, a file where a folder should
be...) stops the recording, not the cameras: the error would most likely repeat for every
frame, and a recording with silent holes is worse than one that clearly ends. The recorder
logs one error line, removes the partly written file, calls `on_stopped(reason)` and from then
on drops frames without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from app.protocol.timeline import Frame
from app.tasks import spawn

log = logging.getLogger(__name__)
QUEUE_FRAMES = 64  # about 2.5 MB of VGA frames in flight, whatever the disk does
SESSION_NAME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
DIR_MODE = 0o700
FILE_MODE = 0o600
# Folders remembered per device: a frame of a forgotten session would only open a new folder,
# and remembering every session of a camera that reconnects for months would grow forever.
_SESSIONS_PER_DEVICE = 8


def utc_now() -> datetime:
    """The wall-clock time that names session folders."""
    return datetime.now(UTC)


class Recorder:
    """A lossless frame sink: disk writes run in a worker thread behind a bounded queue.

    When the disk falls behind, `__call__` waits, which slows only the camera being recorded
    (through TCP back-pressure) instead of growing memory. After `stop()`, or once a write
    failed, `__call__` returns at once and the frame is not recorded.

    `frames_written` is exactly the number of files written. `stopped_reason` is None unless
    a write failed; then it says which file and why, and `on_stopped(reason)` has been called
    once, on the event loop. `os_write` is the one call that puts bytes on disk, with
    `os.write`'s contract; tests replace it to fill the disk.
    """

    def __init__(self, directory: Path, on_stopped: Callable[[str], None] | None = None) -> None:
        self.directory = Path(directory)
        self.frames_written = 0
        self.stopped_reason: str | None = None
        self.os_write: Callable[[int, memoryview], int] = os.write
        self._on_stopped = on_stopped
        self._queue: asyncio.Queue[tuple[Frame, datetime] | None] = asyncio.Queue(QUEUE_FRAMES)
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        # device -> session id -> folder; only the writer thread touches it, one frame at a time
        self._folders: dict[str, dict[int, Path]] = {}

    @property
    def recording(self) -> bool:
        """Started, not stopped, and no write has failed."""
        return self._writer is not None and not self._closed and self.stopped_reason is None

    async def start(self) -> None:
        """Create DIR if needed (0700) and start writing; raises OSError if DIR cannot be made."""
        _make_dir(self.directory, parents=True)
        self._writer = spawn(self._write_forever(), name=f"recording to {self.directory}")

    async def __call__(self, frame: Frame) -> None:
        """Queue `frame` for writing: waits while the queue is full, unless not recording."""
        if self._closed or self.stopped_reason is not None:
            return  # never make a camera wait for a recorder that is not recording
        await self._queue.put((frame, utc_now()))

    async def stop(self) -> None:
        """Write what is queued, then stop; every caller returns once all of it is written."""
        if self._writer is None:
            self._closed = True
            return
        if not self._closed:
            self._closed = True
            await self._queue.put(None)
        await self._writer  # a task can be awaited by every caller, also once done

    async def _write_forever(self) -> None:
        while (item := await self._queue.get()) is not None:
            if self.stopped_reason is not None:
                continue  # keep draining, so a camera waiting on a full queue goes on
            try:
                await asyncio.to_thread(self._write, *item)
            except OSError as exc:
                self._fail(exc)
            else:
                self.frames_written += 1

    def _fail(self, exc: OSError) -> None:
        cause = exc.strerror or str(exc)
        if exc.errno is not None and exc.errno in errno.errorcode:
            cause = f"{cause} [{errno.errorcode[exc.errno]}]"
        self.stopped_reason = f"cannot write {exc.filename or self.directory}: {cause}"
        log.error(
            "recording to %s stopped after %d frames: %s",
            self.directory,
            self.frames_written,
            self.stopped_reason,
        )
        if self._on_stopped is not None:
            try:
                self._on_stopped(self.stopped_reason)
            except Exception:
                log.exception("the recording-stopped callback failed")

    # -- the worker thread -------------------------------------------------------------------

    def _write(self, frame: Frame, arrived: datetime) -> None:
        sessions = self._folders.setdefault(frame.device, {})
        folder = sessions.get(frame.session_id)
        if folder is None:
            folder = sessions[frame.session_id] = self._new_session_folder(frame.device, arrived)
            if len(sessions) > _SESSIONS_PER_DEVICE:
                del sessions[next(iter(sessions))]
        name = f"{frame.seq:010d}.jpg"
        try:
            self._write_file(folder / name, frame.jpeg)
        except FileExistsError:
            # The same seq twice in one session (frames fed outside a receiver session):
            # a fresh folder keeps both frames, and neither name changes shape.
            folder = sessions[frame.session_id] = self._new_session_folder(frame.device, arrived)
            self._write_file(folder / name, frame.jpeg)

    def _new_session_folder(self, device: str, arrived: datetime) -> Path:
        device_dir = self.directory / device
        _make_dir(device_dir)
        stem = arrived.strftime(SESSION_NAME_FORMAT)
        taken = 0
        while True:
            folder = device_dir / (f"{stem}-{taken}" if taken else stem)
            try:
                os.mkdir(folder, DIR_MODE)
            except FileExistsError:
                taken += 1  # an earlier run's folder, or anyone's: never write into it
                continue
            except OSError as exc:
                exc.filename = exc.filename or str(folder)
                raise
            os.chmod(folder, DIR_MODE)  # mkdir's mode passes through the umask
            return folder

    def _write_file(self, path: Path, data: bytes | memoryview) -> None:
        """Create `path` exclusively (like open 'xb'), 0600, and write all of `data` or none."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            try:
                os.fchmod(fd, FILE_MODE)  # the umask could only clear bits, but never trust it
                view = memoryview(data)
                while view:
                    written = self.os_write(fd, view)
                    if written <= 0:
                        raise OSError(errno.EIO, "the file system accepted no bytes")
                    view = view[written:]
            finally:
                os.close(fd)  # some file systems (NFS) report a full disk only here
        except OSError as exc:
            # A partly written file must not pass for a complete frame.
            with contextlib.suppress(OSError):
                os.unlink(path)
            exc.filename = exc.filename or str(path)
            raise


def _make_dir(path: Path, *, parents: bool = False) -> None:
    """Make `path` 0700 unless it exists (an existing folder keeps its owner's mode).

    Missing parents (with `parents`) are made as `mkdir -p` would: they hold no footage.
    """
    try:
        path.mkdir(DIR_MODE, parents=parents)
    except FileExistsError:
        if not path.is_dir():
            raise
        return
    except OSError as exc:
        exc.filename = exc.filename or str(path)
        raise
    os.chmod(path, DIR_MODE)
