"""Unhandled exceptions from Qt slots, threads and asyncio: logged, then shown in one dialog.

`install_exception_hooks` replaces `sys.excepthook` and `threading.excepthook`; install
`asyncio_exception_handler` with `loop.set_exception_handler`. Every error is logged (logger
"app.ui.errors", with its traceback); the dialog opens in the GUI thread (queued, never from
inside the failing slot, never with a nested event loop), one at a time: errors arriving while
one is pending or open are only logged and counted, and an error identical to one closed less
than `REPEAT_QUIET_S` seconds ago is only logged.
Tracebacks are formatted without local variables, so no key material is ever shown.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

log = logging.getLogger(__name__)

REPEAT_QUIET_S = 30.0
DIALOG_TITLE = "SecureCam: unexpected error"

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """What the dialog shows: `text` is type and message, `details` the formatted traceback."""

    title: str
    text: str
    details: str
    signature: tuple[str, str]


def show_error_dialog(title: str, text: str, details: str) -> QDialog | None:
    """Open a critical message box (details behind "Show Details…") without blocking.

    Returns the dialog: the error counts as on screen until it is `finished`. Tests replace
    this module-level function; returning None means "already closed".
    """
    reporter = _reporter
    parent = reporter.parent_widget() if reporter is not None else None
    box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setDetailedText(details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()  # not exec(): no nested event loop inside qasync's
    return box


def show_message(
    parent: QWidget | None,
    title: str,
    text: str,
    *,
    details: str | None = None,
    icon: QMessageBox.Icon = QMessageBox.Icon.Warning,
) -> QMessageBox:
    """Show a known problem to the user as is, without blocking, and return the box.

    For expected failures with guidance (a busy port, an unreadable registry), not for bugs:
    those go through the hooks below. The box opens with `open()` (no nested event loop), is
    deleted once closed, and is a child of `parent`, where tests find it. Callers log.
    """
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


class ErrorReporter(QObject):
    """Logs errors from any thread and queues at most one dialog at a time to the GUI thread.

    `dialogs_shown` counts dialogs, `suppressed` the errors that were only logged.
    """

    _post = Signal()

    def __init__(
        self,
        parent_getter: Callable[[], QWidget | None],
        log_file: Path | None = None,
    ) -> None:
        super().__init__()
        self._parent_getter = parent_getter
        self._log_file = log_file
        self._lock = threading.Lock()
        self._pending: ErrorReport | None = None
        self._showing = False
        self._unshown = 0  # suppressed since the last dialog was queued
        # The dialog on screen: a box without a parent window is Python's alone to keep alive.
        self._dialog: QDialog | None = None
        self._last_shown: dict[tuple[str, str], float] = {}
        self.dialogs_shown = 0
        self.suppressed = 0
        self._post.connect(self._show_pending, Qt.ConnectionType.QueuedConnection)

    def parent_widget(self) -> QWidget | None:
        """The dialog's parent from `parent_getter`, or None if it fails."""
        try:
            return self._parent_getter()
        except Exception:
            return None

    def report(self, exc_info: _ExcInfo, where: str) -> None:
        """Log the exception; queue its dialog unless one is pending, open or a recent repeat."""
        exc_type, exc, tb = exc_info
        log.error("unhandled exception %s", where, exc_info=exc_info)
        message = str(exc)
        text = f"{exc_type.__name__}: {message}" if message else exc_type.__name__
        self._queue(
            ErrorReport(
                DIALOG_TITLE,
                f"An unexpected error occurred {where}:\n\n{text}",
                "".join(traceback.format_exception(exc_type, exc, tb)),
                (f"{exc_type.__module__}.{exc_type.__qualname__}", message),
            )
        )

    def report_message(self, message: str, where: str) -> None:
        """Log and queue an error that has no exception object (an asyncio context message)."""
        log.error("unhandled error %s: %s", where, message)
        self._queue(
            ErrorReport(
                DIALOG_TITLE,
                f"An unexpected error occurred {where}:\n\n{message}",
                message,
                ("", message),
            )
        )

    def _queue(self, report: ErrorReport) -> None:
        with self._lock:
            last = self._last_shown.get(report.signature)
            repeat = last is not None and time.monotonic() - last < REPEAT_QUIET_S
            if self._pending is not None or self._showing or repeat:
                self.suppressed += 1
                self._unshown += 1
                return
            self._pending = report
        try:
            self._post.emit()  # queued: the dialog opens in the GUI thread, outside this slot
        except RuntimeError:  # the reporter's C++ side is gone: the log has it
            with self._lock:
                self._pending = None

    def _show_pending(self) -> None:
        with self._lock:
            report = self._pending
            if report is None or self._showing:
                return
            self._showing = True
            unshown, self._unshown = self._unshown, 0
        text = report.text
        if unshown:
            text += f"\n\n{_more_errors(unshown)} occurred meanwhile: see the log."
        text += "\n\nSecureCam may not work correctly until it is restarted."
        if self._log_file is not None:
            text += f"\nLog file: {self._log_file}"
        dialog = None
        try:
            if isinstance(QApplication.instance(), QApplication):
                dialog = show_error_dialog(report.title, text, report.details)
                self.dialogs_shown += 1
        except Exception:
            log.exception("could not show the error dialog")
        if dialog is None:
            self._dialog_closed(report.signature)
        else:
            self._dialog = dialog
            dialog.finished.connect(lambda _result: self._dialog_closed(report.signature))
            dialog.destroyed.connect(lambda: self._dialog_closed(report.signature))

    def _dialog_closed(self, signature: tuple[str, str]) -> None:
        with self._lock:
            if not self._showing:
                return  # finished, then destroyed: count it once
            self._dialog = None
            self._last_shown[signature] = time.monotonic()
            self._pending = None
            self._showing = False
            unshown, self._unshown = self._unshown, 0
        if unshown:
            log.warning(
                "%s while the error dialog was open: only logged (above)", _more_errors(unshown)
            )

    @property
    def showing(self) -> bool:
        """Whether an error dialog is queued or on screen."""
        return self._pending is not None or self._showing


def _more_errors(count: int) -> str:
    return f"{count} more error" if count == 1 else f"{count} more errors"


_reporter: ErrorReporter | None = None
_previous_hooks: tuple[Any, Any] | None = None
_busy = threading.local()


def current_reporter() -> ErrorReporter | None:
    """The installed reporter (for its counters), or None."""
    return _reporter


def install_exception_hooks(
    parent_getter: Callable[[], QWidget | None],
    log_file: Path | None = None,
) -> ErrorReporter:
    """Route unhandled exceptions to the log and an error dialog; call in the GUI thread.

    `parent_getter` gives the dialog's parent (the main window, or None). Installing again
    replaces the previous installation.
    """
    global _reporter, _previous_hooks
    uninstall_exception_hooks()
    _reporter = ErrorReporter(parent_getter, log_file)
    _previous_hooks = (sys.excepthook, threading.excepthook)
    sys.excepthook = _sys_hook
    threading.excepthook = _thread_hook
    return _reporter


def uninstall_exception_hooks() -> None:
    """Restore the hooks found at installation and drop the reporter."""
    global _reporter, _previous_hooks
    if _previous_hooks is not None:
        sys.excepthook, threading.excepthook = _previous_hooks
        _previous_hooks = None
    reporter, _reporter = _reporter, None
    if reporter is not None:
        reporter.deleteLater()


def _report(exc_info: _ExcInfo, where: str, fallback: Callable[[], None]) -> None:
    reporter = _reporter
    if reporter is None or getattr(_busy, "active", False):
        fallback()  # not installed, or failing while reporting: the interpreter's own output
        return
    _busy.active = True
    try:
        reporter.report(exc_info, where)
    except Exception:
        fallback()
    finally:
        _busy.active = False


def _sys_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    _report(
        (exc_type, exc, tb), "in the user interface", lambda: sys.__excepthook__(exc_type, exc, tb)
    )


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "unknown"
    _report(
        (args.exc_type, args.exc_value, args.exc_traceback),
        f"in thread {name!r}",
        lambda: threading.__excepthook__(args),
    )


def asyncio_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """For `loop.set_exception_handler`: report like the hooks (the default handler if none)."""
    if _reporter is None:
        loop.default_exception_handler(context)
        return
    task = context.get("task") or context.get("future")
    name = task.get_name() if isinstance(task, asyncio.Task) else None
    where = f"in task {name!r}" if name else "in an asyncio callback"
    message = str(context.get("message") or "")
    exc = context.get("exception")
    if isinstance(exc, BaseException):
        if message:
            where = f"{where} ({message.rstrip('.')})"
        _report(
            (type(exc), exc, exc.__traceback__),
            where,
            lambda: loop.default_exception_handler(context),
        )
    elif not getattr(_busy, "active", False):
        _busy.active = True
        try:
            _reporter.report_message(message or "unknown error", where)
        finally:
            _busy.active = False
