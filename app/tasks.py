"""Fire-and-forget asyncio tasks that can never fail unobserved.

`spawn` is how the window and its services start background work from synchronous code (Qt
slots, signal handlers). The task is referenced until it is done, so it cannot be garbage
collected half-way; an exception it ends with is logged once, with its traceback, on the
"app.tasks" logger and handed to `on_error`, whose job is to tell the user. Because the
exception is retrieved here, asyncio never reports it a second time ("Task exception was never
retrieved"). Cancellation is not a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_running: set[asyncio.Task[Any]] = set()


def spawn(
    coro: Coroutine[Any, Any, _T],
    *,
    name: str,
    on_error: Callable[[BaseException], None] | None = None,
) -> asyncio.Task[_T]:
    """Run `coro` as a task called `name` on the current event loop and return the task.

    If the task ends with an exception, it is logged (ERROR, with traceback) and then passed to
    `on_error`, called on the event loop. An exception raised by `on_error` itself is logged,
    never propagated.
    """
    task: asyncio.Task[_T] = asyncio.ensure_future(coro)
    task.set_name(name)
    _running.add(task)
    task.add_done_callback(lambda done: _finished(done, name, on_error))
    return task


def running() -> set[asyncio.Task[Any]]:
    """The spawned tasks not finished yet (a copy)."""
    return set(_running)


def _finished(
    task: asyncio.Task[Any], name: str, on_error: Callable[[BaseException], None] | None
) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is None:
        return
    log.error("task %r failed: %s", name, _describe(exc), exc_info=exc)
    if on_error is None:
        return
    try:
        on_error(exc)
    except Exception:
        log.exception("the error handler of task %r failed", name)


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
