"""Render the setup wizard's pages into docs/images/wizard-*.png, offscreen.

It walks the wizard like tests/ui/test_setup_wizard.py does (the emulated ESP32 ROM on a pty,
the host-built firmware console on another pty, the app's receiver and a simulated camera)
and grabs each page. Run from the project root: .venv/bin/python docs/wizard_screenshots.py
(the firmware console is built first: make -C firmware/host).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import qasync  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.services.app_services import AppServices  # noqa: E402
from app.services.settings import ReceiverSettings  # noqa: E402
from app.ui.setup_wizard import SetupWizard  # noqa: E402
from tests.firmware.test_provision_cli import Console  # noqa: E402
from tests.serial.rom_emulator import RomEmulator  # noqa: E402
from tests.ui.test_setup_wizard import fake_build, make_setup, walk_through  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

OUT = ROOT / "docs" / "images"


async def boot_mode_page(services: AppServices) -> None:
    """The identify page after a board booted its flash: IO0 guidance and the diagram."""
    with RomEmulator("wrong_boot") as emulator:
        setup = make_setup(services, (emulator.port, "CP210x (emulated)"))
        wizard = SetupWizard(services, setup)
        wizard.resize(760, 640)
        wizard.show()
        await wait_until(lambda: wizard.port_page.list.count() == 1, 5)
        wizard.next()
        page = wizard.identify_page
        await wait_until(lambda: not page.guidance.isHidden(), 30)
        await asyncio.sleep(0.05)
        path = OUT / "wizard-2-identify-boot-mode.png"
        wizard.grab().save(str(path))
        print(f"wrote {path.relative_to(ROOT)}")
        wizard.reject()
        await setup.wait_idle()
        setup.close()


def main() -> int:
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware" / "host")], check=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["SECURECAM_HOME"] = str(work / "home")
        services = AppServices(work / "home")
        services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
        console = Console(ROOT / "firmware" / "host" / "build" / "securecam-console", work / "c")
        parts = fake_build(work)
        with RomEmulator() as emulator:
            setup = make_setup(services, (emulator.port, "CP210x (emulated)"), (console.path, ""))
            wizard = SetupWizard(services, setup, firmware_root=work)
            wizard.resize(760, 640)

            async def grab(name: str, shown: SetupWizard) -> None:
                if name == "4-configure-filled":
                    return
                await asyncio.sleep(0.3 if name == "5-verify" else 0.05)  # let it paint
                path = OUT / f"wizard-{name}.png"
                shown.grab().save(str(path))
                print(f"wrote {path.relative_to(ROOT)}")

            try:
                loop.run_until_complete(
                    walk_through(services, wizard, emulator, console, parts, on_page=grab)
                )
                loop.run_until_complete(boot_mode_page(services))
            finally:
                setup.close()
                loop.run_until_complete(services.shutdown())
                console.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
