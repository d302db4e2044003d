"""Write every received frame's JPEG bytes, unchanged, to DIR/<device>/<seq>.jpg."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from app.protocol.timeline import Frame

log = logging.getLogger("securecam.recorder")
QUEUE_FRAMES = 64  # about 2.5 MB of VGA frames in flight, whatever the disk does


class Recorder:
    """A lossless frame sink: disk writes run in a worker thread behind a bounded queue.

    When the disk falls behind, `__call__` waits, which slows only the camera being recorded
    (through TCP back-pressure) instead of growing memory.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.frames_written = 0
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue(QUEUE_FRAMES)
        self._writer: asyncio.Task[None] | None = None
        self._made: set[str] = set()

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._writer = asyncio.create_task(self._write_forever())

    async def __call__(self, frame: Frame) -> None:
        await self._queue.put(frame)

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._writer is None:
            return
        await self._queue.put(None)
        await self._writer
        self._writer = None

    def path_for(self, frame: Frame) -> Path:
        # seq is a u32, so 10 digits keep name order equal to frame order
        return self.directory / frame.device / f"{frame.seq:010d}.jpg"

    async def _write_forever(self) -> None:
        while (frame := await self._queue.get()) is not None:
            try:
                await asyncio.to_thread(self._write, frame)
                self.frames_written += 1
            except OSError as exc:
                log.error("cannot record frame %d of %s: %s", frame.seq, frame.device, exc)

    def _write(self, frame: Frame) -> None:
        path = self.path_for(frame)
        if frame.device not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(frame.device)
        path.write_bytes(frame.jpeg)
