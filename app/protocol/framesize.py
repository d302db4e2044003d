"""Frame sizes the protocol can name (codes are SecureCam's own, not esp32-camera's enum), and
the lowest JPEG quality number at which a frame of each size fits the camera's JPEG buffer.

The JPEG limit is the rule of docs/JPEG-BUFFER.md; its C twin is sc_config_min_jpeg_quality
(firmware/lib/securecam_core), and tests/protocol/test_framesize.py proves the two agree.
"""

from __future__ import annotations

import math
from enum import IntEnum

JPEG_QUALITY_MIN = 4  # esp32-camera's scale: 4 (best, largest) .. 63
JPEG_QUALITY_MAX = 63

# esp32-camera 2.0.6 gives each JPEG frame buffer width*height/5 bytes of the frame size given
# to esp_camera_init; the firmware inits at its largest size, so every size shares that buffer.
JPEG_BUFFER_PSRAM = 1600 * 1200 // 5  # 384,000: UXGA, the largest size with PSRAM
JPEG_BUFFER_NO_PSRAM = 400 * 296 // 5  # 23,680: CIF, the largest size without PSRAM
JPEG_DMA_CHUNK = 1024  # JPEG bytes per DMA half-buffer; a piece that does not fit is refused
JPEG_HEADER_ALLOWANCE = 1024  # the sensor's JPEG headers (quantisation, Huffman: about 620 B)
# Worst-case bytes per pixel: 0.25 at quality 12 (1.25 x the largest reported, 0.20 B/px),
# scaled by (12 / q) ** 0.75 (the measured slope of JPEG size against the quality number).
_WORST_BPP_AT_12 = 0.25
QUALITY_SLOPE = 0.75


class FrameSize(IntEnum):
    """Wire code of a camera resolution (esp32-camera's framesize_t differs between versions)."""

    QQVGA = 1  # 160x120
    QVGA = 2  # 320x240
    CIF = 3  # 400x296
    HVGA = 4  # 480x320
    VGA = 5  # 640x480
    SVGA = 6  # 800x600
    XGA = 7  # 1024x768
    HD = 8  # 1280x720
    SXGA = 9  # 1280x1024
    UXGA = 10  # 1600x1200

    @property
    def width(self) -> int:
        return _DIMENSIONS[self][0]

    @property
    def height(self) -> int:
        return _DIMENSIONS[self][1]

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @classmethod
    def parse(cls, text: str) -> FrameSize:
        """Parse a case-insensitive name such as 'vga'."""
        try:
            return cls[text.upper()]
        except KeyError:
            names = ", ".join(size.name.lower() for size in cls)
            raise ValueError(f"unknown frame size {text!r}; choose one of {names}") from None


_DIMENSIONS = {
    FrameSize.QQVGA: (160, 120),
    FrameSize.QVGA: (320, 240),
    FrameSize.CIF: (400, 296),
    FrameSize.HVGA: (480, 320),
    FrameSize.VGA: (640, 480),
    FrameSize.SVGA: (800, 600),
    FrameSize.XGA: (1024, 768),
    FrameSize.HD: (1280, 720),
    FrameSize.SXGA: (1280, 1024),
    FrameSize.UXGA: (1600, 1200),
}


# Thousandths of a byte per pixel, rounded up: the same table as the firmware's
# k_worst_millibytes_per_pixel (firmware/lib/securecam_core/src/sc_config.c).
_WORST_MILLIBYTES_PER_PIXEL: dict[int, int] = {
    q: math.ceil(1000 * _WORST_BPP_AT_12 * math.pow(12 / q, QUALITY_SLOPE))
    for q in range(JPEG_QUALITY_MIN, JPEG_QUALITY_MAX + 1)
}


def jpeg_buffer_bytes(init_size: FrameSize) -> int:
    """The JPEG buffer esp32-camera allocates when esp_camera_init gets `init_size`."""
    return init_size.pixels // 5


def jpeg_worst_bytes(size: FrameSize, quality: int) -> int:
    """The model's worst-case JPEG frame at `size` and `quality` (4..63), in bytes."""
    if quality not in _WORST_MILLIBYTES_PER_PIXEL:
        raise ValueError(
            f"JPEG quality must be {JPEG_QUALITY_MIN}-{JPEG_QUALITY_MAX}, got {quality}"
        )
    scaled = size.pixels * _WORST_MILLIBYTES_PER_PIXEL[quality]
    return JPEG_HEADER_ALLOWANCE + (scaled + 999) // 1000  # rounded up, as in C


def min_jpeg_quality(size: FrameSize, buffer_bytes: int = JPEG_BUFFER_PSRAM) -> int | None:
    """The lowest quality number whose worst-case frame at `size` fits a JPEG buffer of
    `buffer_bytes` (the driver holds whole 1,024-byte pieces only); None if none fits."""
    usable = buffer_bytes // JPEG_DMA_CHUNK * JPEG_DMA_CHUNK
    for quality in range(JPEG_QUALITY_MIN, JPEG_QUALITY_MAX + 1):
        if jpeg_worst_bytes(size, quality) <= usable:
            return quality
    return None


def jpeg_quality_in_force(
    size: FrameSize, quality: int, buffer_bytes: int = JPEG_BUFFER_PSRAM
) -> int:
    """The quality a camera applies when asked for `quality` at `size`: raised to the floor
    (min_jpeg_quality) when below it, 63 when nothing fits or more was asked."""
    lowest = min_jpeg_quality(size, buffer_bytes)
    if lowest is None or quality > JPEG_QUALITY_MAX:
        return JPEG_QUALITY_MAX
    return max(quality, lowest)
