"""A camera tile's picture and overlay, painted by the real widget offscreen."""

from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.timeline import Frame, FrameTimeline
from app.receiver.stats import DeviceState
from app.services.decoder import decode
from app.sim.sources import PrerenderedSource
from app.ui.tile import CameraTile, TileInfo


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
