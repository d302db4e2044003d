"""Latest-frame-wins delivery: a slow consumer skips old frames instead of queueing them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from app.protocol.timeline import Frame


class LatestFrames:
    """A mailbox holding at most one frame per device.

    `put` never blocks: a frame the consumer has not taken yet is replaced and counted as
    dropped. `get` returns the waiting frames oldest-arrival first, so no camera starves.
    """

    def __init__(
        self,
        on_drop: Callable[[str], None] | None = None,
        on_put: Callable[[], None] | None = None,
    ) -> None:
        self._frames: dict[str, Frame] = {}
        self._ready = asyncio.Event()
        self._on_drop = on_drop
        self._on_put = on_put
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        previous = self._frames.pop(frame.device, None)
        if previous is not None:
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop(frame.device)
        self._frames[frame.device] = frame  # re-insert: dict order is arrival order
        self._ready.set()
        if self._on_put is not None:
            self._on_put()

    def take(self) -> Frame | None:
        """The oldest waiting frame, or None."""
        if not self._frames:
            return None
        device = next(iter(self._frames))
        frame = self._frames.pop(device)
        if not self._frames:
            self._ready.clear()
        return frame

    def take_first(self, wanted: Callable[[str], bool]) -> Frame | None:
        """The oldest waiting frame whose device is `wanted`, or None."""
        for device in self._frames:
            if wanted(device):
                frame = self._frames.pop(device)
                if not self._frames:
                    self._ready.clear()
                return frame
        return None

    async def get(self) -> Frame:
        while True:
            frame = self.take()
            if frame is not None:
                return frame
            await self._ready.wait()

    def waiting(self) -> list[str]:
        """The devices with a frame waiting, oldest arrival first."""
        return list(self._frames)

    def discard(self, device: str) -> None:
        """Forget the device's waiting frame, if any (not counted as a drop)."""
        self._frames.pop(device, None)
        if not self._frames:
            self._ready.clear()

    def __len__(self) -> int:
        return len(self._frames)
