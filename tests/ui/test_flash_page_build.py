"""The wizard's Flash page from a fresh checkout: Build firmware (PlatformIO), its log,
progress and Cancel, what to install without PlatformIO, then flashing the new build without
a restart; and the refusal of a board with another chip or less flash.

Real widgets offscreen, real esptool against the emulated ROM; PlatformIO is the stand-in CLI
of tests/serial/fake_pio.py, because the real ``pio run`` downloads the ESP32 toolchain from
the internet, which this machine cannot reach.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
from pathlib import Path

import pytest

from app.devices.registry import Registry
from app.serial.firmware_build import pip_hint
from app.serial.link import LinkState
from app.services.firmware_build_service import FirmwareBuildService
from app.services.setup_service import FlasherOptions, SetupService
from app.ui.setup_wizard import flash_page
from app.ui.setup_wizard.flash_page import FlashPage
from tests.serial import fake_pio
from tests.serial.images import fake_build
from tests.serial.rom_emulator import MB, RomEmulator
from tests.serial.test_firmware_build import checkout
from tests.waiting import scaled, wait_until

BUILT = "Firmware built: {build}. Press Flash to write it."


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    return fake_pio.write_payload(tmp_path_factory.mktemp("payload"))


def run(loop, coro, timeout: float = 40):
    return loop.run_until_complete(asyncio.wait_for(coro, scaled(timeout)))


def make_page(qtbot, tmp_path, firmware: FirmwareBuildService, port: str = "") -> FlashPage:
    setup = SetupService(
        Registry(tmp_path / "home"),
        lister=list,
        flasher_options=FlasherOptions(
            before="no-reset", after="no-reset", no_stub=True, connect_attempts=2
        ),
        firmware=firmware,
    )
    page = FlashPage(setup, tmp_path, lambda: port or None)
    qtbot.addWidget(page)
    page.show()
    return page


def test_build_firmware_then_flash_the_new_build_without_a_restart(qloop, qtbot, tmp_path, payload):
    project = checkout(tmp_path)
    build = project / ".pio" / "build" / "esp32cam"
    pio = fake_pio.install(tmp_path / "bin", payload)
    with RomEmulator() as emulator:
        page = make_page(qtbot, tmp_path, FirmwareBuildService(locate=lambda: pio), emulator.port)
        steps: list[int] = []
        page.firmware.step.connect(lambda step, steps_, text: steps.append(page.progress.value()))
        assert page.path.text() == ""
        assert page.build_button.isVisible() and not page.install_button.isVisible()
        assert page.status.text() == (
            f"No firmware build found in {build}. Press Build firmware to build it with"
            " PlatformIO (a few minutes; the first build downloads the ESP32 toolchain), or"
            " choose a merged .bin."
        )

        async def scenario():
            page.build_button.click()
            assert page.cancel_button.isEnabled() and not page.flash_button.isEnabled()
            await wait_until(lambda: not page.firmware.busy, 20)
            assert page.status.text() == BUILT.format(build=build)
            assert page.path.text() == str(build)  # picked up, no restart
            assert not page.build_button.isVisible()
            assert page.progress.value() == 100 and steps == sorted(steps)
            log = page.log_view.toPlainText()
            assert "Compiling .pio/build/esp32cam/src/main.cpp.o" in log and "[SUCCESS]" in log
            assert page.flash_button.isEnabled() and not page.cancel_button.isEnabled()
            page.flash_button.click()
            await wait_until(lambda: page.setup.state is LinkState.FLASHED, 20)

        run(qloop, scenario())
        for name, offset in (("bootloader.bin", 0x1000), ("firmware.bin", 0x10000)):
            data = (payload / name).read_bytes()
            assert bytes(emulator.flash[offset : offset + len(data)]) == data, name
        page.setup.close()


def test_cancel_stops_the_build_and_leaves_nothing_to_flash(qloop, qtbot, tmp_path, payload):
    checkout(tmp_path)
    pio = fake_pio.install(tmp_path / "bin", payload, mode="hang")
    page = make_page(qtbot, tmp_path, FirmwareBuildService(locate=lambda: pio))

    async def scenario():
        page.build_button.click()
        await wait_until(lambda: "xtensa-esp32-elf-g++ running" in page.log_view.toPlainText(), 20)
        assert page.status.text().startswith("Building the firmware, step 2 of 4: Compiling (")
        assert page.progress.maximum() == 4 and page.progress.value() == 1
        assert not page.isComplete() and not page.flash_button.isEnabled()
        page.cancel_button.click()
        await wait_until(lambda: not page.firmware.busy, 20)

    run(qloop, scenario())
    assert page.status.text() == "Build cancelled"
    assert page.path.text() == "" and page.build_button.isVisible()
    assert "Removed " in page.log_view.toPlainText()  # the half-written firmware.bin
    assert page.build_button.isEnabled() and not page.cancel_button.isEnabled()
    page.setup.close()


def test_without_platformio_the_page_says_what_to_install_and_installs_it(
    qloop, qtbot, tmp_path, payload
):
    checkout(tmp_path)
    bin_dir = tmp_path / "venv-bin"
    firmware = FirmwareBuildService(
        locate=fake_pio.locate_in(bin_dir),
        install_command=fake_pio.pip_command(bin_dir, payload),
        installable=lambda: True,
    )
    page = make_page(qtbot, tmp_path, firmware)
    assert page.status.text() == (
        f"No firmware build found. PlatformIO is not installed. Install it with: {pip_hint()}\n"
        "Then press Build firmware, or choose a merged .bin."
    )
    assert page.install_button.isVisible() and page.build_button.isVisible()

    async def scenario():
        page.install_button.click()
        await wait_until(lambda: not firmware.busy, 20)
        assert page.status.text() == "PlatformIO installed. Press Build firmware now."
        assert "Successfully installed platformio-6.1.18" in page.log_view.toPlainText()
        assert not page.install_button.isVisible()
        page.build_button.click()
        await wait_until(lambda: not firmware.busy, 20)

    run(qloop, scenario())
    assert page.status.text().startswith("Firmware built: ")
    page.setup.close()


def test_build_without_platformio_and_no_venv_only_says_what_to_install(qloop, qtbot, tmp_path):
    checkout(tmp_path)
    firmware = FirmwareBuildService(locate=lambda: None, installable=lambda: False)
    page = make_page(qtbot, tmp_path, firmware)
    assert not page.install_button.isVisible()
    page.build_button.click()
    assert page.status.text() == f"PlatformIO is not installed. Install it with: {pip_hint()}"
    assert page.guidance.isHidden()
    page.setup.close()


@pytest.mark.parametrize(
    ("board", "expected"),
    [
        (
            {"chip": "ESP32-S3"},
            "bootloader.bin is built for the ESP32, but the board is an ESP32-S3: flash it to"
            " an ESP32 board (the AI-Thinker ESP32-CAM)",
        ),
        (
            {"flash_size": 2 * MB},
            "bootloader.bin is built for 4 MB of flash, but the board has 2 MB",
        ),
    ],
)
def test_flash_refuses_a_board_with_another_chip_or_less_flash(
    qloop, qtbot, tmp_path, board, expected
):
    fake_build(tmp_path)
    with RomEmulator(**board) as emulator:
        page = make_page(qtbot, tmp_path, FirmwareBuildService(locate=lambda: None), emulator.port)
        assert page.path.text().endswith("esp32cam") and not page.build_button.isVisible()

        async def scenario():
            page.flash_button.click()
            await wait_until(lambda: page.setup.state is LinkState.DISCONNECTED, 20)
            await wait_until(lambda: not page.setup.busy, 5)

        run(qloop, scenario())
        assert page.status.text() == expected
        assert page.guidance.isHidden() and not page.isComplete()
        assert not {0x02, 0x10} & set(emulator.commands)  # no FLASH_BEGIN / FLASH_DEFL_BEGIN
        assert emulator.flash.count(0xFF) == len(emulator.flash)
        page.setup.close()


def test_flash_with_no_build_in_the_checkout_says_to_build_it_first(qloop, qtbot, tmp_path):
    """A blank firmware field means the checkout's build directory, checked before anything
    is opened: the page shows the flasher's one-line "build it first"."""
    checkout(tmp_path)
    page = make_page(qtbot, tmp_path, FirmwareBuildService(locate=lambda: None), "/dev/null")
    assert page.path.text() == ""
    page.flash_button.click()
    build = tmp_path / "firmware" / ".pio" / "build" / "esp32cam"
    assert page.status.text().startswith(f"No firmware build in {build}: ")
    assert "cd firmware && pio run -e esp32cam" in page.status.text()
    assert page.setup.state is LinkState.DISCONNECTED and not page.setup.busy
    page.setup.close()


def _serial_imports(module: str, seen: set[str]) -> set[str]:
    """The modules among `serial*`/`esptool*` that `module` imports, directly or through the
    app.serial modules it imports (each checked once)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    tree = ast.parse(Path(spec.origin).read_text())
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    names |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    found = {name for name in names if name.split(".")[0] in ("serial", "esptool")}
    for name in sorted(names - seen):
        if name.startswith("app.serial."):
            seen.add(name)
            found |= {f"{name} -> {hit}" for hit in _serial_imports(name, seen)}
    return found


def test_the_page_imports_no_serial_or_esptool_module():
    """The page talks to the services only: none of its own imports reaches pyserial or
    esptool (the services it uses do, off the GUI thread)."""
    assert _serial_imports(flash_page.__name__, set()) == set()
