"""The setup wizard's screenshots, taken by docs/screenshots.py (the one entry point).

It walks the wizard like tests/ui/test_setup_wizard.py does (the emulated ESP32 ROM on a pty,
the host-built firmware console on another pty, the app's receiver and a simulated camera)
and grabs each page at the wizard's own size. The firmware console is built first
(make -C firmware/host).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

from PySide6.QtWidgets import QWidget

from app.services.app_services import AppServices
from app.services.settings import ReceiverSettings
from app.ui.setup_wizard import SetupWizard
from tests.firmware.test_provision_cli import Console
from tests.serial.rom_emulator import RomEmulator
from tests.ui.test_setup_wizard import fake_build, make_setup, walk_through
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("1-port", "2-identify", "3-flash", "4-configure", "5-verify")  # as walk_through names
BOOT_MODE = "2-identify-boot-mode"

Shoot = Callable[[str, QWidget], Awaitable[None]]


def build_console() -> Path:
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware" / "host")], check=True)
    return ROOT / "firmware" / "host" / "build" / "securecam-console"


async def boot_mode_page(services: AppServices, shot: Shoot) -> None:
    """The identify page after a board booted its flash: IO0 guidance and the diagram."""
    with RomEmulator("wrong_boot") as emulator:
        setup = make_setup(services, (emulator.port, "CP210x (emulated)"))
        wizard = SetupWizard(services, setup)
        wizard.show()
        try:
            await wait_until(lambda: wizard.port_page.list.count() == 1, 5)
            wizard.next()
            page = wizard.identify_page
            await wait_until(lambda: not page.guidance.isHidden(), 30)
            await asyncio.sleep(0.05)
            await shot(f"wizard-{BOOT_MODE}", wizard)
        finally:
            wizard.reject()
            await setup.wait_idle()
            setup.close()


async def shoot_wizard(work: Path, shot: Shoot) -> None:
    """Every page of the wizard as a user walks it, then the boot-mode guidance."""
    console_binary = build_console()
    os.environ["SECURECAM_HOME"] = str(work / "home")
    services = AppServices(work / "home")
    services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
    console = Console(console_binary, work / "c")
    parts = fake_build(work)
    try:
        with RomEmulator() as emulator:
            setup = make_setup(services, (emulator.port, "CP210x (emulated)"), (console.path, ""))
            wizard = SetupWizard(services, setup, firmware_root=work)

            async def grab(name: str, shown: SetupWizard) -> None:
                if name not in PAGES:
                    return
                await asyncio.sleep(0.3 if name == "5-verify" else 0.05)  # let it paint
                await shot(f"wizard-{name}", shown)

            try:
                await walk_through(services, wizard, emulator, console, parts, on_page=grab)
                wizard.hide()
                await boot_mode_page(services, shot)
            finally:
                setup.close()
    finally:
        await services.shutdown()
        console.stop()
