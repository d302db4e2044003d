"""Frame sizes the protocol can name; codes are SecureCam's own, not esp32-camera's enum."""

from __future__ import annotations

from enum import IntEnum


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
