"""The app's services and window on the qasync loop (`qloop`, tests/conftest.py)."""

import pytest

from app.services.app_services import AppServices
from app.services.settings import ReceiverSettings, ShareSettings
from app.ui.main_window import MainWindow


@pytest.fixture
def services(tmp_path, qloop):
    """The app's services with a throwaway home, listening (and sharing, once switched on) on
    any free loopback port."""
    services = AppServices(tmp_path / "home")
    services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
    services.settings.save_share(ShareSettings(host="127.0.0.1", port=0))
    yield services
    qloop.run_until_complete(services.shutdown())  # also when a test failed half-way


@pytest.fixture
def window(services, qtbot):
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    return window
