"""The window's session: one QApplication, one asyncio loop through qasync, the services and
the main window, until the window is closed (started by app/ui/run.py)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from pathlib import Path

import qasync
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from app.logs import setup_logging
from app.paths import config_dir, log_dir
from app.services.app_services import AppServices
from app.ui.errors import asyncio_exception_handler, install_exception_hooks
from app.ui.main_window import MainWindow
from app.ui.theme import Theme, apply_theme, follow_system

log = logging.getLogger(__name__)


def open_window(args: argparse.Namespace) -> int:
    """Open the window (with `args.demo` demo cameras) and run until it is closed.

    Records go to stderr and the rotating log file (app/logs.py) as well as the log dock.
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("SecureCam")
    app.setQuitOnLastWindowClosed(False)  # the loop must outlive the window to shut down
    override = getattr(args, "config_dir", None)
    log_path = setup_logging(verbose=getattr(args, "verbose", False), log_dir=log_dir(override))
    log.info("logging to %s", log_path)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(asyncio_exception_handler)
    theme = _saved_theme(config_dir(override))
    apply_theme(theme)
    follow_system()
    services = AppServices(
        config_dir(override),
        log_dir=log_dir(override),
        adapt=not getattr(args, "no_adapt", False),
    )
    window = MainWindow(services)
    install_exception_hooks(lambda: window, log_file=log_path)
    try:
        loop.run_until_complete(_session(services, window, args.demo))
    finally:
        loop.close()
    return 0


def main_thread_gc(parent: QObject, interval_ms: int = 1000) -> QTimer:
    """Run garbage collections from a GUI-thread timer instead of automatically.

    An automatic collection can start in whichever thread allocates (the decoder and serial
    workers too), and a Qt object destroyed there crashes Qt. Gen-0 every second, gen-1 every
    10 s and a full collection every minute keep memory bounded and pauses short.
    """
    gc.disable()
    ticks = 0

    def collect() -> None:
        nonlocal ticks
        ticks += 1
        gc.collect(2 if ticks % 60 == 0 else 1 if ticks % 10 == 0 else 0)

    timer = QTimer(parent, interval=interval_ms, timeout=collect)
    timer.start()
    return timer


async def _session(services: AppServices, window: MainWindow, demo: int | None) -> None:
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    window.show()
    if not await services.start(demo=demo):
        window.show_listen_problem()
    # Everything alive now lives as long as the app: keep it out of every future collection,
    # so full collections stay short enough not to stall the frame pipeline.
    gc.freeze()
    collector = main_thread_gc(window)
    await closed.wait()
    collector.stop()
    await services.shutdown()


def _saved_theme(config: Path) -> Theme:
    """The theme saved in the settings; the system's when none is, or it is unknown."""
    from app.services.settings import Settings

    try:
        return Theme(Settings(config).theme() or Theme.SYSTEM.value)
    except ValueError:
        return Theme.SYSTEM
