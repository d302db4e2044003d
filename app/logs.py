"""Logging, set up in one place for the `securecam` command and the window.

Every module logs to `logging.getLogger(__name__)`, so all of the app's records belong to the
"app" logger tree (`app.receiver.server`, `app.serial.flasher`, ...) and a new module is
collected without any setup of its own. Only `setup_logging`, called once by each entry point
(`app.cli.main` for the sub-commands, `app.ui.session.open_window` for the window), adds handlers or
sets levels; widgets that show records (the log dock) attach theirs with `add_handler`.

What is collected: the "app" tree at INFO (DEBUG with `--verbose`) and the `websockets`
library's loggers at WARNING (it logs every connection opened and closed at INFO; ours say
what matters). A quick command (`quiet`) shows only warnings and errors on the console: its
answer is on stdout, and the INFO lines would repeat it. Nothing is configured on the root
logger: other libraries' warnings and errors reach stderr only through logging's last resort,
without a timestamp.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, TextIO

APP_LOGGER = "app"
WEBSOCKETS_LOGGER = "websockets"
COLLECTED = (APP_LOGGER, WEBSOCKETS_LOGGER)

LOG_FILE = "securecam.log"
LOG_FILE_BYTES = 1024 * 1024
LOG_FILE_BACKUPS = 5
CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"


def add_handler(handler: logging.Handler) -> None:
    """Send the collected loggers' records (see the module docstring) to `handler` too."""
    for name in COLLECTED:
        logging.getLogger(name).addHandler(handler)


def remove_handler(handler: logging.Handler) -> None:
    """Undo `add_handler`; removing a handler that was never added does nothing."""
    for name in COLLECTED:
        logging.getLogger(name).removeHandler(handler)


class _ConsoleHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time of each record (as logging.lastResort)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always sys.stderr


class _FileHandler(RotatingFileHandler):
    """The rotating log file `setup_logging` installs."""


def _installed() -> list[logging.Handler]:
    """The handlers an earlier `setup_logging` call installed (on the "app" logger)."""
    return [
        h
        for h in logging.getLogger(APP_LOGGER).handlers
        if isinstance(h, _ConsoleHandler | _FileHandler)
    ]


def setup_logging(
    *,
    verbose: bool = False,
    console: bool = True,
    quiet: bool = False,
    log_dir: str | os.PathLike[str] | None = None,
    max_bytes: int = LOG_FILE_BYTES,
    backups: int = LOG_FILE_BACKUPS,
) -> Path | None:
    """Set the collected loggers' levels and handlers; return the log file's path, if any.

    Args:
        verbose: log the app's DEBUG records too (the file still gets INFO and above).
        console: write records to stderr.
        quiet: write only WARNING and above to stderr, unless `verbose` (the loggers stay at
            INFO, so handlers added with `add_handler` and the file still get INFO).
        log_dir: also write INFO and above to `log_dir/securecam.log`, rotated at `max_bytes`
            with `backups` old files kept. The directory is created private (0700).

    A second call replaces what the first installed (handlers attached with `add_handler`
    stay). Raises OSError if the log directory or file cannot be created; the levels and the
    console handler are set up first, so the error can still be logged.
    """
    teardown_logging()
    logging.getLogger(APP_LOGGER).setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger(WEBSOCKETS_LOGGER).setLevel(logging.WARNING)
    if console:
        handler = _ConsoleHandler(logging.WARNING if quiet and not verbose else logging.NOTSET)
        handler.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        add_handler(handler)
    if log_dir is None:
        return None
    directory = Path(log_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours to change: the file is still written
        os.chmod(directory, 0o700)
    path = directory / LOG_FILE
    file_handler = _FileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    file_handler.setLevel(logging.INFO)
    file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
    add_handler(file_handler)
    return path


def teardown_logging() -> None:
    """Remove and close the handlers `setup_logging` installed; levels are left as they are."""
    for handler in _installed():
        remove_handler(handler)
        handler.close()
