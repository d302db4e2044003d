"""Waiting in tests: on conditions, never for fixed times, with timeouts a slow machine can stretch.

Every timeout a test waits with goes through `scaled()`, so one environment variable,
`SECURECAM_TEST_TIMEOUT_SCALE` (a positive number, default 1), gives a loaded or slow machine
more time without touching any test: `SECURECAM_TEST_TIMEOUT_SCALE=4 make test`. A timeout
is an upper bound on how long a test may wait for something that should happen; a test
that passes never waits for it, so a larger scale costs nothing when all is well.

- `await wait_until(predicate, timeout)` in asyncio tests (also under the qasync loop, so Qt
  keeps running meanwhile);
- `wait_until_sync(predicate, timeout)` in plain tests waiting on threads or processes;
- `qtbot.waitUntil(predicate, timeout=scaled_ms(5000))` and
  `qtbot.waitSignal(signal, timeout=scaled_ms(5000))` in pytest-qt tests;
- `asyncio.wait_for(aw, scaled(5))`, `asyncio.timeout(scaled(5))`,
  `subprocess.run(..., timeout=scaled(60))` elsewhere.

pytest-timeout's per-test limit is scaled by the same factor (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from typing import TypeVar

ENV = "SECURECAM_TEST_TIMEOUT_SCALE"
T = TypeVar("T")


def _scale_from_env() -> float:
    text = os.environ.get(ENV, "").strip()
    if not text:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ENV} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{ENV} must be positive, got {text!r}")
    return value


SCALE = _scale_from_env()


def scaled(seconds: float) -> float:
    """`seconds` stretched by SECURECAM_TEST_TIMEOUT_SCALE; use it for every timeout."""
    return seconds * SCALE


def scaled_ms(milliseconds: int) -> int:
    """The same for pytest-qt's timeouts, which are whole milliseconds."""
    return math.ceil(milliseconds * SCALE)


def _describe(predicate: Callable[[], object], timeout: float, message: str | None) -> str:
    what = message or getattr(predicate, "__name__", "condition")
    return f"{what}: not met within {timeout:g} s (scale {SCALE:g}, {ENV})"


async def wait_until(
    predicate: Callable[[], T],
    timeout: float = 5.0,
    *,
    interval: float = 0.01,
    message: str | None = None,
) -> T:
    """Await until `predicate()` is truthy and return that value.

    Args:
        predicate: checked at once, then every `interval` seconds; the event loop runs between
            checks. An exception it raises propagates at once.
        timeout: the unscaled limit in seconds; it is passed through `scaled()`.
        message: what was awaited, for the AssertionError raised when time runs out.

    Raises:
        AssertionError: if `predicate()` is still falsy after `scaled(timeout)` seconds.
    """
    loop = asyncio.get_running_loop()
    limit = scaled(timeout)
    deadline = loop.time() + limit
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(_describe(predicate, limit, message))
        await asyncio.sleep(interval)


def wait_until_sync(
    predicate: Callable[[], T],
    timeout: float = 5.0,
    *,
    interval: float = 0.01,
    message: str | None = None,
) -> T:
    """`wait_until` for code without an event loop (threads, subprocesses); blocks the caller."""
    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_describe(predicate, limit, message))
        time.sleep(interval)
