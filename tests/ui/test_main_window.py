"""The main window as a user meets it: real receiver, real demo cameras, real widgets."""

import asyncio
import logging
import re
import socket
import threading

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from app.devices.registry import REGISTRY_FILE, Registry
from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.timeline import Mark
from app.receiver.stats import DeviceState
from app.services.app_services import AppServices
from app.services.settings import ReceiverSettings
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource
from app.ui.main_window import MainWindow
from app.ui.tile import CameraTile
from tests.helpers import demo_tile_painted, run
from tests.waiting import wait_until


def message_boxes(window) -> list[QMessageBox]:
    """The message boxes open over the window (opened without blocking, as the app does)."""
    return [box for box in window.findChildren(QMessageBox) if box.isVisible()]


def message_box(window, *words: str) -> QMessageBox | None:
    """The open message box whose text has every one of `words`, if any."""
    for box in message_boxes(window):
        if all(word in box.text() for word in words):
            return box
    return None


def camera(url: str, name: str, psk: bytes | None, **options) -> SimulatedCamera:
    return SimulatedCamera(
        url, name, psk, PrerenderedSource.synthetic(FrameSize.QQVGA, count=4), **options
    )


def test_a_first_run_opens_on_the_welcome_panel(qloop, services, window):
    async def scenario():
        assert await services.start()
        assert window.stack.currentWidget() is window.welcome
        window.refresh_status()
        assert f"127.0.0.1:{services.receiver.port}" in window.listen_label.text()
        await services.shutdown()

    run(qloop, scenario())


def test_the_demo_camera_shows_a_decoded_frame_quickly(qloop, services, window):
    async def scenario():
        await services.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        tile = await demo_tile_painted(window)
        elapsed = loop.time() - started
        frame = tile.current
        assert frame.width == 640 and frame.height == 480
        assert not frame.image.isNull() and frame.image.width() > 0
        # a real picture: not a flat colour
        colours = {
            frame.image.pixel(x, y)
            for x in range(0, frame.image.width(), 37)
            for y in range(0, frame.image.height(), 29)
        }
        assert len(colours) > 20
        timeline = frame.frame.timeline
        assert timeline.decoded_us is not None and timeline.painted_us is not None
        assert timeline.decrypted_us <= timeline.decoded_us <= timeline.painted_us
        assert window.stack.currentWidget() is window.wall
        window.refresh_tiles()
        assert tile.info.state is DeviceState.LIVE and tile.info.suite is Suite.NOISE
        print(f"first frame painted {elapsed:.2f} s after the demo button")
        await services.shutdown()

    run(qloop, scenario())


def test_a_comparison_run_fills_both_suites(qloop, services, window):
    async def scenario():
        await services.start(demo=1)
        await wait_until(lambda: services.receiver.live_devices() == ["demo-1"], 10)
        assert window.comparison_candidates() == ["demo-1"]
        services.comparison.start("demo-1", 8)
        await wait_until(lambda: services.comparison.last is not None, 30)
        result = services.comparison.last
        assert result.error is None
        assert result.counts() == {Suite.PLAIN: 8, Suite.NOISE: 8}
        assert {t.suite for t in result.timelines[Suite.PLAIN]} == {Suite.PLAIN}
        summary = result.summary(Mark.DECRYPTED)
        assert summary.suites[Suite.PLAIN]["count"] == 8
        assert summary.suites[Suite.NOISE]["count"] == 8
        assert summary.ratio["p50"] is not None
        tab = window.latency_dock.comparison_tab
        await wait_until(lambda: tab.result is result, 2)
        points = {s: len(c.getData()[0]) for s, c in tab.curves.items()}
        assert points[Suite.PLAIN] > 0 and points[Suite.NOISE] > 0
        # the camera is left encrypted
        await wait_until(lambda: services.receiver.stats("demo-1").suite is Suite.NOISE, 5)
        await services.shutdown()

    run(qloop, scenario(), timeout=60)


def test_a_wrong_key_is_a_failed_attempt_not_the_device_state(qloop, services, window):
    Registry(services.config_dir).add("porch")
    services.devices.devicesChanged.emit()

    async def scenario():
        await services.start()
        url = f"ws://127.0.0.1:{services.receiver.port}/camera"
        wrong = camera(url, "porch", b"\x01" * 32, reconnect=False)  # a hello with a wrong key
        await wrong.run()
        assert wrong.stats.last_close[0] == CloseCode.AUTH_FAILED
        tile = window.wall.tiles["porch"]
        await wait_until(lambda: tile.attempts_badge == "1 failed attempt")
        assert tile.info.state is DeviceState.OFFLINE and tile.info.reason is None
        assert "1 failed attempt" in tile.toolTip()
        assert window.devices_panel.row_texts("porch")[1] == "offline"
        window.devices_panel.select("porch")
        detail = window.devices_panel.detail_label.text()
        assert "porch: offline" in detail and "1 failed attempt" in detail
        await services.shutdown()

    run(qloop, scenario())


def test_the_failed_attempts_badge_is_painted_only_when_there_are_some(qtbot):
    from app.ui.tile import TileInfo

    tile = CameraTile("porch")
    qtbot.addWidget(tile)
    tile.resize(320, 240)
    tile.show()
    corner = tile.rect().topRight() + QPoint(-20, 30)  # inside the badge, under the top bar

    def corner_colour():
        return tile.grab().toImage().pixelColor(corner)

    before = corner_colour()
    tile.set_info(TileInfo(failed_attempts=3))
    assert tile.attempts_badge == "3 failed attempts"
    assert corner_colour() != before
    tile.set_info(TileInfo())
    assert tile.attempts_badge is None
    assert corner_colour() == before


def test_a_plain_stream_is_marked_insecure(qloop, services, window):
    Registry(services.config_dir).add("bench", allow_plain=True)
    services.devices.devicesChanged.emit()

    async def scenario():
        await services.start()
        url = f"ws://127.0.0.1:{services.receiver.port}/camera"
        cam = SimulatedCamera(
            url,
            "bench",
            None,
            PrerenderedSource.synthetic(FrameSize.QVGA, count=2),
            suite=Suite.PLAIN,
            fps=30,
        )
        task = asyncio.create_task(cam.run())
        tile = window.wall.tiles["bench"]
        await wait_until(lambda: tile.painted > 0, 5)
        window.refresh_tiles()
        assert tile.info.suite is Suite.PLAIN
        image = tile.grab().toImage()
        # the tile is framed in the warning colour
        edge = image.pixelColor(image.width() // 2, 3)
        assert edge.red() > 200 and edge.blue() < 100
        cam.stop()
        await task
        await services.shutdown()

    run(qloop, scenario())


def test_snapshot_saves_the_original_jpeg_bytes(qloop, services, window, tmp_path):
    async def scenario():
        await services.start(demo=1)
        tile = await wait_until(lambda: window.wall.tiles.get("demo-1"), 5)
        await wait_until(lambda: tile.painted > 0, 5)
        path = tmp_path / "snap.jpg"
        assert window.save_snapshot("demo-1", path)
        assert path.read_bytes() == tile.current.frame.jpeg
        assert path.read_bytes()[:2] == b"\xff\xd8"
        await services.shutdown()

    run(qloop, scenario())


def test_a_snapshot_without_a_dialog_never_overwrites(qloop, services, window, tmp_path):
    async def scenario():
        await services.start(demo=1)
        tile = await wait_until(lambda: window.wall.tiles.get("demo-1"))
        await wait_until(lambda: tile.painted > 0)
        path = tmp_path / "snap.jpg"
        path.write_bytes(b"precious")
        written = window.save_snapshot("demo-1", path)
        assert written == tmp_path / "snap-2.jpg"
        assert path.read_bytes() == b"precious"
        assert written.read_bytes()[:2] == b"\xff\xd8"
        assert window.save_snapshot("demo-1", path) == tmp_path / "snap-3.jpg"
        await services.shutdown()

    run(qloop, scenario())


def test_a_snapshot_is_of_the_clicked_camera_named_by_device_and_time(
    qloop, services, window, tmp_path, monkeypatch, qtbot
):
    home = tmp_path / "user"
    (home / "Pictures").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))

    async def scenario():
        await services.start(demo=2)
        await wait_until(lambda: len(window.wall.tiles) == 2)
        tiles = window.wall.tiles
        await wait_until(lambda: all(t.painted for t in tiles.values()))
        qtbot.mouseClick(tiles["demo-2"], Qt.MouseButton.LeftButton)
        assert window.wall.selected == "demo-2"
        assert window.devices_panel.selected_name() == "demo-2"
        window.refresh_tiles()
        assert window.snapshot_action.isEnabled()
        assert "demo-2" in window.snapshot_action.text()

        expected = tiles["demo-2"].snapshot_bytes()  # the frame on screen when asked
        assert expected != tiles["demo-1"].snapshot_bytes()
        window.snapshot_action.trigger()
        dialog = window._snapshot_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.directory().absolutePath() == str(home / "Pictures")
        chosen = dialog.selectedFiles()[0]
        assert re.fullmatch(
            r"demo-2_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.jpg", chosen.rsplit("/", 1)[-1]
        ), chosen
        path = tmp_path / "chosen.jpg"
        dialog.selectFile(str(path))
        dialog.accept()
        await wait_until(path.exists)
        assert path.read_bytes() == expected
        await services.shutdown()

    run(qloop, scenario())


def test_the_snapshot_action_waits_for_a_frame(qloop, services, window):
    Registry(services.config_dir).add("porch")
    services.devices.devicesChanged.emit()
    window.refresh_tiles()
    tile = window.wall.tiles["porch"]
    assert window.snapshot_device() == "porch"  # the only camera
    assert not window.snapshot_action.isEnabled()
    assert "has not shown a frame" in window.snapshot_action.statusTip()
    menu = tile.build_context_menu()
    snapshot = menu.actions()[0]
    assert snapshot.text() == "Save snapshot…" and not snapshot.isEnabled()


def test_a_camera_lost_during_a_comparison_ends_it_with_the_partial_results(
    qloop, services, window
):
    bench = Registry(services.config_dir).add("bench", allow_plain=True)
    services.devices.devicesChanged.emit()
    window.latency_dock.hide()  # the failure brings it back into view

    async def scenario():
        await services.start()
        url = f"ws://127.0.0.1:{services.receiver.port}/camera"
        cam = camera(url, "bench", bench.key.raw, fps=50)
        streaming = asyncio.create_task(cam.run())
        await wait_until(lambda: services.receiver.live_devices() == ["bench"], 10)
        dock = window.latency_dock
        # Stopped mid-block or mid-switch, the camera is gone: don't wait 10 s to believe it.
        services.comparison.switch_timeout_s = 3
        progress = []
        services.comparison.progress.connect(lambda done, total: progress.append(done))
        assert dock.run_comparison("bench", 400)
        await wait_until(lambda: progress, 20)  # the first block is in
        cam.stop()  # the camera goes away mid-run
        await streaming
        result = await wait_until(lambda: services.comparison.last, 20)

        assert "bench disconnected during the run" in result.error
        assert 0 < sum(len(t) for t in result.timelines.values()) < 800
        tab = dock.comparison_tab
        assert dock.isVisible() and dock.tabs.currentWidget() is tab
        assert tab.error_label.isVisible()
        assert "Comparison stopped early: bench disconnected" in tab.error_label.text()
        assert "No comparison yet" not in tab.result_label.text()
        assert "bench" in tab.result_label.text()
        assert tab.run_button.isEnabled()
        assert services.comparison._task.exception() is None  # ended, did not die
        await services.shutdown()

    run(qloop, scenario(), timeout=60)


def test_a_failed_background_task_is_shown_and_logged_once(qloop, window, caplog):
    async def broken():
        raise OSError("disk on fire")

    async def scenario():
        window._spawn(broken(), "start the demo cameras")
        box = await wait_until(lambda: message_box(window, "Could not start the demo cameras"))
        assert "OSError: disk on fire" in box.text()
        box.close()

    run(qloop, scenario())
    logged = [r for r in caplog.records if "disk on fire" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR


def test_a_corrupt_registry_is_announced_at_start(qloop, qtbot, tmp_path, caplog):
    home = tmp_path / "home"
    home.mkdir()
    registry = home / REGISTRY_FILE
    registry.write_text("{ this is not json")
    services = AppServices(home)
    services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        await services.start()
        box = await wait_until(lambda: message_box(window, "device registry"))
        text = box.text()
        assert str(registry) in text and "corrupt" in text and "not valid JSON" in text
        assert "backup" in text and "restart SecureCam" in text  # the fix
        assert window.devices_panel.problem_label.isVisible()
        assert str(registry) in window.devices_panel.problem_label.text()
        assert window.welcome.problem_label.isVisible()
        assert "No camera is registered yet" not in window.welcome.intro.text()
        box.close()
        window.refresh_devices()  # later refreshes do not repeat the dialog
        assert message_box(window, "device registry") is None
        await services.shutdown()

    run(qloop, scenario())
    logged = [
        r for r in caplog.records if r.levelno == logging.ERROR and "corrupt" in r.getMessage()
    ]
    assert len(logged) == 1
    assert str(registry) in logged[0].getMessage() and "backup" in logged[0].getMessage()


def test_a_port_in_use_chosen_in_settings_gets_a_dialog(qloop, services, window):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]

    async def scenario():
        assert await services.start()
        window.open_settings()
        dialog = window._settings_dialog
        assert dialog is not None and dialog.isVisible()
        dialog.host_combo.setEditText("127.0.0.1")
        dialog.port_spin.setValue(port)
        dialog.ok_button.click()
        box = await wait_until(lambda: message_box(window, f"port {port}"))
        assert "already in use" in box.text()
        assert "Settings" in box.text()  # what to do about it
        assert not services.receiver.listening
        box.close()
        await services.shutdown()

    try:
        run(qloop, scenario())
    finally:
        busy.close()


def test_closing_the_window_shuts_everything_down(qloop, services, window):
    threads_before = set(threading.enumerate())

    async def scenario():
        before = set(asyncio.all_tasks())
        await services.start(demo=2)
        await wait_until(lambda: len(services.receiver.live_devices()) == 2, 10)
        await wait_until(lambda: all(t.painted for t in window.wall.tiles.values()), 5)
        closed = asyncio.Event()
        window.closed.connect(closed.set)
        window.close()
        await closed.wait()
        await services.shutdown()
        await asyncio.sleep(0.1)
        assert not services.receiver.listening
        leftover = {t for t in asyncio.all_tasks() - before if not t.done()}
        leftover.discard(asyncio.current_task())
        assert leftover == set()

    run(qloop, scenario())
    leaked = {t for t in set(threading.enumerate()) - threads_before if t.is_alive()}
    assert not [t for t in leaked if t.name.startswith("jpeg-decode")]


def test_the_welcome_panel_opens_the_setup_wizard_once(qloop, services, window):
    from app.ui.setup_wizard import SetupWizard

    async def scenario():
        await services.start()
        window.welcome.setup_button.click()
        wizard = window._setup_wizard
        assert isinstance(wizard, SetupWizard) and wizard.isVisible()
        window.welcome.setup_button.click()  # a second click raises the same wizard
        assert window._setup_wizard is wizard
        wizard.reject()
        await wait_until(lambda: window._setup_wizard is None, 5)

    run(qloop, scenario())


def test_a_tiles_menu_shows_details_and_disconnects_a_live_camera(qloop, services, window):
    from app.ui.tile import TileAction

    async def scenario():
        await services.start()
        tile = await demo_tile_painted(window)
        window.refresh_tiles()
        texts = [a.text() for a in tile.build_context_menu().actions() if not a.isSeparator()]
        assert texts == [
            "Save snapshot…",
            "Open large view",
            "Adapt quality to the link",
            "Allow plain (insecure)",
            "Rename…",
            "Details…",
            "Disconnect",
        ]
        details = window.show_details("demo-1")
        values = {label: shown.text() for label, shown in details.values.items()}
        assert values["State"] == "live" and values["Firmware"].startswith("securecam-sim/")
        assert values["Resolution"].startswith("640×480, VGA")
        assert values["Address"].startswith("127.0.0.1:")
        entry = next(e for e in services.devices.entries() if e.name == "demo-1")
        assert values["Key fingerprint"] == entry.fingerprint
        details.close()

        stats = services.receiver.stats("demo-1")
        sessions = stats.sessions
        window.tile_action("demo-1", TileAction.DISCONNECT)
        # Closed, and back by itself after its back-off: a new session.
        await wait_until(lambda: stats.sessions > sessions and stats.connected, 20)
        await services.shutdown()

    run(qloop, scenario())


def test_a_tiles_menu_renames_and_allows_plain_through_the_sidebars_own_steps(
    qloop, services, window, tmp_path
):
    from app.ui.tile import TileAction

    services.devices.add("porch")  # as the Add dialog does: the sidebar lists it
    registry = Registry(services.config_dir)
    panel = window.devices_panel
    asked = []
    panel._confirm = lambda title, text, **_: asked.append(title) or True
    window.tile_action("porch", TileAction.ALLOW_PLAIN)
    assert asked == ["Allow plain streams?"]  # the same warning as the sidebar's switch
    assert registry.get("porch").allow_plain
    panel._ask_name = lambda current: "front-door"
    window.tile_action("porch", TileAction.RENAME)
    assert [d.name for d in registry.list()] == ["front-door"]


def test_the_latency_plots_are_built_once_the_first_frame_is_on_screen(qloop, services, window):
    # No pyqtgraph work before the first frame: a line says what will be there.
    assert window.latency_dock.tabs.count() == 1
    assert window.latency_dock.tabs.widget(0) is window.latency_dock.placeholder
    assert "appear with the first frame" in window.latency_dock.placeholder.text()

    # (tests/ui/test_run.py proves pyqtgraph is not even loaded by the first paint)

    async def scenario():
        await services.start()
        await demo_tile_painted(window)
        await wait_until(lambda: window.latency_dock.tabs.count() == 3, 10)

    run(qloop, scenario())
    assert [window.latency_dock.tabs.tabText(i) for i in range(3)] == [
        "Live",
        "Stages",
        "Comparison",
    ]


def test_without_any_camera_the_latency_plots_are_built_all_the_same(qloop, window):
    async def scenario():
        await wait_until(lambda: window.latency_dock.tabs.count() == 3, 10)

    run(qloop, scenario())
    assert window.stack.currentWidget() is window.welcome


def test_on_first_run_at_1280x800_the_share_panel_needs_no_scrolling(window, qtbot):
    from PySide6.QtWidgets import QScrollArea

    window.resize(1280, 800)
    window.share_panel.raise_()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.share_panel.isVisible())
    (area,) = window.share_panel.findChildren(QScrollArea)
    qtbot.waitUntil(lambda: area.viewport().height() > 0)
    assert area.verticalScrollBar().maximum() == 0
    assert area.horizontalScrollBar().maximum() == 0
