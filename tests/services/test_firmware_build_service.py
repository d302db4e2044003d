"""FirmwareBuildService: PlatformIO builds off the GUI thread, with signals on the GUI thread.

PlatformIO is the stand-in CLI of tests/serial/fake_pio.py (the real one downloads the ESP32
toolchain from the internet, which this machine cannot reach).
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from app.devices.registry import Registry
from app.serial.flasher import find_build
from app.serial.link import LinkState
from app.services.firmware_build_service import FirmwareBuildService, Kind, Outcome
from app.services.setup_service import BUILD_WHILE_FLASHING, FlasherOptions, SetupService
from tests.serial import fake_pio
from tests.serial.images import fake_build
from tests.serial.rom_emulator import RomEmulator
from tests.serial.test_firmware_build import checkout
from tests.waiting import scaled, wait_until


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    return fake_pio.write_payload(tmp_path_factory.mktemp("payload"))


def run(loop, coro, timeout: float = 30):
    return loop.run_until_complete(asyncio.wait_for(coro, scaled(timeout)))


class Recorder:
    """Everything the service emits, and the thread each signal arrived on."""

    def __init__(self, service: FirmwareBuildService) -> None:
        self.lines: list[str] = []
        self.steps: list[tuple[int, int, str]] = []
        self.outcomes: list[Outcome] = []
        self.busy: list[bool] = []
        self.threads: set[threading.Thread] = set()
        service.line.connect(self._on(self.lines.append))
        service.step.connect(self._on(lambda *s: self.steps.append(s)))
        service.finished.connect(self._on(self.outcomes.append))
        service.busyChanged.connect(self._on(self.busy.append))

    def _on(self, record):
        def slot(*args):
            self.threads.add(threading.current_thread())
            record(*args)

        return slot


def test_build_runs_in_a_worker_and_reports_on_the_gui_thread(qloop, tmp_path, payload):
    pio = fake_pio.install(tmp_path / "bin", payload)
    checkout(tmp_path)
    service = FirmwareBuildService(locate=lambda: pio)
    seen = Recorder(service)

    async def scenario():
        assert service.build(tmp_path)
        assert service.busy and not service.build(tmp_path)  # one job at a time
        await wait_until(lambda: seen.outcomes, 20)

    run(qloop, scenario())
    (outcome,) = seen.outcomes
    assert outcome.ok and outcome.build == find_build(tmp_path)
    assert "Compiling .pio/build/esp32cam/src/main.cpp.o" in seen.lines
    assert seen.steps[-1][:2] == (4, 4)
    assert seen.busy == [True, False] and not service.busy
    assert seen.threads == {threading.main_thread()}
    service.close()


def test_without_platformio_it_says_exactly_what_to_install(qloop, tmp_path):
    checkout(tmp_path)
    service = FirmwareBuildService(locate=lambda: None, installable=lambda: True)
    seen = Recorder(service)
    assert service.build(tmp_path)
    (outcome,) = seen.outcomes
    assert not outcome.ok and outcome.message == service.install_hint()
    assert outcome.message.startswith("PlatformIO is not installed. Install it with: ")
    assert outcome.message.endswith(" install platformio")
    assert outcome.guidance == "Or press Install PlatformIO."
    assert seen.busy == []  # nothing ran
    service.close()


def test_install_then_build(qloop, tmp_path, payload):
    """The install job (pip, here a stand-in that puts the stand-in pio in place) makes
    PlatformIO findable; the next build uses it."""
    checkout(tmp_path)
    bin_dir = tmp_path / "venv-bin"
    service = FirmwareBuildService(
        locate=fake_pio.locate_in(bin_dir),
        install_command=fake_pio.pip_command(bin_dir, payload),
    )
    seen = Recorder(service)

    async def scenario():
        assert service.platformio() is None
        assert service.install()
        await wait_until(lambda: seen.outcomes, 20)
        assert service.platformio() == bin_dir / "pio"
        assert service.build(tmp_path)
        await wait_until(lambda: len(seen.outcomes) == 2, 20)

    run(qloop, scenario())
    installed, built = seen.outcomes
    assert installed.kind is Kind.INSTALL and installed.message == "PlatformIO installed."
    assert "Successfully installed platformio-6.1.18" in seen.lines
    assert built.ok and built.build == find_build(tmp_path)
    service.close()


def test_cancel_through_the_setup_service_and_no_flash_meanwhile(qloop, tmp_path, payload):
    pio = fake_pio.install(tmp_path / "bin", payload, mode="hang")
    checkout(tmp_path)
    service = FirmwareBuildService(locate=lambda: pio)
    setup = SetupService(Registry(tmp_path / "home"), lister=list, firmware=service)
    seen = Recorder(service)

    async def scenario():
        assert service.build(tmp_path)
        await wait_until(lambda: "xtensa-esp32-elf-g++ running" in seen.lines, 20)
        assert not setup.flash("/dev/null", tmp_path)  # nothing is flashed while building
        setup.cancel()  # the wizard's Cancel, and closing the wizard
        await wait_until(lambda: seen.outcomes, 20)

    run(qloop, scenario())
    (outcome,) = seen.outcomes
    assert outcome.cancelled and outcome.message == "Build cancelled"
    assert find_build(tmp_path) is None
    assert not service.busy and not setup.busy
    setup.close()


def test_a_build_is_refused_in_one_line_while_a_flash_runs(qloop, tmp_path, payload):
    """Not only the page's disabled button: the service itself refuses to rewrite the images
    a flash is reading, and says so; once the flash has ended it builds."""
    pio = fake_pio.install(tmp_path / "bin", payload)
    checkout(tmp_path)
    fake_build(tmp_path / "other")  # the build being flashed
    service = FirmwareBuildService(locate=lambda: pio)
    setup = SetupService(
        Registry(tmp_path / "home"),
        lister=list,
        flasher_options=FlasherOptions(
            before="no-reset", after="no-reset", no_stub=True, connect_attempts=2
        ),
        firmware=service,
    )
    seen = Recorder(service)
    refusals: list[str] = []
    service.refused.connect(refusals.append)
    written: list[int] = []
    setup.flashProgress.connect(lambda done, total: written.append(done))

    with RomEmulator() as emulator:

        async def scenario():
            assert setup.flash(emulator.port, find_build(tmp_path / "other"))
            await wait_until(lambda: written, 20)  # the flash is writing
            assert not service.build(tmp_path)
            assert refusals == [BUILD_WHILE_FLASHING] and not service.busy
            await wait_until(lambda: setup.state is LinkState.FLASHED, 20)
            await wait_until(lambda: not setup.busy, 5)
            assert service.build(tmp_path)
            await wait_until(lambda: seen.outcomes, 20)

        run(qloop, scenario())
    assert "\n" not in BUILD_WHILE_FLASHING and "Cancel" in BUILD_WHILE_FLASHING
    assert refusals == [BUILD_WHILE_FLASHING]
    (outcome,) = seen.outcomes
    assert outcome.ok and outcome.build == find_build(tmp_path)
    setup.close()
