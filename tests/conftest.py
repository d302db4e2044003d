"""Shared fixtures: every test gets its own config dir and never touches the user's."""

import os

import pytest

from tests.waiting import ENV, SCALE

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # pytest-timeout's per-test limit stretches with the waits (tests/waiting.py), unless it
    # was given explicitly (--timeout or PYTEST_TIMEOUT). Runs before pytest-timeout reads it.
    explicit = config.getoption("timeout", None) is not None or os.environ.get("PYTEST_TIMEOUT")
    if SCALE != 1 and not explicit and config.getini("timeout"):
        config.option.timeout = float(config.getini("timeout")) * SCALE


def pytest_report_header(config):
    return f"{ENV}={SCALE:g}"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SECURECAM_HOME", str(tmp_path / "securecam-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
