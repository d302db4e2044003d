"""The setup wizard end to end against real parts: esptool against the emulated ROM on a pty,
the firmware's provisioning console built for the host on another pty, the app's receiver,
and a simulated camera holding the key the wizard registered.

pyserial cannot enumerate ptys, so the service gets a `lister` offering the two ptys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from PySide6.QtWidgets import QWizard

from app.protocol.endpoints import camera_url
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.receiver.stats import DeviceState
from app.serial.camera_settings import CameraSettings
from app.serial.flasher import (
    GUIDANCE_BOOT_MODE,
    GUIDANCE_WIRING,
    FlashCancelled,
    FlashError,
    Identity,
)
from app.serial.link import LinkState
from app.serial.ports import PortInfo, port_info
from app.serial.provisioner import ProvisionTimeouts
from app.services.app_services import AppServices
from app.services.settings import ReceiverSettings
from app.services.setup_service import FlasherOptions, SetupService
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource
from app.ui.setup_wizard import Page, SetupWizard
from tests.firmware.test_provision_cli import PASSWORD, SSID, Console
from tests.serial.images import fake_build
from tests.serial.rom_emulator import RomEmulator
from tests.ui.clipping import in_both_themes, settle
from tests.waiting import scaled, wait_until

MAC = bytes.fromhex("246f28a1b2c3")
PageHook = Callable[[str, SetupWizard], Awaitable[None] | None]


def pty_lister(*ports: tuple[str, str]) -> Callable[[], list[PortInfo]]:
    return lambda: [port_info(device, description, None, None) for device, description in ports]


def make_setup(services: AppServices, *ports: tuple[str, str]) -> SetupService:
    return SetupService(
        services.devices.registry,
        lister=pty_lister(*ports),
        flasher_options=FlasherOptions(
            before="no-reset", after="no-reset", no_stub=True, connect_attempts=2
        ),
        timeouts=ProvisionTimeouts(console=scaled(5), scan=scaled(5), wifi=scaled(10)),
        on_registered=services.devices.devicesChanged.emit,
        poll_ms=200,
    )


@pytest.fixture
def services(tmp_path, qloop):
    services = AppServices(tmp_path / "home")
    services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
    yield services
    qloop.run_until_complete(services.shutdown())


@pytest.fixture
def console(firmware_build, tmp_path):
    started = Console(firmware_build / "securecam-console", tmp_path / "camera.cfg")
    yield started
    if started.proc.poll() is None:
        started.stop()


def run(loop, coro, timeout: float = 40):
    return loop.run_until_complete(asyncio.wait_for(coro, scaled(timeout)))


async def _hook(on_page: PageHook | None, name: str, wizard: SetupWizard) -> None:
    if on_page is not None:
        outcome = on_page(name, wizard)
        if outcome is not None:
            await outcome


async def walk_through(
    services: AppServices,
    wizard: SetupWizard,
    emulator: RomEmulator,
    console: Console,
    parts: dict[str, tuple[int, bytes]],
    on_page: PageHook | None = None,
) -> None:
    """Drive every page as a user would; `on_page(name, wizard)` is awaited on each page."""
    assert await services.start()
    wizard.show()
    ports = wizard.port_page
    await wait_until(lambda: ports.list.count() == 2, 5)
    ports.select(emulator.port)
    assert wizard.currentId() == Page.PORT and ports.isComplete()
    assert ports.help.isHidden()
    await _hook(on_page, "1-port", wizard)

    wizard.next()
    identify = wizard.identify_page
    assert wizard.currentId() == Page.IDENTIFY
    await wait_until(lambda: wizard.setup.state is LinkState.IDENTIFIED, 15)
    assert identify.chip.text().startswith("ESP32")
    assert identify.mac.text() == "24:6f:28:a1:b2:c3"
    assert identify.flash_size.text() == "4MB"
    await wait_until(identify.isComplete, 5)
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert identify.diagram.isHidden()
    await _hook(on_page, "2-identify", wizard)

    wizard.next()
    flash = wizard.flash_page
    assert wizard.currentId() == Page.FLASH
    assert flash.path.text().endswith("esp32cam")  # the build was found
    assert not flash.isComplete()
    flash.flash_button.click()
    await wait_until(lambda: wizard.setup.state is LinkState.FLASHED, 20)
    assert flash.progress.value() == 100
    assert "Hash of data verified" in flash.log_view.toPlainText()
    for name, (offset, data) in parts.items():
        assert bytes(emulator.flash[offset : offset + len(data)]) == data, name
    await wait_until(flash.isComplete, 5)
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    await _hook(on_page, "3-flash", wizard)

    wizard.next()
    configure = wizard.configure_page
    assert wizard.currentId() == Page.CONFIGURE
    assert configure.server_port.value() == services.receiver.port
    configure.select_port(console.path)  # the flashed board now runs the firmware's console
    configure.scan_button.click()
    await wait_until(lambda: configure.ssid.count() == 2, 15)
    assert configure.ssid.itemData(0) == "HomeNet" and "-30 dBm" in configure.ssid.itemText(0)
    assert configure.ssid.itemData(1) == "Cafe Free"
    await wait_until(lambda: not wizard.setup.busy, 5)
    configure.ssid.setCurrentIndex(0)
    configure.password.setText(PASSWORD)
    configure.host.setEditText("127.0.0.1")
    configure.name.setText("porch")
    configure.camera.inputs["frame_size"].setCurrentIndex(
        configure.camera.inputs["frame_size"].findData(FrameSize.SVGA)
    )
    configure.camera.inputs["jpeg_quality"].setValue(10)
    configure.camera.inputs["fps_cap"].setValue(20)
    await _hook(on_page, "4-configure-filled", wizard)
    configure.provision_button.click()
    await wait_until(lambda: wizard.setup.state is LinkState.VERIFIED, 20)
    await wait_until(configure.isComplete, 5)
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    device = services.devices.registry.get("porch")
    result = wizard.setup.result
    assert result.fingerprint == device.key.fingerprint
    assert result.config.camera == CameraSettings(FrameSize.SVGA, jpeg_quality=10, fps_cap=20)
    assert device.key.fingerprint in configure.status.text()
    assert [e.name for e in services.devices.entries()] == ["porch"]
    shown = configure.status.text() + configure.steps.toPlainText()
    assert PASSWORD not in shown and device.key.to_text() not in shown.lower()
    await _hook(on_page, "4-configure", wizard)

    wizard.next()
    verify = wizard.verify_page
    assert wizard.currentId() == Page.VERIFY
    verify.refresh()
    assert verify.tile.info.state is DeviceState.CONNECTING  # waiting for its first session
    provisioned = result.config.camera  # the flashed board streams as it was configured
    camera = SimulatedCamera(
        camera_url("127.0.0.1", services.receiver.port),
        "porch",
        device.key.raw,
        PrerenderedSource.synthetic(provisioned.frame_size, count=2),
        fps=provisioned.fps_cap,
        quality=provisioned.jpeg_quality,
    )
    task = asyncio.ensure_future(camera.run())
    try:
        await wait_until(lambda: verify.frames > 0 and verify.tile.painted > 0, 10)

        def settings_shown() -> bool:
            verify.refresh()
            return verify.tile.info.settings == "SVGA · q10 · 20 fps"

        await wait_until(settings_shown, 10)
        assert "streaming" in verify.status.text()
        assert verify.tile.info.state is DeviceState.LIVE
        assert verify.tile.info.suite is Suite.NOISE
        await _hook(on_page, "5-verify", wizard)
    finally:
        camera.stop()
        await task
    wizard.accept()
    await wizard.setup.wait_idle()


def test_walk_through_flash_provision_and_first_frame(qloop, qtbot, services, console, tmp_path):
    parts = fake_build(tmp_path)
    with RomEmulator(mac=MAC) as emulator:
        setup = make_setup(services, (emulator.port, "emulated ESP32"), (console.path, "console"))
        wizard = SetupWizard(services, setup, firmware_root=tmp_path, verify_timeout=scaled(30))
        qtbot.addWidget(wizard)
        run(qloop, walk_through(services, wizard, emulator, console, parts))
        setup.close()


async def _identify_fails(
    services: AppServices, mode: str, on_failed: PageHook | None = None
) -> SetupWizard:
    emulator = RomEmulator(mode)  # type: ignore[arg-type]
    emulator.start()
    setup = make_setup(services, (emulator.port, "emulated ESP32"))
    wizard = SetupWizard(services, setup)
    wizard.show()
    await wait_until(lambda: wizard.port_page.list.count() == 1, 5)
    wizard.next()
    page = wizard.identify_page
    await wait_until(lambda: not page.guidance.isHidden(), 30)
    await wait_until(lambda: not setup.busy, 5)
    assert setup.identity is None and setup.state is LinkState.DISCONNECTED
    assert not page.isComplete()
    assert page.retry_button.isEnabled() and page.slow_button.isEnabled()
    await _hook(on_failed, f"2-identify-{mode}", wizard)
    wizard.reject()
    setup.close()
    emulator.stop()
    return wizard


def test_silent_port_shows_the_wiring_guidance(qloop, qtbot, services):
    wizard = run(qloop, _identify_fails(services, "silent"))
    qtbot.addWidget(wizard)
    page = wizard.identify_page
    assert page.guidance.text() == GUIDANCE_WIRING
    assert "U0R" in page.guidance.text()
    assert page.diagram.isHidden()


def test_wrong_boot_mode_shows_the_io0_guidance_and_diagram(qloop, qtbot, services):
    wizard = run(qloop, _identify_fails(services, "wrong_boot"))
    qtbot.addWidget(wizard)
    page = wizard.identify_page
    assert page.guidance.text() == GUIDANCE_BOOT_MODE
    assert "IO0" in page.guidance.text() and "boot mode" in page.status.text().lower()
    assert not page.diagram.isHidden() and page.diagram.renderer().isValid()


class ClippingWalk:
    """A page hook: walks the wizard's text in both themes on every page it is called on."""

    def __init__(self) -> None:
        self.pages: list[str] = []
        self.found: list[str] = []

    def __call__(self, name: str, wizard: SetupWizard) -> None:
        self.pages.append(name)
        settle()
        self.found += [f"{name}: {problem}" for problem in in_both_themes(wizard)]
        frame = wizard.frameGeometry()
        if frame.width() > 1280 or frame.height() > 800:
            self.found.append(f"{name}: {frame.width()}×{frame.height()} is larger than 1280×800")


def test_no_page_cuts_its_text(qloop, qtbot, services, console, tmp_path):
    """Every page while it is shown, with its real content: the ports found, the board
    identified, the flash log, the Wi-Fi networks scanned and the settings filled in, the
    key's fingerprint once provisioned, the first frame."""
    parts = fake_build(tmp_path)
    walk = ClippingWalk()
    with RomEmulator(mac=MAC) as emulator:
        setup = make_setup(services, (emulator.port, "emulated ESP32"), (console.path, "console"))
        wizard = SetupWizard(services, setup, firmware_root=tmp_path, verify_timeout=scaled(30))
        qtbot.addWidget(wizard)
        run(qloop, walk_through(services, wizard, emulator, console, parts, walk))
        setup.close()
    assert walk.pages == [
        "1-port",
        "2-identify",
        "3-flash",
        "4-configure-filled",
        "4-configure",
        "5-verify",
    ]
    assert walk.found == []


@pytest.mark.parametrize("mode", ["wrong_boot", "silent"])
def test_the_identify_page_cuts_none_of_its_guidance(qloop, qtbot, services, mode):
    walk = ClippingWalk()
    wizard = run(qloop, _identify_fails(services, mode, walk))
    qtbot.addWidget(wizard)
    assert walk.pages == [f"2-identify-{mode}"] and walk.found == []


def test_no_port_shows_the_help(qloop, qtbot, services):
    async def scenario():
        setup = make_setup(services)
        wizard = SetupWizard(services, setup)
        qtbot.addWidget(wizard)
        wizard.show()
        await wait_until(lambda: not wizard.port_page.help.isHidden(), 5)
        assert "driver" in wizard.port_page.help.text()
        assert not wizard.port_page.isComplete()
        wizard.reject()
        setup.close()

    run(qloop, scenario())


def test_wrong_wifi_password_leaves_the_registry_unchanged(qloop, qtbot, services, console):
    keep = services.devices.add("other-cam")

    async def scenario():
        setup = make_setup(services, (console.path, "console"))
        wizard = SetupWizard(services, setup)
        qtbot.addWidget(wizard)
        wizard.show()
        await wait_until(lambda: wizard.port_page.list.count() == 1, 5)
        wizard.port_page.skip_flash.setChecked(True)  # provisioning only
        wizard.next()
        assert wizard.currentId() == Page.CONFIGURE
        page = wizard.configure_page
        assert page.name.text() == "cam-1"
        page.ssid.setEditText(SSID)
        page.password.setText("not the password")
        page.host.setEditText("127.0.0.1")
        page.provision_button.click()
        await wait_until(lambda: "Not provisioned" in page.status.text(), 20)
        await wait_until(lambda: not setup.busy, 5)
        text = page.status.text()
        assert "Wi-Fi" in text and "password" in text and "2.4 GHz" in text
        assert "not the password" not in text + page.steps.toPlainText()
        assert "undoing" in page.steps.toPlainText()
        assert not page.isComplete()
        wizard.reject()
        setup.close()

    run(qloop, scenario())
    assert [d.name for d in services.devices.registry.list()] == ["other-cam"]
    assert services.devices.registry.get("other-cam").key == keep.key
    assert "psk" not in console.stored()


class ScriptedFlasher:
    """Stands in for `Flasher`: identify and flash give the next scripted outcome."""

    def __init__(self, outcomes: list[Identity | FlashError]) -> None:
        self.outcomes = outcomes

    def _next(self) -> Identity:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, FlashError):
            raise outcome
        return outcome

    def identify(self) -> Identity:
        return self._next()

    def flash(self, images: object) -> Identity:
        return self._next()

    def cancel(self) -> None:
        pass


def test_pages_follow_the_service_link_state(qloop, qtbot, services, tmp_path, monkeypatch):
    """Identify and flash pages show the service's link state, and change only with it."""
    fake_build(tmp_path)
    board = Identity("ESP32", "ESP32-D0WD-V3 (revision v3.0)", "24:6f:28:a1:b2:c3", "4MB")
    outcomes: list[Identity | FlashError] = []
    setup = make_setup(services, ("/dev/ttyFAKE0", "fake"))
    monkeypatch.setattr(setup, "_make_flasher", lambda *a, **k: ScriptedFlasher(outcomes))
    wizard = SetupWizard(services, setup, firmware_root=tmp_path)
    qtbot.addWidget(wizard)
    states: list[LinkState] = []
    setup.stateChanged.connect(states.append)
    next_button = wizard.button(QWizard.WizardButton.NextButton)

    async def settled(page) -> None:
        await wait_until(lambda: not setup.busy, 5)
        assert page.isComplete() == next_button.isEnabled()

    async def scenario():
        wizard.show()
        await wait_until(lambda: wizard.port_page.list.count() == 1, 5)
        identify, flash = wizard.identify_page, wizard.flash_page

        outcomes.append(board)
        wizard.next()  # identifies on arrival
        await settled(identify)
        assert identify.isComplete() and identify.mac.text() == board.mac

        outcomes.append(FlashError("No serial data received from the board.", GUIDANCE_WIRING))
        identify.retry_button.click()
        await settled(identify)
        assert not identify.isComplete() and identify.mac.text() == ""  # forgotten
        assert identify.guidance.text() == GUIDANCE_WIRING

        outcomes.append(board)
        identify.slow_button.click()
        await settled(identify)
        wizard.next()
        assert wizard.currentId() == Page.FLASH and not flash.isComplete()

        outcomes.append(FlashCancelled("Cancelled.", "Flash it again before use."))
        flash.flash_button.click()
        await settled(flash)
        assert not flash.isComplete() and flash.status.text() == "Cancelled."

        outcomes.append(board)
        flash.flash_button.click()
        await settled(flash)
        assert flash.isComplete()
        wizard.back()  # the flash identified the board too
        assert wizard.currentId() == Page.IDENTIFY and identify.isComplete()
        assert identify.chip.text() == board.description
        wizard.reject()
        await setup.wait_idle()

    run(qloop, scenario())
    setup.close()
    assert states == [
        LinkState.IDENTIFYING,
        LinkState.IDENTIFIED,
        LinkState.IDENTIFYING,
        LinkState.DISCONNECTED,
        LinkState.IDENTIFYING,
        LinkState.IDENTIFIED,
        LinkState.FLASHING,
        LinkState.DISCONNECTED,
        LinkState.FLASHING,
        LinkState.FLASHED,
    ]
