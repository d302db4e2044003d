"""Where a simulated camera's JPEG frames come from: a rendered scene, stored frames or files."""

from __future__ import annotations

import itertools
import math
import stat
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import simplejpeg
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from app.protocol.framesize import FrameSize

DEFAULT_MAX_BYTES = 2 * 1024 * 1024  # same as the receiver's default frame limit
JPEG_SUFFIXES = frozenset({".jpg", ".jpeg"})

# Textures and sensor grain are periodic tiles of this side, repeated over the frame.
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
#
# The synthetic camera looks into a living room: a bookcase on the left wall, a window onto a
# garden, a sofa under a wall clock, a floor lamp and a doorway to the next room. A person
# walks to and fro, clouds drift past the window and the clock shows the local time.
#
# Everything that does not move is rendered once per seed and frame size, with texture and a
# fixed sensor grain baked in (_scene, cached). A frame is a copy of that with the moving
# parts drawn over it: the sky in the window, the walker, the clock's hands and the overlay.
#
# Geometry is in fractions of the frame (x of the width, y of the height), seen by a pinhole
# camera at half the room's height: _room(X, h, z) maps the point X half-widths across the
# room, h of its height up and z deep (the back wall at z = 1) into the frame.

Point = tuple[float, float]
Colour = tuple[int, int, int]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels, end exclusive

_SS = 2  # shapes are drawn at twice the size and averaged down: antialiased
_LENS = ImageFilter.Kernel((3, 3), (1, 2, 1, 2, 4, 2, 1, 2, 1), 16)  # then softened a little
_FLARE = 0.1  # the share of the picture's mean light that stray light adds everywhere
_VANISH_X, _VANISH_Y = 0.5, 0.37  # where lines running straight into the room meet
_HALF_WIDTH, _HALF_HEIGHT = 0.36, 0.29  # the back wall's half extents at z = 1

# Materials: which texture a surface gets. Rows of _TEXTURE: grey levels of blotches
# (plaster, foliage), of grain along x (wood) and of a fine weave (fabric).
(_WALL, _CEILING, _FLOOR, _TRIM, _FABRIC, _RUG, _GARDEN, _WOOD, _PLAIN, _LEAVES, _SKY) = range(11)
_TEXTURE = np.array(
    [
        (2.1, 0.0, 0.0),  # wall
        (1.2, 0.0, 0.0),  # ceiling
        (2.7, 2.1, 0.0),  # floor
        (1.2, 0.0, 0.0),  # trim
        (3.0, 0.0, 0.9),  # fabric
        (3.6, 0.0, 1.2),  # rug
        (7.2, 0.0, 0.9),  # garden
        (2.4, 1.8, 0.0),  # wood
        (0.6, 0.0, 0.0),  # plain: clock face, lamp shade, door
        (6.0, 0.0, 1.2),  # leaves
        (0.0, 0.0, 0.0),  # sky: drawn per frame, with its own clouds
    ],
    dtype=np.float32,
)
# Sensor grain at the sensor's full width (grey levels per pixel): in luma, and in each colour
# difference. Smaller frame sizes are scaled down from the full sensor, which averages the grain
# down in proportion (an OV2640's UXGA frame is noisier per pixel than its VGA frame).
_SENSOR_WIDTH = 1600
_GRAIN_LUMA = 3.3
_GRAIN_CHROMA = 1.6

# Palettes a seed picks from (seeds 0..3 get one column each): wall, sofa, rug, the walker's
# shirt and skin.
_WALLS: tuple[Colour, ...] = ((214, 198, 170), (172, 190, 168), (180, 194, 210), (218, 190, 174))
_SOFAS: tuple[Colour, ...] = ((96, 116, 70), (146, 66, 56), (168, 136, 84), (62, 86, 128))
_RUGS: tuple[Colour, ...] = ((176, 156, 116), (88, 122, 110), (58, 80, 120), (150, 62, 52))
_SHIRTS: tuple[Colour, ...] = ((52, 112, 186), (226, 176, 40), (196, 54, 44), (58, 146, 88))
_SKINS: tuple[Colour, ...] = ((198, 146, 108), (236, 192, 160), (140, 96, 66), (224, 172, 130))
_WHITE_PAINT: Colour = (236, 232, 222)
_WOOD_COLOUR: Colour = (150, 104, 64)

_WALK_PHASES = 8  # drawings of one stride, each shown for _PHASE_FRAMES frames
_PHASE_FRAMES = 3
_WALK_FRAMES = 120  # frames to cross the room one way: over a pixel a frame at every size
_WALK_DEPTH = 0.8  # z of the walker's path: in front of the sofa
_CLOCK = (0.555, 0.36, 0.055)  # centre x, y and radius, as fractions of the height


def _room(x: float, h: float, z: float) -> Point:
    """Where the room's point (x half-widths across, h of the height up, z deep) appears."""
    return (_VANISH_X + _HALF_WIDTH * x / z, _VANISH_Y + _HALF_HEIGHT * (1 - 2 * h) / z)


def _shade(colour: Colour, factor: float) -> Colour:
    r, g, b = (min(255, max(0, round(c * factor))) for c in colour)
    return (r, g, b)


def _periodic_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma_y: float, sigma_x: float
) -> np.ndarray:
    """Unit-variance Gaussian-blurred noise (float32) that tiles seamlessly.

    Filtering in the frequency domain is circular, so opposite edges match: a frame covered
    with copies of the tile shows no seam, and a strip scrolled round shows no jump.
    """
    white = rng.standard_normal(shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    lowpass = np.exp(-2.0 * math.pi**2 * ((sigma_y * fy) ** 2 + (sigma_x * fx) ** 2))
    field: np.ndarray = np.fft.irfft2(np.fft.rfft2(white) * lowpass, s=shape)
    return ((field - field.mean()) / field.std()).astype(np.float32)


@lru_cache(maxsize=1)
def _noise_tiles() -> np.ndarray:
    """(6, _TILE, _TILE) float32: blotches, wood grain, weave; white grain for Y, Cb and Cr."""
    rng = np.random.default_rng(0x5EC)
    shape = (_TILE, _TILE)
    return np.stack(
        [
            _periodic_noise(rng, shape, 12.0, 12.0),
            _periodic_noise(rng, shape, 0.8, 40.0),
            _periodic_noise(rng, shape, 0.7, 0.7),
            *rng.standard_normal((3, *shape), dtype=np.float32),
        ]
    )


def _tiled(tile: np.ndarray, height: int, width: int) -> np.ndarray:
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]))
    return np.tile(tile, reps)[:height, :width]


def _with_grain(rgb: np.ndarray, scale: float, luma: np.ndarray | None = None) -> np.ndarray:
    """`rgb` (float32, height x width x 3; changed in place) plus `luma` (height x width) and
    the sensor's grain at a frame `scale` times the sensor's width, clipped to uint8."""
    tiles = _noise_tiles()
    h, w = rgb.shape[:2]
    grain = _GRAIN_LUMA * scale * _tiled(tiles[3], h, w)
    if luma is not None:
        grain += luma
    cb = _GRAIN_CHROMA * scale * _tiled(tiles[4], h, w)
    cr = _GRAIN_CHROMA * scale * _tiled(tiles[5], h, w)
    rgb[..., 0] += grain + cr
    rgb[..., 1] += grain - 0.5 * (cb + cr)
    rgb[..., 2] += grain + cb
    return np.clip(rgb, 0, 255, out=rgb).astype(np.uint8)


class _Painter:
    """Draws shapes given in frame fractions onto the frame pixels `box`: colours at _SS
    times the size (averaged down by `pixels`), each surface's material at 1x."""

    def __init__(self, width: int, height: int, box: Box | None = None) -> None:
        self.width, self.height = width, height
        self.box = box or (0, 0, width, height)
        size = (self.box[2] - self.box[0], self.box[3] - self.box[1])
        self.colour = Image.new("RGB", (size[0] * _SS, size[1] * _SS))
        self.material = Image.new("L", size)
        self._draws = (
            (ImageDraw.Draw(self.colour), _SS, True),
            (ImageDraw.Draw(self.material), 1, False),
        )

    def _xy(self, points: Sequence[Point], scale: int) -> list[tuple[float, float]]:
        x0, y0 = self.box[:2]
        return [((x * self.width - x0) * scale, (y * self.height - y0) * scale) for x, y in points]

    def polygon(self, points: Sequence[Point], colour: Colour, material: int) -> None:
        for draw, scale, is_colour in self._draws:
            draw.polygon(self._xy(points, scale), fill=colour if is_colour else material)

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: Colour, mat: int) -> None:
        self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour, mat)

    def ellipse(self, centre: Point, rx: float, ry: float, colour: Colour, mat: int) -> None:
        """An ellipse centred on `centre` (frame fractions), radii in pixels of the frame."""
        for draw, scale, is_colour in self._draws:
            ((x, y),) = self._xy([centre], scale)
            box = (x - rx * scale, y - ry * scale, x + rx * scale, y + ry * scale)
            draw.ellipse(box, fill=colour if is_colour else mat)

    def line(self, points: Sequence[Point], width: float, colour: Colour, mat: int) -> None:
        """A polyline `width` pixels of the frame wide."""
        for draw, scale, is_colour in self._draws:
            xy = self._xy(points, scale)
            draw.line(xy, fill=colour if is_colour else mat, width=max(1, round(width * scale)))

    def pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """(RGB as float32, slightly soft as through a cheap lens; material as uint8), at 1x."""
        soft = self.colour.reduce(_SS).filter(_LENS)
        return np.asarray(soft, dtype=np.float32), np.asarray(self.material)


def _draw_next_room(p: _Painter, wall: Colour) -> None:
    """What the doorway shows: the next room's far wall, floor, side wall and the open door.

    Drawn first and over everything: the main room's walls cover all but the doorway.
    """
    far = _shade(wall, 0.78)
    p.rect(0.0, 0.0, 1.0, 1.0, far, _WALL)
    p.polygon(
        [_room(0.0, 0, 2.0), _room(3.0, 0, 2.0), (1.0, 1.0), (0.0, 1.0)], (120, 86, 56), _FLOOR
    )
    p.polygon(
        [_room(1.6, 0, 2.0), _room(1.6, 1, 2.0), _room(1.6, 1, 1.0), _room(1.6, 0, 1.0)],
        _shade(wall, 0.64),
        _WALL,
    )
    p.polygon(
        [
            _room(1.3, 0.72, 2.0),
            _room(1.55, 0.72, 2.0),
            _room(1.55, 0.45, 2.0),
            _room(1.3, 0.45, 2.0),
        ],
        (60, 48, 40),
        _WOOD,
    )
    p.polygon(
        [
            _room(1.33, 0.69, 2.0),
            _room(1.52, 0.69, 2.0),
            _room(1.52, 0.48, 2.0),
            _room(1.33, 0.48, 2.0),
        ],
        (196, 150, 96),
        _GARDEN,
    )
    # The door, open into the next room on its hinge at the doorway's right edge.
    p.polygon(
        [_room(0.93, 0, 1.0), _room(0.93, 0.78, 1.0), _room(0.8, 0.78, 1.3), _room(0.8, 0, 1.3)],
        (214, 208, 196),
        _PLAIN,
    )


def _draw_shell(p: _Painter, wall: Colour) -> None:
    """Ceiling, side walls, floor (planks) and the back wall around the doorway."""
    near = 0.35  # nearer than the frame's edges: walls and floor run off the frame
    p.polygon(
        [_room(-1, 0, 1), _room(1, 0, 1), _room(1, 0, near), _room(-1, 0, near)],
        _WOOD_COLOUR,
        _FLOOR,
    )
    _draw_planks(p)  # before the walls, which hide the planks' ends
    p.polygon([(0.0, 0.0), (1.0, 0.0), _room(1, 1, 1), _room(-1, 1, 1)], (228, 226, 220), _CEILING)
    p.polygon(
        [_room(-1, 1, near), _room(-1, 1, 1), _room(-1, 0, 1), _room(-1, 0, near)],
        _shade(wall, 0.84),
        _WALL,
    )
    p.polygon(
        [_room(1, 1, near), _room(1, 1, 1), _room(1, 0, 1), _room(1, 0, near)],
        _shade(wall, 0.9),
        _WALL,
    )
    # The back wall, in three pieces around the doorway (x 0.64 .. 0.93 half-widths).
    left, top, right, bottom = *_room(-1, 1, 1), *_room(1, 0, 1)
    door_l, door_t = _room(0.64, 0.8, 1)
    door_r = _room(0.93, 0, 1)[0]
    p.rect(left, top, door_l, bottom, wall, _WALL)
    p.rect(door_r, top, right, bottom, wall, _WALL)
    p.rect(door_l, top, door_r, door_t, wall, _WALL)
    # Skirting along the back wall, and the doorway's frame.
    skirt = _room(0, 0.04, 1)[1]
    p.rect(left, skirt, door_l, bottom, _WHITE_PAINT, _TRIM)
    p.rect(door_r, skirt, right, bottom, _WHITE_PAINT, _TRIM)
    jamb = 0.012
    p.rect(door_l - jamb, door_t - jamb * 1.3, door_l, bottom, _WHITE_PAINT, _TRIM)
    p.rect(door_r, door_t - jamb * 1.3, door_r + jamb, bottom, _WHITE_PAINT, _TRIM)
    p.rect(door_l - jamb, door_t - jamb * 1.3, door_r + jamb, door_t, _WHITE_PAINT, _TRIM)
    p.rect(door_r + 0.025, 0.42, door_r + 0.037, 0.445, _WHITE_PAINT, _PLAIN)  # light switch


def _draw_planks(p: _Painter) -> None:
    """Floorboards across the room, each a slightly different brown, joints staggered."""
    rng = np.random.default_rng(7)
    z = 1.0
    while z > 0.4:
        z_near = z - 0.07
        x = -1.0 - float(rng.uniform(0, 0.6))
        while x < 1.0:
            end = x + float(rng.uniform(0.5, 1.1))
            tint = _shade(_WOOD_COLOUR, float(rng.uniform(0.9, 1.1)))
            quad = [_room(x, 0, z), _room(end, 0, z), _room(end, 0, z_near), _room(x, 0, z_near)]
            p.polygon(quad, tint, _FLOOR)
            p.line([_room(end, 0, z), _room(end, 0, z_near)], 0.6, (84, 56, 34), _FLOOR)
            x = end
        p.line([_room(-3, 0, z_near), _room(3, 0, z_near)], 0.7, (90, 60, 36), _FLOOR)
        z = z_near


def _draw_bookcase(p: _Painter) -> None:
    """A bookcase against the left wall; its front faces the room."""
    rng = np.random.default_rng(11)
    front, back, z_near, z_far, top = -0.84, -1.0, 0.76, 0.94, 0.72
    wood = (112, 78, 50)
    p.polygon(
        [
            _room(back, 0, z_near),
            _room(back, top, z_near),
            _room(front, top, z_near),
            _room(front, 0, z_near),
        ],
        _shade(wood, 1.15),
        _WOOD,
    )
    p.polygon(
        [
            _room(front, 0, z_near),
            _room(front, top, z_near),
            _room(front, top, z_far),
            _room(front, 0, z_far),
        ],
        _shade(wood, 0.6),
        _WOOD,
    )
    shelves = [0.04, 0.21, 0.38, 0.55, top]
    for lower, upper in itertools.pairwise(shelves):
        z = z_far - 0.004
        while z > z_near + 0.01:
            depth = float(rng.uniform(0.008, 0.016))
            height = lower + (upper - lower - 0.02) * float(rng.uniform(0.6, 0.95))
            hue = rng.integers(60, 200, size=3)
            colour = (int(hue[0]), int(hue[1]), int(hue[2]))
            z_end = max(z - depth, z_near + 0.01)
            p.polygon(
                [
                    _room(front, lower, z),
                    _room(front, height, z),
                    _room(front, height, z_end),
                    _room(front, lower, z_end),
                ],
                colour,
                _FABRIC,
            )
            z = z_end - 0.001
        p.polygon(
            [
                _room(front, lower - 0.02, z_near),
                _room(front, lower, z_near),
                _room(front, lower, z_far),
                _room(front, lower - 0.02, z_far),
            ],
            wood,
            _WOOD,
        )
    p.polygon(
        [
            _room(front, top - 0.02, z_near),
            _room(front, top, z_near),
            _room(front, top, z_far),
            _room(front, top - 0.02, z_far),
        ],
        wood,
        _WOOD,
    )


def _draw_window(p: _Painter, curtain: Colour) -> Box:
    """The window on the back wall, the garden seen through it and the curtains either side.

    Returns the glass's box in frame pixels: its sky (material _SKY) is redrawn per frame.
    """
    x0, y0, x1, y1 = 0.18, 0.28, 0.40, 0.52
    width, height = p.width, p.height
    box = (round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height))
    garden = _Painter(width, height, box)
    garden.rect(0.0, 0.0, 1.0, 1.0, (150, 190, 230), _SKY)
    garden.polygon(
        [
            (0.17, 0.46),
            (0.22, 0.43),
            (0.29, 0.445),
            (0.36, 0.425),
            (0.41, 0.44),
            (0.41, 0.53),
            (0.17, 0.53),
        ],
        (132, 160, 150),
        _GARDEN,
    )
    garden.rect(0.17, 0.465, 0.41, 0.53, (112, 162, 74), _GARDEN)
    garden.rect(0.17, 0.458, 0.41, 0.468, (150, 132, 108), _WOOD)  # a fence along the garden
    for post in np.arange(0.186, 0.41, 0.024):
        garden.rect(float(post), 0.448, float(post) + 0.004, 0.47, (140, 122, 100), _WOOD)
    garden.rect(0.336, 0.40, 0.344, 0.49, (92, 70, 50), _WOOD)  # a tree
    for cx, cy, r in (
        (0.34, 0.36, 0.05),
        (0.32, 0.39, 0.04),
        (0.36, 0.39, 0.042),
        (0.34, 0.33, 0.035),
    ):
        garden.ellipse((cx, cy), r * height, r * height * 0.95, (58, 104, 52), _LEAVES)
    garden.ellipse((0.22, 0.49), 0.04 * height, 0.025 * height, (74, 124, 60), _LEAVES)  # a bush
    p.colour.paste(garden.colour, (box[0] * _SS, box[1] * _SS))
    p.material.paste(garden.material, box[:2])

    # Frame, mullion and transom, sill, and the curtains either side.
    frame = 0.008
    for rect in (
        (x0 - frame, y0 - frame * 1.3, x1 + frame, y0),
        (x0 - frame, y1, x1 + frame, y1 + frame * 1.3),
        (x0 - frame, y0, x0, y1),
        (x1, y0, x1 + frame, y1),
        ((x0 + x1) / 2 - frame / 2, y0, (x0 + x1) / 2 + frame / 2, y1),
        (x0, 0.39, x1, 0.39 + frame * 1.2),
    ):
        p.rect(*rect, _WHITE_PAINT, _TRIM)
    p.rect(x0 - 0.02, y1 + frame * 1.3, x1 + 0.02, y1 + 0.03, _WHITE_PAINT, _TRIM)
    p.rect(x0 - 0.045, 0.245, x1 + 0.045, 0.252, (90, 70, 52), _WOOD)  # curtain rail
    for left in (x0 - 0.04, x1 + 0.004):
        p.rect(left, 0.252, left + 0.036, 0.62, curtain, _FABRIC)
        for fold in (0.007, 0.019, 0.029):
            fold_line = [(left + fold, 0.255), (left + fold, 0.62)]
            p.line(fold_line, 0.004 * height, _shade(curtain, 0.8), _FABRIC)
    return box


def _draw_furniture(p: _Painter, sofa: Colour, rug: Colour) -> None:
    """Rug, sofa, floor lamp, a plant, the clock's face and a picture on the right wall."""
    border = _shade(rug, 0.6)
    p.polygon(
        [_room(-0.5, 0, 0.88), _room(0.55, 0, 0.88), _room(0.55, 0, 0.56), _room(-0.5, 0, 0.56)],
        border,
        _RUG,
    )
    p.polygon(
        [_room(-0.45, 0, 0.86), _room(0.5, 0, 0.86), _room(0.5, 0, 0.58), _room(-0.45, 0, 0.58)],
        rug,
        _RUG,
    )
    p.polygon(
        [_room(-0.3, 0, 0.8), _room(0.35, 0, 0.8), _room(0.35, 0, 0.64), _room(-0.3, 0, 0.64)],
        _shade(rug, 1.35),
        _RUG,
    )

    # The sofa against the back wall, below the clock.
    dark = _shade(sofa, 0.78)
    p.rect(0.44, 0.47, 0.68, 0.60, dark, _FABRIC)  # back
    p.rect(0.447, 0.58, 0.673, 0.645, sofa, _FABRIC)  # seat
    p.line([(0.56, 0.585), (0.56, 0.645)], 0.003 * p.height, _shade(sofa, 0.6), _FABRIC)
    p.rect(0.447, 0.645, 0.673, 0.688, _shade(sofa, 0.88), _FABRIC)  # front
    for x in (0.425, 0.658):
        p.rect(x, 0.53, x + 0.037, 0.69, _shade(sofa, 0.95), _FABRIC)  # arms
    for x in (0.43, 0.685):
        p.rect(x, 0.69, x + 0.006, 0.705, (50, 36, 26), _WOOD)  # feet
    p.rect(0.465, 0.53, 0.505, 0.585, (226, 196, 90), _FABRIC)  # a cushion
    p.rect(0.615, 0.535, 0.652, 0.585, _shade(rug, 1.2), _FABRIC)

    # A floor lamp between the sofa and the doorway.
    p.ellipse((0.712, 0.705), 0.016 * p.width, 0.005 * p.height, (40, 40, 40), _PLAIN)
    p.line([(0.712, 0.705), (0.712, 0.42)], 0.004 * p.height, (60, 60, 60), _PLAIN)
    p.polygon(
        [(0.698, 0.37), (0.726, 0.37), (0.734, 0.425), (0.69, 0.425)], (246, 232, 196), _PLAIN
    )

    # A plant in a pot below the window.
    pot_x, pot_y = _room(-0.62, 0, 0.97)
    p.polygon(
        [
            (pot_x - 0.02, pot_y - 0.06),
            (pot_x + 0.02, pot_y - 0.06),
            (pot_x + 0.015, pot_y),
            (pot_x - 0.015, pot_y),
        ],
        (176, 98, 66),
        _PLAIN,
    )
    leaves = np.random.default_rng(5)
    for _ in range(12):
        angle = float(leaves.uniform(-1.3, 1.3))
        length = float(leaves.uniform(0.06, 0.16))
        tip = (pot_x + math.sin(angle) * length * 0.5, pot_y - 0.06 - math.cos(angle) * length)
        p.line([(pot_x, pot_y - 0.06), tip], 0.012 * p.height, (56, 120, 58), _LEAVES)

    # A picture on the right wall.
    p.polygon(
        [_room(1, 0.68, 0.82), _room(1, 0.68, 0.93), _room(1, 0.45, 0.93), _room(1, 0.45, 0.82)],
        (52, 44, 38),
        _WOOD,
    )
    p.polygon(
        [_room(1, 0.66, 0.83), _room(1, 0.66, 0.92), _room(1, 0.47, 0.92), _room(1, 0.47, 0.83)],
        (70, 120, 160),
        _GARDEN,
    )

    # The wall clock's face; the hands are drawn per frame.
    cx, cy, r = _CLOCK
    aspect = p.height / p.width  # r is a fraction of the height; x is of the width
    p.ellipse((cx, cy), r * p.height, r * p.height, (44, 42, 46), _PLAIN)
    p.ellipse((cx, cy), r * 0.88 * p.height, r * 0.88 * p.height, (246, 244, 236), _PLAIN)
    for hour in range(12):
        a = hour * math.pi / 6
        inner, width = (0.66, 0.08) if hour % 3 == 0 else (0.74, 0.045)
        dx, dy = math.sin(a) * r * aspect, -math.cos(a) * r
        tick = [(cx + dx * inner, cy + dy * inner), (cx + dx * 0.84, cy + dy * 0.84)]
        p.line(tick, width * r * p.height, (44, 42, 46), _PLAIN)


def _vignette(height: int, width: int) -> np.ndarray:
    """Brightness falling off towards the corners, as through a small lens (float32, h x w)."""
    gy = np.linspace(-1.0, 1.0, height, dtype=np.float32) ** 2
    gx = np.linspace(-1.0, 1.0, width, dtype=np.float32) ** 2
    return 1.0 - 0.13 * (gy[:, None] + gx[None, :])


def _sky(rng: np.random.Generator, height: int, period: int, scale: float) -> np.ndarray:
    """Blue sky with white clouds, `period` pixels wide and repeating across; uint8 RGB."""
    fraction = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top = np.array([96, 150, 220], dtype=np.float32)
    horizon = np.array([184, 212, 238], dtype=np.float32)
    sky = top + (horizon - top) * fraction
    clouds = _periodic_noise(rng, (max(height, 2), max(period, 2)), height / 12, period / 7)
    cover = np.clip((clouds[:height, :period, None] - 0.3) * 1.4, 0.0, 0.92)
    white = np.array([246, 246, 250], dtype=np.float32) - 24.0 * fraction
    return _with_grain(sky + (white - sky) * cover, scale)


@dataclass(frozen=True)
class _Sprite:
    """One drawing of the walker: opaque pixels are copied, edge and shadow pixels blended."""

    rgb: np.ndarray  # (h, w, 3) uint8
    opaque: np.ndarray  # (h, w, 1) bool
    rows: np.ndarray  # where the partly covered pixels are
    cols: np.ndarray
    keep: np.ndarray  # (n, 1) uint16: 255 - their coverage
    add: np.ndarray  # (n, 3) uint16: their colour x coverage
    feet: Point  # where the feet are, in the sprite's pixels

    @classmethod
    def of(cls, image: Image.Image, feet: Point) -> _Sprite:
        """From an RGBA drawing, cropped to what it covers; `feet` is in the drawing's pixels."""
        box = image.getbbox() or (0, 0, 1, 1)
        pixels = np.asarray(image.crop(box))
        alpha = pixels[..., 3]
        rows, cols = np.nonzero((alpha > 0) & (alpha < 255))
        coverage = alpha[rows, cols].astype(np.uint16)[:, None]
        return cls(
            rgb=np.ascontiguousarray(pixels[..., :3]),
            opaque=(alpha == 255)[..., None],
            rows=rows,
            cols=cols,
            keep=255 - coverage,
            add=pixels[rows, cols, :3].astype(np.uint16) * coverage,
            feet=(feet[0] - box[0], feet[1] - box[1]),
        )

    def reach(self) -> float:
        """How far the drawing reaches from the feet, sideways, either way."""
        return max(self.feet[0], float(self.opaque.shape[1]) - self.feet[0])

    def draw(self, frame: np.ndarray, feet: Point, mirrored: bool) -> None:
        """Over `frame` with the feet at `feet`, facing left when `mirrored`; must fit inside."""
        h, w = self.opaque.shape[:2]
        left = round(feet[0] - (w - self.feet[0] if mirrored else self.feet[0]))
        top = round(feet[1] - self.feet[1])
        region = frame[top : top + h, left : left + w]
        cols = self.cols
        if mirrored:
            np.copyto(region, self.rgb[:, ::-1], where=self.opaque[:, ::-1])
            cols = w - 1 - cols
        else:
            np.copyto(region, self.rgb, where=self.opaque)
        under = region[self.rows, cols].astype(np.uint16)
        region[self.rows, cols] = ((under * self.keep + self.add) // 255).astype(np.uint8)


def _walker(height_px: float, shirt: Colour, skin: Colour) -> list[_Sprite]:
    """The walker, `height_px` tall, facing right at each phase of a stride."""
    hp = height_px * _SS
    width, height = math.ceil(0.62 * hp) + 4 * _SS, math.ceil(1.05 * hp) + 4 * _SS
    width += width % _SS
    height += -height % _SS
    cx, ground = width / 2, hp + 2 * _SS
    trousers, shoes, hair = (46, 54, 78), (30, 28, 28), (56, 40, 30)
    leg, arm = 0.46 * hp, 0.3 * hp
    sprites = []
    for phase in range(_WALK_PHASES):
        swing = 0.4 * math.sin(2 * math.pi * phase / _WALK_PHASES)
        hip_y = ground - leg * math.cos(swing)  # the body bobs as the legs swing
        shoulder_y = hip_y - 0.31 * hp
        head_y = shoulder_y - 0.13 * hp
        image = Image.new("RGBA", (width, height))
        d = ImageDraw.Draw(image)
        d.ellipse(
            (cx - 0.22 * hp, ground - 0.03 * hp, cx + 0.22 * hp, ground + 0.03 * hp),
            fill=(0, 0, 0, 80),
        )
        for side, shade in ((-1, 0.7), (1, 1.0)):  # the far leg and arm first, darker
            a = swing * side
            foot = (cx + leg * math.sin(a), hip_y + leg * math.cos(a))
            d.line([(cx, hip_y), foot], fill=_shade(trousers, shade), width=round(0.08 * hp))
            d.line([foot, (foot[0] + 0.07 * hp, foot[1])], fill=shoes, width=round(0.045 * hp))
            hand = (cx - arm * math.sin(a * 0.9), shoulder_y + arm * math.cos(a * 0.9))
            if side == 1:
                d.rounded_rectangle(
                    (cx - 0.08 * hp, shoulder_y - 0.03 * hp, cx + 0.08 * hp, hip_y + 0.04 * hp),
                    radius=0.04 * hp,
                    fill=shirt,
                )
            d.line(
                [(cx, shoulder_y), hand], fill=_shade(shirt, shade * 0.9), width=round(0.06 * hp)
            )
            d.ellipse(
                (
                    hand[0] - 0.03 * hp,
                    hand[1] - 0.03 * hp,
                    hand[0] + 0.03 * hp,
                    hand[1] + 0.03 * hp,
                ),
                fill=_shade(skin, shade),
            )
        d.rectangle((cx - 0.025 * hp, head_y, cx + 0.03 * hp, shoulder_y), fill=_shade(skin, 0.9))
        d.ellipse(
            (cx - 0.085 * hp, head_y - 0.085 * hp, cx + 0.06 * hp, head_y + 0.05 * hp), fill=hair
        )
        d.ellipse(
            (cx - 0.055 * hp, head_y - 0.07 * hp, cx + 0.075 * hp, head_y + 0.07 * hp), fill=skin
        )
        d.ellipse(
            (cx - 0.07 * hp, head_y - 0.09 * hp, cx + 0.055 * hp, head_y - 0.02 * hp), fill=hair
        )
        sprites.append(_Sprite.of(image.reduce(_SS), (cx / _SS, ground / _SS)))
    return sprites


@dataclass(frozen=True)
class _Scene:
    """What one seed's room looks like at one frame size; shared, never written to."""

    background: np.ndarray  # (h, w, 3) uint8: the room with sensor grain, without the walker
    window: Box  # the glass, where the sky is redrawn
    sky: np.ndarray  # (window height, 2 x period, 3) uint8: the sky twice over, to slide along
    sky_mask: np.ndarray  # (window height, window width, 1) bool: which glass pixels show sky
    period: int
    clock: tuple[float, float, float]  # centre x, y and radius in pixels
    walker: list[_Sprite]
    path: tuple[float, float, int]  # leftmost and rightmost feet x, feet y, in pixels


_SCENE_LOCK = threading.Lock()


@lru_cache(maxsize=16)
def _scene(seed: int, width: int, height: int) -> _Scene:
    """Render the static room of `seed` at width x height (about 30 ms at VGA, 200 at UXGA)."""
    rng = np.random.default_rng(seed)
    wall, sofa, rug, shirt, skin = (
        palette[(seed + k * (seed // 4)) % len(palette)]
        for k, palette in enumerate((_WALLS, _SOFAS, _RUGS, _SHIRTS, _SKINS))
    )
    mirrored = seed % 2 == 1  # odd seeds see the room from the other side

    p = _Painter(width, height)
    _draw_next_room(p, wall)
    _draw_shell(p, wall)
    _draw_bookcase(p)
    window = _draw_window(p, _shade(rug, 1.1))
    _draw_furniture(p, sofa, rug)
    colour, material = p.pixels()

    tiles = _noise_tiles()
    texture = np.zeros((height, width), dtype=np.float32)
    for i in range(3):
        texture += _TEXTURE[:, i][material] * _tiled(tiles[i], height, width)
    colour = colour * (1 - _FLARE) + _FLARE * colour.mean(axis=(0, 1))
    colour *= _vignette(height, width)[..., None]
    scale = min(1.0, width / _SENSOR_WIDTH)
    background = _with_grain(colour, scale, texture)

    x0, y0, x1, y1 = window
    period = max(1, x1 - x0)
    sky = _sky(rng, y1 - y0, period, scale)
    sky_mask = (material[y0:y1, x0:x1] == _SKY)[..., None]
    cx, cy, r = _CLOCK[0] * width, _CLOCK[1] * height, _CLOCK[2] * height
    if mirrored:
        background = background[:, ::-1]
        sky, sky_mask = sky[:, ::-1], sky_mask[:, ::-1]
        window = (width - x1, y0, width - x0, y1)
        cx = width - cx
    sky = np.ascontiguousarray(np.concatenate([sky, sky], axis=1))
    sky_mask = np.ascontiguousarray(sky_mask)
    background = np.ascontiguousarray(background)
    np.copyto(background[y0:y1, window[0] : window[2]], sky[:, :period], where=sky_mask)

    walker = _walker(0.46 * height, shirt, skin)
    reach = math.ceil(max(sprite.reach() for sprite in walker)) + 1
    path = (reach, width - reach, round(_room(0, 0, _WALK_DEPTH)[1] * height))
    for array in (background, sky, sky_mask):
        array.flags.writeable = False
    return _Scene(background, window, sky, sky_mask, period, (cx, cy, r), walker, path)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed-size bitmap font
        return ImageFont.load_default()


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step


def _clock_text(now: float) -> str:
    millis = int(now * 1000) % 1000
    return f"{time.strftime('%H:%M:%S', time.localtime(now))}.{millis:03d}"


class SyntheticSource:
    """Renders a camera's view of a living room per call, with the frame number and time.

    A person walks to and fro, clouds drift past the window and the wall clock shows the
    local time. The overlay shows `label`, the frame number (1 for the first call) and the
    local wall-clock time, so latency can be read off a screenshot of the receiver. The
    pixels depend only on the seed, the size, the frame number and the time given to
    `render`. The room is rendered on the first frame, once per seed and size (shared by every
    source of that seed and size); a frame copies it and draws what moves: about 1.5 ms at VGA.
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
        self.seed = seed
        self.label = label
        self._frames = 0
        self._room: _Scene | None = None  # rendered by the first frame (or `prepare`)
        self._walk_offset = seed * 53  # cameras of different seeds do not walk in step

        # Large and below the top edge, where a viewer's own title bar would hide it; on the
        # JPEG's 16 x 8 blocks, so that the bar's own edges cost no bytes.
        font_size = max(10, self.height // 14)
        self._font = _font(font_size)
        self._bar_height = min(self.height, _round_up(font_size + 8, 8))
        self._bar_top = min(self.height - self._bar_height, self.height // 6 // 8 * 8)
        template = "  ".join([*([label] if label else []), "#000000", "00:00:00.000"])
        self._bar_width = self._text_width(template)

    def prepare(self) -> None:
        """Render the room now (about 30 ms at VGA) rather than on the first frame; safe from
        any thread, and the room is rendered once however many threads ask."""
        _ = self._view

    @property
    def _view(self) -> _Scene:
        view = self._room
        if view is None:  # the first frame: the lock is held only while a room is rendered
            with _SCENE_LOCK:
                view = self._room = _scene(self.seed, self.width, self.height)
        return view

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
        scene = self._view
        frame = scene.background.copy()
        x0, y0, x1, y1 = scene.window
        drift = number * self.width // 1280 % scene.period  # the clouds: 12 px/s at VGA
        np.copyto(frame[y0:y1, x0:x1], scene.sky[:, drift : drift + x1 - x0], where=scene.sky_mask)
        self._draw_hands(frame, now)
        self._draw_walker(frame, number)  # in front of the clock
        self._stamp(frame, number, now)
        return frame

    def _draw_walker(self, frame: np.ndarray, number: int) -> None:
        scene = self._view
        leftmost, rightmost, feet_y = scene.path
        step = (number + self._walk_offset) % (2 * _WALK_FRAMES)
        back = step >= _WALK_FRAMES
        along = (2 * _WALK_FRAMES - step if back else step) / _WALK_FRAMES
        feet_x = leftmost + (rightmost - leftmost) * along
        scene.walker[(number // _PHASE_FRAMES) % _WALK_PHASES].draw(frame, (feet_x, feet_y), back)

    def _draw_hands(self, frame: np.ndarray, now: float) -> None:
        cx, cy, r = self._view.clock
        left, top = math.floor(cx - r) - 1, math.floor(cy - r) - 1
        side = math.ceil(2 * r) + 3
        patch = frame[top : top + side, left : left + side]
        local = time.localtime(now)
        seconds = local.tm_sec + now % 1.0
        minutes = local.tm_min + seconds / 60
        hours = local.tm_hour % 12 + minutes / 60
        ox, oy = (cx - left) * _SS, (cy - top) * _SS
        rr = r * _SS

        def hand(
            draw: ImageDraw.ImageDraw, turns: float, back: float, length: float, width: float
        ) -> None:
            sx, sy = math.sin(2 * math.pi * turns), -math.cos(2 * math.pi * turns)
            start = (ox - sx * back * rr, oy - sy * back * rr)
            draw.line(
                [start, (ox + sx * length * rr, oy + sy * length * rr)],
                fill=255,
                width=max(1, round(width * rr)),
            )

        for colour, hands in (
            ((30, 30, 34), ((hours / 12, 0.1, 0.5, 0.09), (minutes / 60, 0.1, 0.76, 0.06))),
            ((200, 40, 36), ((seconds / 60, 0.2, 0.82, 0.025),)),
        ):
            mask = Image.new("L", (side * _SS, side * _SS))
            draw = ImageDraw.Draw(mask)
            for turns, back, length, width in hands:
                hand(draw, turns, back, length, width)
            draw.ellipse((ox - 0.07 * rr, oy - 0.07 * rr, ox + 0.07 * rr, oy + 0.07 * rr), fill=255)
            cover = np.asarray(mask.reduce(_SS), dtype=np.float32)[..., None] / 255.0
            ink = np.array(colour, dtype=np.float32)
            patch[:] = (patch + (ink - patch) * cover).astype(np.uint8)

    def _text_width(self, text: str) -> int:
        return min(self.width, _round_up(math.ceil(self._font.getlength(text)) + 10, 16))

    def _stamp(self, frame: np.ndarray, number: int, now: float) -> None:
        # Drawing on a small bar and copying it in is far cheaper than wrapping the
        # whole frame in a PIL image (Pillow cannot share an RGB numpy buffer).
        parts = [self.label] if self.label else []
        parts += [f"#{number:06d}", _clock_text(now)]
        text = "  ".join(parts)
        width = max(self._bar_width, self._text_width(text))
        bar = Image.new("RGB", (width, self._bar_height), (0, 0, 0))
        ImageDraw.Draw(bar).text((5, 3), text, fill=(255, 255, 255), font=self._font)
        frame[self._bar_top : self._bar_top + self._bar_height, :width] = np.asarray(bar)


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
