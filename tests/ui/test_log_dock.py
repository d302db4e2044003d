"""The log dock shows the app's records (and websockets' warnings) from any thread, coloured."""

import logging
import threading

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.ui.log_dock import (
    MAX_BLOCKS,
    LogDock,
)
from app.ui.theme import Meaning, colour
from tests.waiting import scaled_ms

log = logging.getLogger("app.test")


@pytest.fixture
def dock(qtbot):
    dock = LogDock()
    qtbot.addWidget(dock)
    yield dock
    dock.detach()


def shown(dock, text):
    return text in dock.plain_text()


def block_colour(dock, text):
    block = dock.text.document().begin()
    while block.isValid():
        if text in block.text():
            brush = block.begin().fragment().charFormat().foreground()
            return None if brush.style() == Qt.BrushStyle.NoBrush else brush.color()
        block = block.next()
    raise AssertionError(f"{text!r} not shown")


def test_shows_info_and_above_of_the_app_and_warnings_of_websockets(qtbot, dock):
    log.debug("a debug line")
    logging.getLogger("elsewhere").warning("not ours")
    logging.getLogger("websockets.server").info("connection open")
    logging.getLogger("websockets.server").warning("websockets warns")
    log.info("camera porch connected")
    qtbot.waitUntil(lambda: shown(dock, "camera porch connected"), timeout=scaled_ms(2000))
    text = dock.plain_text()
    assert "INFO app.test: camera porch connected" in text
    assert "WARNING websockets.server: websockets warns" in text
    assert "a debug line" not in text
    assert "not ours" not in text
    assert "connection open" not in text
    assert dock.text.isReadOnly()
    assert dock.text.maximumBlockCount() == MAX_BLOCKS


def test_warnings_and_errors_are_coloured(qtbot, dock):
    log.info("plain info")
    log.warning("a warning")
    log.error("an error")
    qtbot.waitUntil(lambda: shown(dock, "an error"), timeout=scaled_ms(2000))
    assert block_colour(dock, "plain info") is None
    assert block_colour(dock, "a warning") == colour(Meaning.WARNING)
    assert block_colour(dock, "an error") == colour(Meaning.BAD)


def test_tracebacks_are_shown_whole(qtbot, dock):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("it failed")
    qtbot.waitUntil(lambda: shown(dock, "RuntimeError: boom"), timeout=scaled_ms(2000))
    assert "Traceback (most recent call last)" in dock.plain_text()
    assert block_colour(dock, "RuntimeError: boom") == colour(Meaning.BAD)


def test_records_from_other_threads_arrive_in_the_gui_thread(qtbot, dock):
    threads = []
    # a second receiver connected the way the dock connects itself
    dock.handler.emitter.record.connect(
        lambda text, levelno: threads.append(threading.current_thread()),
        Qt.ConnectionType.QueuedConnection,
    )
    worker = threading.Thread(target=lambda: log.warning("from a worker"), name="worker")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: shown(dock, "from a worker"), timeout=scaled_ms(2000))
    qtbot.waitUntil(lambda: bool(threads), timeout=scaled_ms(2000))
    assert threads == [threading.main_thread()]


def test_old_blocks_are_dropped(dock):
    assert dock.text.maximumBlockCount() == MAX_BLOCKS == 5000
    dock.text.setMaximumBlockCount(20)  # the same mechanism, at a test's scale
    for i in range(30):
        dock.append_record(f"line {i}", logging.WARNING if i % 2 else logging.INFO)
    document = dock.text.document()
    assert document.blockCount() == 20
    assert document.firstBlock().text() == "line 10"
    assert document.lastBlock().text() == "line 29"
    assert block_colour(dock, "line 29") == colour(Meaning.WARNING)


def test_detach_removes_the_handler_and_restores_the_level(qtbot, monkeypatch):
    logger = logging.getLogger("app")
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    monkeypatch.setattr(logging.getLogger(), "level", logging.WARNING)
    logger.manager._clear_cache()
    dock = LogDock()
    qtbot.addWidget(dock)
    assert dock.handler in logger.handlers
    assert logger.getEffectiveLevel() == logging.INFO
    dock.detach()
    assert dock.handler not in logger.handlers
    assert logger.level == logging.NOTSET
    log.warning("after detach")
    QApplication.processEvents()  # the queued record, had the handler sent one, arrives now
    assert not shown(dock, "after detach")


def test_a_deleted_dock_leaves_no_handler(qtbot):
    loggers = [logging.getLogger("app"), logging.getLogger("websockets")]
    before = [list(logger.handlers) for logger in loggers]
    dock = LogDock()
    handler = dock.handler
    assert all(handler in logger.handlers for logger in loggers)
    shiboken6.delete(dock)
    assert [list(logger.handlers) for logger in loggers] == before
    log.error("nobody listens")  # must not raise
