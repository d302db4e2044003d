"""A camera tile's picture and overlay, painted by the real widget offscreen."""

from itertools import combinations

import pytest
from PySide6.QtCore import QRectF

from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.timeline import Frame, FrameTimeline
from app.receiver.stats import DeviceState
from app.services.decoder import decode
from app.sim.sources import PrerenderedSource
from app.ui.tile import (
    BADGE_PAD,
    PLATE_PAD_X,
    PLATE_PAD_Y,
    SMALLEST,
    CameraTile,
    FontMeasure,
    Role,
    TileInfo,
)


def frame() -> Frame:
    jpeg = PrerenderedSource.synthetic(FrameSize.QVGA, count=1).frames[0]
    timeline = FrameTimeline("porch", Suite.NOISE, 1, len(jpeg), 0, 0, 0, 0, 0)
    return Frame("porch", 1, jpeg, timeline)


def saturation_sum(tile: CameraTile, samples: int = 40) -> int:
    image = tile.grab().toImage()
    total = 0
    for i in range(samples):
        colour = image.pixelColor(image.width() * (i + 1) // (samples + 1), image.height() * 3 // 4)
        total += max(colour.red(), colour.green(), colour.blue()) - min(
            colour.red(), colour.green(), colour.blue()
        )
    return total


def test_an_offline_tile_greys_its_last_frame_and_says_when_it_was_last_seen(qtbot):
    tile = CameraTile("porch")
    qtbot.addWidget(tile)
    tile.resize(480, 360)
    tile.show()
    tile.set_info(TileInfo(state=DeviceState.LIVE, suite=Suite.NOISE))
    tile.show_frame(decode(frame()))
    live_saturation = saturation_sum(tile)
    assert live_saturation > 200  # the synthetic scene is colourful

    tile.set_info(TileInfo(state=DeviceState.OFFLINE, last_seen_s=125))
    assert saturation_sum(tile) == 0  # grey: not a live-looking picture
    assert "last frame" in tile.info.placeholder() and "2 min ago" in tile.info.placeholder()


def test_a_tile_that_never_had_a_frame_says_only_its_state(qtbot):
    info = TileInfo(state=DeviceState.OFFLINE, reason="camera stopping")
    assert "last frame" not in info.placeholder() and info.last_seen() == ""
    seen = TileInfo(state=DeviceState.OFFLINE, reason="camera stopping", last_seen_s=3)
    first, second = seen.placeholder().split("\n")
    assert first == info.placeholder() and second.endswith("3 s ago")


# -- the overlay's text: no two boxes intersect, none leaves the tile --------------------------

LONG = "garage-door-north-side"
WORST_LIVE = TileInfo(
    state=DeviceState.LIVE,
    suite=Suite.PLAIN,
    fps=25.0,
    latency_ms=1234.5,
    resolution="1600x1200",
    demo=True,
    failed_attempts=123,
    viewers=12,
    settings="UXGA · q63 · no fps cap",
    adapted=True,
)
WORST_REJECTED = TileInfo(
    state=DeviceState.REJECTED,
    reason="replay: a record's counter went backwards (a replayed or reordered frame)",
    failed_attempts=7,
    viewers=3,
    last_seen_s=4000,
)
SIZES = [
    (w, h)
    for w in (SMALLEST[0], 180, 200, 220, 250, 320, 480, 960, 1920)
    for h in (SMALLEST[1], 150, 240, 540, 1080)
]


def boxes_problems(tile: CameraTile) -> list[str]:
    """Intersecting boxes, boxes outside the tile, and texts wider than their box."""
    font, _, placed = tile._overlay()
    measure = FontMeasure(font)
    area = QRectF(tile.rect())
    problems = []
    for a, b in combinations(placed, 2):
        if a.rect.intersects(b.rect):
            problems.append(f"{a.role.value} {a.text!r} and {b.role.value} {b.text!r} overlap")
    for item in placed:
        if not area.contains(item.rect):
            problems.append(f"{item.role.value} {item.text!r} leaves the tile: {item.rect}")
        if item.role is Role.PLATE:
            inner = item.rect.width() - 2 * PLATE_PAD_X
            need = measure.wrapped(item.text, inner)
            if need.height() > item.rect.height() - 2 * PLATE_PAD_Y or need.width() > inner:
                problems.append(f"plate {item.text!r} needs {need}, has {item.rect}")
            continue
        pad = 2 * BADGE_PAD if item.role in (Role.ATTEMPTS, Role.SETTINGS) else 0
        need = measure.advance(item.text + item.mark) + pad
        if need > item.rect.width():
            problems.append(f"{item.role.value} {item.text!r} needs {need}, has {item.rect}")
    return problems


@pytest.mark.parametrize("info", [WORST_LIVE, WORST_REJECTED], ids=["live", "rejected"])
def test_no_two_overlay_texts_overlap_or_leave_the_tile_at_any_size(qtbot, info):
    tile = CameraTile(LONG)
    qtbot.addWidget(tile)
    tile.set_info(info)
    tile.show_frame(decode(frame()))
    found = []
    for size in SIZES:
        tile.resize(*size)
        found += [f"{size}: {problem}" for problem in boxes_problems(tile)]
        roles = {item.role for item in tile.overlay_boxes()}
        # The name, the failed attempts and who watches always show: what matters most.
        assert {Role.NAME, Role.ATTEMPTS, Role.VIEWERS} <= roles, size
        assert (Role.SUITE in roles) is (info.suite is not None), size
        if info is WORST_REJECTED:
            assert Role.PLATE in roles, size
    assert found == []


def test_a_narrow_tile_drops_the_settings_badge_before_it_overlaps_the_failed_attempts(qtbot):
    tile = CameraTile("porch")
    qtbot.addWidget(tile)
    tile.set_info(
        TileInfo(
            state=DeviceState.LIVE,
            suite=Suite.NOISE,
            settings="VGA · q12 · 25 fps",
            adapted=True,
            failed_attempts=2,
        )
    )

    def badges() -> dict[Role, str]:
        return {
            p.role: p.text + p.mark
            for p in tile.overlay_boxes()
            if p.role in (Role.ATTEMPTS, Role.SETTINGS)
        }

    tile.resize(640, 480)
    assert badges() == {
        Role.ATTEMPTS: "⚠ 2 failed attempts",
        Role.SETTINGS: "VGA · q12 · 25 fps · adapted",
    }
    shortened = []
    for width in range(640, SMALLEST[0] - 1, -4):
        tile.resize(width, SMALLEST[1])
        assert boxes_problems(tile) == [], width
        shown = badges()
        if shown[Role.ATTEMPTS] != "⚠ 2 failed attempts":  # the last resort: only the count
            assert shown[Role.ATTEMPTS] == "⚠ 2" and Role.SETTINGS not in shown, width
        elif shown.get(Role.SETTINGS) != "VGA · q12 · 25 fps · adapted":
            shortened.append(shown.get(Role.SETTINGS))
    # The settings badge gives way first, and says "adapted" as long as it can.
    assert shortened[0] == "VGA · adapted" and "adapted" in shortened


def test_the_overlay_is_laid_out_once_per_size_and_text_not_per_paint(qtbot):
    tile = CameraTile("porch")
    qtbot.addWidget(tile)
    tile.resize(320, 240)
    tile.show()
    qtbot.waitExposed(tile)
    tile.set_info(TileInfo(state=DeviceState.LIVE, suite=Suite.NOISE, fps=25.0))
    tile.grab()
    laid_out = tile.overlay_boxes()
    tile.show_frame(decode(frame()))  # a new frame: the first replaces the waiting plate
    tile.grab()
    laid_out = tile.overlay_boxes()
    for _ in range(3):
        tile.show_frame(decode(frame()))
        tile.grab()
    assert tile.overlay_boxes() is laid_out
    tile.set_info(TileInfo(state=DeviceState.LIVE, suite=Suite.NOISE, fps=24.0))
    assert tile.overlay_boxes() is not laid_out
    laid_out = tile.overlay_boxes()
    tile.resize(400, 300)
    assert tile.overlay_boxes() is not laid_out
