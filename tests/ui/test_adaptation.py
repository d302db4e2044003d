"""Adaptive quality in the window: tiles say what each camera streams and when the app lowered
it, the context menu turns adaptation off (persisted), the log dock shows each change.

Real window, real receiver, real simulated cameras; congestion from a real narrow link on
loopback (tests/slowlink.py)."""

import asyncio

from PySide6.QtCore import QPoint

from app.devices.registry import Registry
from app.protocol.framesize import FrameSize
from app.protocol.records import NO_FPS_CAP, Status
from app.receiver.stats import DeviceState
from app.sim.camera import BOARD_SEND_BUFFER, SimulatedCamera
from app.sim.sources import SyntheticSource
from app.ui.tile import ADAPT_ACTION, CameraTile, TileInfo, settings_text
from tests.helpers import run
from tests.slowlink import SlowLink
from tests.waiting import wait_until

LINK_RATE = 150_000  # bytes/s: 1.2 Mbit/s, where VGA q12 at 25 fps needs about 8


def vga_camera(url: str, name: str, psk: bytes) -> SimulatedCamera:
    return SimulatedCamera(
        url,
        name,
        psk,
        SyntheticSource(FrameSize.VGA, label=name),
        fps=25,
        send_buffer=BOARD_SEND_BUFFER,
    )


def adapt_action(tile: CameraTile):
    menu = tile.build_context_menu()
    (action,) = [a for a in menu.actions() if a.text() == ADAPT_ACTION]
    return action


def status(**fields) -> Status:
    values = dict(
        rssi_dbm=-50, frame_size=FrameSize.VGA, quality=12, fps_cap=25, width=640, height=480,
        free_heap=0, free_psram=0, uptime_s=1, firmware="test",
    )  # fmt: skip
    return Status(**{**values, **fields})


def test_settings_text_names_the_size_quality_and_fps_cap():
    assert settings_text(status()) == "VGA · q12 · 25 fps"
    assert settings_text(status(fps_cap=NO_FPS_CAP, quality=30)) == "VGA · q30 · no fps cap"
    unknown = status(frame_size=200, width=96, height=96)
    assert settings_text(unknown) == "96x96 · q12 · 25 fps"


def test_the_settings_badge_is_painted_only_while_live_and_marks_adapted(qtbot):
    tile = CameraTile("porch")
    qtbot.addWidget(tile)
    tile.resize(320, 240)
    tile.show()
    live = TileInfo(state=DeviceState.LIVE, settings="VGA · q12 · 25 fps")
    tile.set_info(TileInfo(state=DeviceState.OFFLINE, settings="VGA · q12 · 25 fps"))
    assert tile.settings_badge is None
    corner = QPoint(12, tile.fontMetrics().height() + 16)  # inside the badge, under the top bar
    offline = tile.grab().toImage().pixelColor(corner)
    tile.set_info(live)
    assert tile.settings_badge == "VGA · q12 · 25 fps"
    assert tile.grab().toImage().pixelColor(corner) != offline
    assert "adapted" not in tile.toolTip()
    tile.set_info(TileInfo(state=DeviceState.LIVE, settings="QVGA · q30 · 15 fps", adapted=True))
    assert tile.settings_badge == "QVGA · q30 · 15 fps · adapted"
    assert "SecureCam lowered its settings" in tile.toolTip()


def test_the_adapt_check_follows_the_policy_and_says_what_the_user_chose(qtbot):
    tile = CameraTile("porch")
    qtbot.addWidget(tile)
    toggled = []
    tile.adaptToggled.connect(lambda device, on: toggled.append((device, on)))
    action = adapt_action(tile)
    assert action.isCheckable() and action.isChecked()
    action.trigger()
    tile.set_info(TileInfo(adapt=False))
    action = adapt_action(tile)
    assert not action.isChecked()
    action.trigger()
    assert toggled == [("porch", False), ("porch", True)]


def test_a_tile_shows_what_the_camera_streams_from_its_status(qloop, services, window):
    device = Registry(services.config_dir).add("porch")
    services.devices.devicesChanged.emit()

    async def scenario():
        await services.start()
        url = f"ws://127.0.0.1:{services.receiver.port}/camera"
        camera = vga_camera(url, "porch", device.key.raw)
        task = asyncio.create_task(camera.run())
        tile = window.wall.tiles["porch"]
        await wait_until(lambda: tile.settings_badge == "VGA · q12 · 25 fps", 10)
        assert not tile.info.adapted
        assert "streams VGA · q12 · 25 fps" in tile.toolTip()
        camera.stop()
        await task
        await services.shutdown()

    run(qloop, scenario())


def test_an_adapted_camera_is_marked_and_unchecking_adapt_restores_and_persists(
    qloop, services, window
):
    device = Registry(services.config_dir).add("porch")
    services.devices.devicesChanged.emit()

    async def scenario():
        await services.start()
        link = SlowLink(services.receiver.port, LINK_RATE)
        await link.start()
        camera = vga_camera(link.url(), "porch", device.key.raw)
        task = asyncio.create_task(camera.run())
        tile = window.wall.tiles["porch"]
        try:
            await wait_until(lambda: tile.info.settings == "VGA · q12 · 25 fps", 10)
            assert adapt_action(tile).isChecked()
            await wait_until(lambda: tile.info.adapted, 20, message="the tile marks adapted")
            assert tile.settings_badge.endswith(" · adapted")
            assert tile.info.settings != "VGA · q12 · 25 fps"
            await wait_until(lambda: "porch: adapted down to" in window.log_dock.plain_text(), 5)

            adapt_action(tile).trigger()  # uncheck: back to the camera's own settings
            assert Registry(services.config_dir).get("porch").adapt is False
            await wait_until(lambda: tile.info.settings == "VGA · q12 · 25 fps", 10)
            assert not tile.info.adapted
            assert (camera.settings.frame_size, camera.settings.quality) == (FrameSize.VGA, 12)
            assert not adapt_action(tile).isChecked()
            text = window.log_dock.plain_text()
            assert (
                "INFO app.receiver.adapter: porch: adapted restore to VGA q12 25 fps "
                "(adaptation turned off)" in text
            )
        finally:
            camera.stop()
            await task
            await link.stop()
        await services.shutdown()

    run(qloop, scenario(), timeout=60)
