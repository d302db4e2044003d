"""JPEG decoding off the UI thread, latest-frame-wins per device.

libjpeg-turbo through simplejpeg releases the GIL while it decodes (Qt's decoder does not, and
is about three times slower on VGA frames: docs/PERFORMANCE.md), so decoding runs in a small
thread pool. Each device has at most one decode in flight and one frame waiting; a newer
frame replaces the waiting one, so a slow decoder never builds up latency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import simplejpeg
from PySide6.QtGui import QImage

from app.protocol.clock import monotonic_us
from app.protocol.timeline import Frame

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DecodedFrame:
    """A frame ready to paint; `image` shares memory with `pixels`, which it keeps alive."""

    frame: Frame
    image: QImage
    pixels: np.ndarray
    width: int  # full resolution, before any decode-time scaling
    height: int


def decode(frame: Frame, box_width: int = 0, box_height: int = 0) -> DecodedFrame:
    """Decode at the smallest of libjpeg's 1, 1/2, 1/4, 1/8 scales that still fills the picture
    letterboxed into box_width x box_height (0: full size).

    Only these four scales are fast paths; others such as 5/8 can cost more than a full decode.
    """
    height, width, _, _ = simplejpeg.decode_jpeg_header(frame.jpeg)
    factor = 1
    if box_width > 0 and box_height > 0:
        shown = min(box_width / width, box_height / height)
        while factor < 8 and shown * factor * 2 <= 1:
            factor *= 2
    pixels = simplejpeg.decode_jpeg(
        frame.jpeg,
        colorspace="RGBX",
        fastdct=True,
        fastupsample=True,
        min_width=-(-width // factor),
        min_height=-(-height // factor),
    )
    rows, cols = pixels.shape[:2]
    image = QImage(pixels.data, cols, rows, cols * 4, QImage.Format.Format_RGBX8888)
    frame.timeline.decoded_us = monotonic_us()
    return DecodedFrame(frame, image, pixels, width, height)


class FrameDecoder:
    """Decode frames in worker threads and hand results to `on_decoded` on the event loop."""

    def __init__(
        self,
        on_decoded: Callable[[DecodedFrame], None],
        *,
        workers: int = 2,
    ) -> None:
        self._on_decoded = on_decoded
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jpeg-decode")
        self._busy: set[str] = set()
        self._waiting: dict[str, Frame] = {}
        self._targets: dict[str, tuple[int, int]] = {}
        self._closed = False
        self.dropped = 0
        self.failed = 0

    def set_target_size(self, device: str, width: int, height: int) -> None:
        """The size the device's frames are shown at; decoding may scale down to it."""
        self._targets[device] = (width, height)

    def submit(self, frame: Frame) -> None:
        if self._closed:
            return
        if frame.device in self._busy:
            if self._waiting.pop(frame.device, None) is not None:
                self.dropped += 1
            self._waiting[frame.device] = frame
            return
        self._start(frame)

    def close(self) -> None:
        """Stop decoding; waits for the decodes in flight (a few milliseconds at most)."""
        self._closed = True
        self._waiting.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _start(self, frame: Frame) -> None:
        self._busy.add(frame.device)
        loop = asyncio.get_running_loop()
        width, height = self._targets.get(frame.device, (0, 0))
        future = loop.run_in_executor(self._pool, decode, frame, width, height)
        future.add_done_callback(lambda f, device=frame.device: self._finished(device, f))

    def _finished(self, device: str, future: asyncio.Future[DecodedFrame]) -> None:
        self._busy.discard(device)
        if self._closed or future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            self.failed += 1
            log.warning("cannot decode a frame from %s: %s", device, exc)
        else:
            self._on_decoded(future.result())
        waiting = self._waiting.pop(device, None)
        if waiting is not None:
            self._start(waiting)
