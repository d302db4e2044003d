"""Shared fixtures: every test gets its own config dir and never touches the user's.

Fixtures used in more than one directory live here (pytest finds them: never import a fixture);
helpers that are plain functions or classes live in tests/helpers.py.
"""

import asyncio
import gc
import logging
import os
import subprocess
from pathlib import Path

import pytest

from app.logs import COLLECTED, WEBSOCKETS_LOGGER, teardown_logging
from tests.waiting import ENV, SCALE

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # pytest-timeout's per-test limit stretches with the waits (tests/waiting.py), unless it
    # was given explicitly (--timeout or PYTEST_TIMEOUT). Runs before pytest-timeout reads it.
    explicit = config.getoption("timeout", None) is not None or os.environ.get("PYTEST_TIMEOUT")
    if SCALE != 1 and not explicit and config.getini("timeout"):
        config.option.timeout = float(config.getini("timeout")) * SCALE
    # As setup_logging does in the app: websockets' INFO lines (every open and close) are noise.
    logging.getLogger(WEBSOCKETS_LOGGER).setLevel(logging.WARNING)


def pytest_report_header(config):
    return f"{ENV}={SCALE:g}"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SECURECAM_HOME", str(tmp_path / "securecam-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


@pytest.fixture(autouse=True)
def _logging_restored():
    """Undo what a test's setup_logging call (an in-process `securecam ...`) configured."""
    levels = {name: logging.getLogger(name).level for name in COLLECTED}
    yield
    teardown_logging()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="session")
def firmware_build() -> Path:
    """The host build of the firmware core (make -C firmware/host), built once per session."""
    result = subprocess.run(
        ["make", "-C", str(ROOT / "firmware" / "host")], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.fail(f"firmware host build failed:\n{result.stdout}\n{result.stderr}")
    return ROOT / "firmware" / "host" / "build"


@pytest.fixture
def qloop(qapp):
    """A qasync event loop on pytest-qt's QApplication, set as the current loop."""
    import qasync  # Qt loads only for the tests that ask for it

    # as in run_app: closing the window must not stop the loop
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    # As in the app (app/ui/session.py): collections run on the GUI thread only, because a
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
def receiver(qapp):
    """A ReceiverService whose receiver never starts: only the stats it keeps, for the tests
    of what reads them (the latency dock, comparison runs). Tests of a real, listening
    receiver define their own `receiver`."""
    from app.receiver.server import Receiver
    from app.services.receiver_service import ReceiverService

    service = ReceiverService(lambda name: None)
    service._receiver = Receiver(lambda name: None)
    yield service
    service.close()
