"""The main window as a user meets it: real receiver, real demo cameras, real widgets."""

import asyncio
import threading

import pytest

from app.devices.registry import Registry
from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.services.app_services import AppServices
from app.services.settings import ReceiverSettings
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource
from app.ui.main_window import MainWindow
from tests.ui.conftest import wait_until


@pytest.fixture
def services(tmp_path, qloop):
    home = tmp_path / "home"
    services = AppServices(home)
    services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
    yield services
    qloop.run_until_complete(services.shutdown())  # also when a test failed half-way


@pytest.fixture
def window(services, qtbot):
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    return window


def run(loop, coro, timeout: float = 30):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


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
        window.welcome.demo_button.click()
        tile = await wait_until(lambda: window.wall.tiles.get("demo-1"), 5)
        await wait_until(lambda: tile.painted > 0, 5)
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
        assert tile.info.state == "live" and tile.info.suite == "noise"
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
        assert len(result.timelines["plain"]) == 8 and len(result.timelines["noise"]) == 8
        assert {t.suite for t in result.timelines["plain"]} == {"plain"}
        summary = result.summary("decrypted")
        assert summary["plain"]["count"] == 8 and summary["noise"]["count"] == 8
        assert summary["ratio"]["p50"] is not None
        await wait_until(lambda: window.latency_dock.result is result, 2)
        points = {s: len(c.getData()[0]) for s, c in window.latency_dock.cdf_curves.items()}
        assert points["plain"] > 0 and points["noise"] > 0
        # the camera is left encrypted
        await wait_until(lambda: services.receiver.stats("demo-1").suite == "noise", 5)
        await services.shutdown()

    run(qloop, scenario(), timeout=60)


def test_a_rejected_device_shows_its_reason(qloop, services, window, tmp_path):
    Registry(services.config_dir).add("porch")
    services.devices.devicesChanged.emit()

    async def scenario():
        await services.start()
        url = f"ws://127.0.0.1:{services.receiver.port}/camera"
        wrong = SimulatedCamera(
            url,
            "porch",
            b"\x01" * 32,
            PrerenderedSource.synthetic(FrameSize.QQVGA, count=1),
            reconnect=False,
        )
        await wrong.run()
        assert wrong.stats.last_close[0] == CloseCode.AUTH_FAILED
        window.refresh_tiles()
        tile = window.wall.tiles["porch"]
        assert tile.info.state == "rejected"
        assert "auth_failed" in tile.info.reason and "wrong key" in tile.info.reason
        await services.shutdown()

    run(qloop, scenario())


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
        task = asyncio.ensure_future(cam.run())
        tile = window.wall.tiles["bench"]
        await wait_until(lambda: tile.painted > 0, 5)
        window.refresh_tiles()
        assert tile.info.suite == "plain"
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
