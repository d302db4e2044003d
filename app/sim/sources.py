"""Where a simulated camera's JPEG frames come from: a rendered scene, stored frames or files."""

from __future__ import annotations

import itertools
import math
import stat
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import simplejpeg
from PIL import Image, ImageDraw, ImageFont

from app.protocol.framesize import FrameSize

DEFAULT_MAX_BYTES = 2 * 1024 * 1024  # same as the receiver's default frame limit
JPEG_SUFFIXES = frozenset({".jpg", ".jpeg"})

# The texture is one periodic tile repeated over the frame; scrolling wraps at the tile size.
_TILE = 512
# The OV2640 on an ESP32-CAM emits 4:2:2 JPEG; matching it keeps frame sizes realistic.
_SUBSAMPLING = "422"


class SourceError(ValueError):
    """A frame source cannot be opened or read; the message says which path and why."""


@runtime_checkable
class FrameSource(Protocol):
    """Produces one complete JPEG per call; `width`/`height` are the frames' dimensions."""

    width: int
    height: int

    def next_frame(self) -> bytes:
        """Return the next frame as the bytes of one complete JPEG file."""
        ...


# --------------------------------------------------------------------------- synthetic


def _periodic_noise(rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Unit-variance Gaussian-blurred noise on a _TILE square that tiles seamlessly.

    Filtering in the frequency domain is circular, so opposite edges match and the
    scrolling texture shows no seam where tiles meet.
    """
    white = rng.standard_normal((_TILE, _TILE))
    radius2 = np.fft.fftfreq(_TILE)[:, None] ** 2 + np.fft.rfftfreq(_TILE)[None, :] ** 2
    lowpass = np.exp(-2.0 * (math.pi * sigma) ** 2 * radius2)
    field = np.fft.irfft2(np.fft.rfft2(white) * lowpass, s=white.shape)
    return (field - field.mean()) / field.std()


def _texture_tile(seed: int) -> np.ndarray:
    """A colourful, mottled RGB tile whose JPEG size resembles a real, busy camera scene.

    Tuned by measurement: about 35 KB per VGA frame at quality 80 (4:2:2). Flat
    gradients compress to a few KB and per-pixel noise to 150 KB+, neither like an
    ESP32-CAM.
    """
    rng = np.random.default_rng(seed)
    luma = 30.0 * _periodic_noise(rng, 10.0)
    tint = np.stack([_periodic_noise(rng, 16.0) for _ in range(3)], axis=-1) * 30.0
    return np.clip(128.0 + luma[..., None] + tint, 0, 255).astype(np.uint8)


@lru_cache(maxsize=4)
def _canvas(seed: int, width: int, height: int) -> np.ndarray:
    """The tiled texture plus one spare tile each way, so any scroll offset is a plain slice.

    Read-only and cached: many simulated cameras of one size and seed share it.
    """
    tile = _texture_tile(seed)
    reps_y = -(-height // _TILE) + 1
    reps_x = -(-width // _TILE) + 1
    tiled = np.tile(tile, (reps_y, reps_x, 1))
    canvas = np.ascontiguousarray(tiled[: height + _TILE, : width + _TILE])
    canvas.flags.writeable = False
    return canvas


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed-size bitmap font
        return ImageFont.load_default()


def _disc_mask(diameter: int) -> np.ndarray:
    yy, xx = np.mgrid[:diameter, :diameter]
    centre = (diameter - 1) / 2.0
    return (yy - centre) ** 2 + (xx - centre) ** 2 <= (diameter / 2.0) ** 2


def _clock_text(now: float) -> str:
    millis = int(now * 1000) % 1000
    return f"{time.strftime('%H:%M:%S', time.localtime(now))}.{millis:03d}"


class SyntheticSource:
    """Renders a moving scene per call: scrolling texture, a bouncing disc and a text overlay.

    The overlay shows `label`, the frame number (1 for the first call) and the local
    wall-clock time, so latency can be read off a screenshot of the receiver. Everything
    costly (texture, disc mask, font) is prepared once; a VGA frame costs about 1 ms.
    """

    def __init__(
        self, size: FrameSize, *, quality: int = 80, seed: int = 0, label: str = ""
    ) -> None:
        if not 1 <= quality <= 100:
            raise ValueError(f"JPEG quality must be 1..100, got {quality}")
        self.size = size
        self.width = size.width
        self.height = size.height
        self.quality = quality
        self.label = label
        self._frames = 0

        self._canvas = _canvas(seed, self.width, self.height)
        self._speed_x = max(1, self.width // 160)  # about 100 px/s at VGA and 25 fps
        self._speed_y = max(1, self.width // 640)

        self._disc = _disc_mask(max(8, self.height // 5))
        hue = np.random.default_rng(seed + 1).integers(0, 3)
        self._disc_colour = np.roll(np.array([250, 210, 40], dtype=np.uint8), int(hue))

        # Large and below the top edge, where a viewer's own title bar would hide it.
        self._font = _font(max(10, self.height // 14))
        self._bar_height = min(self.height, max(12, self.height // 14) + 8)
        self._bar_top = min(self.height - self._bar_height, self.height // 6)

    @property
    def frame_number(self) -> int:
        """Frames rendered so far; the overlay of the latest frame shows this number."""
        return self._frames

    def next_frame(self) -> bytes:
        """Render and JPEG-encode the next frame (width x height, 4:2:2, `quality`)."""
        self._frames += 1
        pixels = self.render(self._frames, time.time())
        return simplejpeg.encode_jpeg(
            pixels, quality=self.quality, colorspace="RGB", colorsubsampling=_SUBSAMPLING
        )

    def render(self, number: int, now: float) -> np.ndarray:
        """The RGB pixels (height, width, 3) of frame `number` stamped with time `now`."""
        h, w = self.height, self.width
        dy = (number * self._speed_y) % _TILE
        dx = (number * self._speed_x) % _TILE
        frame = self._canvas[dy : dy + h, dx : dx + w].copy()

        # Coprime periods (in frames): the disc's path only repeats every 97 * 61 frames.
        d = self._disc.shape[0]
        x = round((w - d) * (0.5 + 0.5 * math.sin(2 * math.pi * number / 97)))
        y = round((h - d) * (0.5 + 0.5 * math.sin(2 * math.pi * number / 61 + 1.0)))
        frame[y : y + d, x : x + d][self._disc] = self._disc_colour

        self._stamp(frame, number, now)
        return frame

    def _stamp(self, frame: np.ndarray, number: int, now: float) -> None:
        # Drawing on a small bar and copying it in is far cheaper than wrapping the
        # whole frame in a PIL image (Pillow cannot share an RGB numpy buffer).
        parts = [self.label] if self.label else []
        parts += [f"#{number:06d}", _clock_text(now)]
        bar = Image.new("RGB", (self.width, self._bar_height), (0, 0, 0))
        ImageDraw.Draw(bar).text((4, 3), "  ".join(parts), fill=(255, 255, 255), font=self._font)
        frame[self._bar_top : self._bar_top + self._bar_height] = np.asarray(bar)


# --------------------------------------------------------------------------- prerendered


class PrerenderedSource:
    """Cycles forever through frames that are already JPEG-encoded; costs no CPU per frame."""

    def __init__(self, frames: Sequence[bytes], width: int, height: int) -> None:
        if not frames:
            raise ValueError("PrerenderedSource needs at least one frame")
        self.width = width
        self.height = height
        self.frames: tuple[bytes, ...] = tuple(frames)
        self._cycle = itertools.cycle(self.frames)

    @classmethod
    def synthetic(
        cls,
        size: FrameSize,
        count: int = 50,
        quality: int = 80,
        seed: int = 0,
        label: str = "",
    ) -> PrerenderedSource:
        """Render `count` SyntheticSource frames once, to be replayed in a loop."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        source = SyntheticSource(size, quality=quality, seed=seed, label=label)
        return cls([source.next_frame() for _ in range(count)], size.width, size.height)

    def next_frame(self) -> bytes:
        """Return the next stored frame, wrapping to the first after the last."""
        return next(self._cycle)


# --------------------------------------------------------------------------- directory

# SOF markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers with no length field.
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})


def jpeg_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's SOF header, without decoding; ValueError if absent."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # EOI or start of scan: no frame header came first
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF_MARKERS:
            if pos + 9 > len(data):
                break
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            if width == 0 or height == 0:
                raise ValueError("JPEG frame header gives a zero dimension")
            return width, height
        if length < 2:
            raise ValueError(f"corrupt JPEG: segment length {length} at byte {pos}")
        pos += 2 + length
    raise ValueError("JPEG has no frame header (SOF marker)")


class DirectorySource:
    """Loops forever over a directory's JPEG files in file-name order, sending bytes unchanged.

    Files are `*.jpg`/`*.jpeg` (any case), regular and not hidden; the list and every
    size are checked once at construction. Each call reads one file, so a large
    directory is never held in memory. `width`/`height` come from the first file's header.
    """

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        if not self.path.exists():
            raise SourceError(f"frame directory {self.path} does not exist")
        if not self.path.is_dir():
            raise SourceError(f"frame source {self.path} is not a directory")

        try:
            entries = sorted(self.path.iterdir(), key=lambda p: p.name)
        except OSError as exc:
            raise SourceError(f"cannot list {self.path}: {exc.strerror or exc}") from exc
        files: list[Path] = []
        for entry in entries:
            if entry.name.startswith(".") or entry.suffix.lower() not in JPEG_SUFFIXES:
                continue
            try:
                info = entry.stat()  # follows symlinks: a link to a regular file counts
            except FileNotFoundError:  # dangling symlink
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if info.st_size > max_bytes:
                raise SourceError(
                    f"{entry} is {info.st_size} bytes, over the {max_bytes}-byte frame limit"
                )
            if info.st_size == 0:
                raise SourceError(f"{entry} is empty")
            files.append(entry)
        if not files:
            raise SourceError(f"no .jpg/.jpeg files in {self.path}")
        self.files: tuple[Path, ...] = tuple(files)

        try:
            self.width, self.height = jpeg_dimensions(self._read(files[0]))
        except ValueError as exc:
            raise SourceError(f"{files[0]}: {exc}") from None
        self._index = 0

    def next_frame(self) -> bytes:
        """The next file's bytes, wrapping to the first file after the last."""
        path = self.files[self._index]
        self._index = (self._index + 1) % len(self.files)
        return self._read(path)

    def _read(self, path: Path) -> bytes:
        # Files can change after construction; re-check rather than send a bad frame.
        try:
            with path.open("rb") as f:
                data = f.read(self.max_bytes + 1)
        except OSError as exc:
            raise SourceError(f"cannot read frame {path}: {exc.strerror or exc}") from exc
        if len(data) > self.max_bytes:
            raise SourceError(f"{path} grew over the {self.max_bytes}-byte frame limit")
        if data[:2] != b"\xff\xd8":
            raise SourceError(f"{path} is not a JPEG (no SOI marker)")
        return data


# --------------------------------------------------------------------------- helpers


def write_sample_frames(
    directory: Path, count: int, size: FrameSize = FrameSize.VGA, seed: int = 0
) -> list[Path]:
    """Write `count` synthetic frames as directory/frame_00000.jpg...; returns their paths."""
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    source = SyntheticSource(size, seed=seed, label="sample")
    paths = []
    for i in range(count):
        path = directory / f"frame_{i:05d}.jpg"
        path.write_bytes(source.next_frame())
        paths.append(path)
    return paths


def open_source(spec: str, size: FrameSize, *, label: str = "", quality: int = 80) -> FrameSource:
    """`"synthetic"` renders a scene at `size`; anything else is a directory of JPEGs.

    For a directory, `size` and `quality` are ignored: the files are sent as they are.
    (A directory literally named "synthetic" can be given as "./synthetic".)
    """
    if spec == "synthetic":
        return SyntheticSource(size, quality=quality, label=label)
    return DirectorySource(Path(spec).expanduser())
