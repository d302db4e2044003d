"""Regenerate the screenshots in docs/images: `.venv/bin/python docs/screenshots.py`.

Runs the real window offscreen with demo cameras and a plain-versus-encrypted comparison,
then grabs it. Nothing here is a mock: it is the app as `securecam --demo 4` runs it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.services.app_services import AppServices  # noqa: E402
from app.services.settings import ReceiverSettings  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402

OUT = Path(__file__).resolve().parent / "images"


async def shoot(window: MainWindow, services: AppServices) -> None:
    await services.start(demo=4)
    while len(services.receiver.live_devices()) < 4:
        await asyncio.sleep(0.1)
    services.comparison.start("demo-1", 150)
    while services.comparison.last is None:
        await asyncio.sleep(0.2)
    await asyncio.sleep(3)
    window.latency_dock.refresh()
    window.grab().save(str(OUT / "main-window.png"))
    window.latency_dock.tabs.setCurrentIndex(2)
    await asyncio.sleep(0.5)
    window.grab().save(str(OUT / "comparison.png"))
    window.latency_dock.tabs.setCurrentIndex(1)
    window.latency_dock.select_device("demo-2")
    await asyncio.sleep(2.5)
    window.latency_dock.refresh()
    window.grab().save(str(OUT / "stages.png"))
    await services.shutdown()


def main() -> int:
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as home:
        services = AppServices(Path(home))
        services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
        window = MainWindow(services)
        window.resize(1440, 900)
        window.show()
        OUT.mkdir(exist_ok=True)
        loop.run_until_complete(shoot(window, services))
    return 0


if __name__ == "__main__":
    sys.exit(main())
