"""Shared fixtures: every test gets its own config dir and never touches the user's."""

import logging
import os

import pytest

from app.logs import COLLECTED, WEBSOCKETS_LOGGER, teardown_logging
from tests.waiting import ENV, SCALE

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
