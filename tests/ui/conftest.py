"""A qasync event loop on pytest-qt's QApplication, and the app's window on it."""

import asyncio
import gc

import pytest
import qasync

from app.services.app_services import AppServices
from app.services.settings import ReceiverSettings
from app.ui.main_window import MainWindow
from tests.waiting import (
    scaled,
    wait_until,  # noqa: F401  (imported from here by the UI tests)
)


def run(loop, coro, timeout: float = 30):
    """Run `coro` on the qasync loop until done, within `timeout` (scaled) seconds."""
    return loop.run_until_complete(asyncio.wait_for(coro, scaled(timeout)))


@pytest.fixture
def qloop(qapp):
    # as in run_app: closing the window must not stop the loop
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    # As in the app (app/ui/run.py): collections run on the GUI thread only, because a
    # collection triggered in a worker thread would destroy Qt objects on the wrong thread.
    gc.disable()
    try:
        yield loop
        loop.run_until_complete(asyncio.sleep(0))  # lets callbacks already scheduled finish
        loop.close()
        asyncio.set_event_loop(None)
    finally:
        gc.collect()
        gc.enable()


@pytest.fixture
def services(tmp_path, qloop):
    """The app's services with a throwaway home, listening on any free loopback port."""
    services = AppServices(tmp_path / "home")
    services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
    yield services
    qloop.run_until_complete(services.shutdown())  # also when a test failed half-way


@pytest.fixture
def window(services, qtbot):
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    return window
