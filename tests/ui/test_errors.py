"""Unhandled errors are logged with their traceback and shown in one dialog at a time."""

import asyncio
import gc
import logging
import sys
import threading
from contextlib import contextmanager

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from app.devices.registry import DeviceKey
from app.ui import errors
from app.ui.errors import (
    asyncio_exception_handler,
    current_reporter,
    install_exception_hooks,
    uninstall_exception_hooks,
)
from tests.waiting import scaled_ms


class FakeDialogs:
    """Replaces show_error_dialog: records calls; returns `dialog` (None: closed at once)."""

    def __init__(self):
        self.calls = []
        self.threads = []
        self.dialog = None

    def __call__(self, title, text, details):
        self.calls.append((title, text, details))
        self.threads.append(threading.current_thread())
        return self.dialog


@pytest.fixture
def dialogs(monkeypatch, qapp):
    fake = FakeDialogs()
    monkeypatch.setattr(errors, "show_error_dialog", fake)
    return fake


@contextmanager
def hooks():
    # Installed inside the test body: pytest-qt swaps sys.excepthook around each test phase.
    reporter = install_exception_hooks(lambda: None)
    try:
        yield reporter
    finally:
        uninstall_exception_hooks()


def raise_and_hook(exc):
    try:
        raise exc
    except BaseException:
        sys.excepthook(*sys.exc_info())


def test_install_and_uninstall_restore_the_hooks(qapp):
    before = sys.excepthook, threading.excepthook
    with hooks() as reporter:
        assert sys.excepthook is not before[0]
        assert threading.excepthook is not before[1]
        assert current_reporter() is reporter
    assert (sys.excepthook, threading.excepthook) == before
    assert current_reporter() is None


def test_two_rapid_errors_are_logged_and_shown_once(qtbot, dialogs, caplog):
    caplog.set_level(logging.ERROR, logger="app.ui.errors")
    with hooks() as reporter:
        raise_and_hook(ValueError("first failure"))
        raise_and_hook(KeyError("second failure"))
        qtbot.waitUntil(lambda: bool(dialogs.calls), timeout=scaled_ms(2000))
        QApplication.processEvents()  # a second dialog, had one been queued, would open now
        assert len(dialogs.calls) == 1
        assert reporter.dialogs_shown == 1
        assert reporter.suppressed == 1
    _title, text, details = dialogs.calls[0]
    assert "ValueError: first failure" in text
    assert "1 more error occurred meanwhile" in text
    assert "Traceback (most recent call last)" in details
    assert "raise_and_hook" in details
    logged = [r for r in caplog.records if r.name == "app.ui.errors" and r.exc_info]
    assert [r.exc_info[0] for r in logged] == [ValueError, KeyError]


def test_an_exception_in_a_qt_slot_reaches_the_dialog(qtbot, dialogs):
    def slot():
        raise RuntimeError("slot failed")

    with hooks():
        QTimer.singleShot(0, slot)
        qtbot.waitUntil(lambda: bool(dialogs.calls), timeout=scaled_ms(2000))
    assert "RuntimeError: slot failed" in dialogs.calls[0][1]


def test_a_thread_error_is_shown_from_the_gui_thread(qtbot, dialogs, caplog):
    def work():
        raise OSError("disk on fire")

    with hooks():
        worker = threading.Thread(target=work, name="recorder")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: bool(dialogs.calls), timeout=scaled_ms(2000))
    assert dialogs.threads == [threading.main_thread()]
    assert "thread 'recorder'" in dialogs.calls[0][1]
    assert "OSError: disk on fire" in dialogs.calls[0][1]
    assert "disk on fire" in caplog.text


def test_asyncio_errors_are_reported(qtbot, dialogs):
    loop = asyncio.new_event_loop()
    try:
        with hooks():
            exc = RuntimeError("task broke")
            asyncio_exception_handler(
                loop, {"message": "Task exception was never retrieved", "exception": exc}
            )
            qtbot.waitUntil(lambda: bool(dialogs.calls), timeout=scaled_ms(2000))
            assert "RuntimeError: task broke" in dialogs.calls[0][1]
            assert "never retrieved" in dialogs.calls[0][1]
            asyncio_exception_handler(loop, {"message": "socket.send() raised exception."})
            qtbot.waitUntil(lambda: len(dialogs.calls) == 2, timeout=scaled_ms(2000))
            assert "socket.send() raised exception." in dialogs.calls[1][1]
    finally:
        loop.close()


def test_asyncio_handler_without_hooks_uses_the_default(dialogs, monkeypatch):
    loop = asyncio.new_event_loop()
    seen = []
    monkeypatch.setattr(loop, "default_exception_handler", seen.append)
    try:
        asyncio_exception_handler(loop, {"message": "oops"})
    finally:
        loop.close()
    assert seen == [{"message": "oops"}]
    assert dialogs.calls == []


def test_an_open_dialog_holds_back_the_next_until_closed(qtbot, dialogs, caplog):
    dialogs.dialog = QDialog()
    qtbot.addWidget(dialogs.dialog)
    with hooks() as reporter:
        raise_and_hook(ValueError("one"))
        qtbot.waitUntil(lambda: bool(dialogs.calls), timeout=scaled_ms(2000))
        raise_and_hook(ValueError("two"))
        raise_and_hook(ValueError("three"))
        QApplication.processEvents()  # a dialog for them, had one been queued, would open now
        assert len(dialogs.calls) == 1
        assert reporter.showing

        dialogs.dialog.done(0)
        assert not reporter.showing
        assert "2 more errors while the error dialog was open" in caplog.text
        dialogs.dialog = None
        raise_and_hook(ValueError("four"))
        qtbot.waitUntil(lambda: len(dialogs.calls) == 2, timeout=scaled_ms(2000))
    assert "ValueError: four" in dialogs.calls[1][1]
    assert "meanwhile" not in dialogs.calls[1][1]


def test_an_identical_error_is_not_shown_again_soon(qtbot, dialogs, monkeypatch):
    with hooks() as reporter:
        raise_and_hook(ValueError("same"))
        qtbot.waitUntil(lambda: bool(dialogs.calls), timeout=scaled_ms(2000))
        raise_and_hook(ValueError("same"))
        raise_and_hook(ValueError("different"))
        qtbot.waitUntil(lambda: len(dialogs.calls) == 2, timeout=scaled_ms(2000))
        assert "different" in dialogs.calls[1][1]
        assert reporter.suppressed == 1

        monkeypatch.setattr(errors, "REPEAT_QUIET_S", 0.0)
        raise_and_hook(ValueError("same"))
        qtbot.waitUntil(lambda: len(dialogs.calls) == 3, timeout=scaled_ms(2000))


def test_keyboard_interrupt_goes_to_the_default_hook(qtbot, dialogs, monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "__excepthook__", lambda *info: seen.append(info[0]))
    with hooks():
        raise_and_hook(KeyboardInterrupt())
        QApplication.processEvents()  # a dialog, had one been queued, would open now
    assert seen == [KeyboardInterrupt]
    assert dialogs.calls == []


def test_locals_never_reach_the_dialog_or_log(qtbot, dialogs, caplog):
    caplog.set_level(logging.DEBUG)

    def provision():
        secret = DeviceKey.generate().to_text()
        raise ValueError(f"bad configuration ({len(secret)} hex digits)")

    secret_holder = []

    def run():
        try:
            provision()
        except ValueError:
            frame = sys.exc_info()[2].tb_next.tb_frame
            secret_holder.append(frame.f_locals["secret"])
            sys.excepthook(*sys.exc_info())

    with hooks():
        run()
        qtbot.waitUntil(lambda: bool(dialogs.calls), timeout=scaled_ms(2000))
    secret = secret_holder[0]
    title, text, details = dialogs.calls[0]
    assert "provision" in details
    for shown in (title, text, details, caplog.text):
        assert secret not in shown


def test_the_real_dialog_is_critical_with_details(qtbot):
    with hooks():
        box = errors.show_error_dialog("Oops", "ValueError: x", "Traceback ...")
        qtbot.addWidget(box)
        assert isinstance(box, QMessageBox)
        assert box.icon() == QMessageBox.Icon.Critical
        assert box.text() == "ValueError: x"
        assert box.detailedText() == "Traceback ..."
        assert box.isVisible()
        box.done(0)


def test_a_real_dialog_without_a_parent_window_stays_until_closed(qtbot):
    def shown() -> QMessageBox | None:
        boxes = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible() and "no window" in w.text()
        ]
        return boxes[0] if boxes else None

    with hooks() as reporter:  # its parent window is None
        raise_and_hook(ValueError("no window"))
        qtbot.waitUntil(lambda: shown() is not None)
        gc.collect()
        QApplication.processEvents()
        box = shown()
        assert box is not None and reporter.showing
        box.done(0)
        qtbot.waitUntil(lambda: not reporter.showing)
