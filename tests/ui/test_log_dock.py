"""The log dock shows "securecam" records from any thread; the log file rotates."""

import logging
import stat
import threading

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.ui.log_dock import (
    ERROR_COLOUR,
    MAX_BLOCKS,
    WARNING_COLOUR,
    LogDock,
    install_file_logging,
    uninstall_file_logging,
)
from tests.waiting import scaled_ms

log = logging.getLogger("securecam.test")


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


def test_shows_info_and_above_of_securecam_only(qtbot, dock):
    log.debug("a debug line")
    logging.getLogger("elsewhere").warning("not ours")
    log.info("camera porch connected")
    qtbot.waitUntil(lambda: shown(dock, "camera porch connected"), timeout=scaled_ms(2000))
    text = dock.plain_text()
    assert "INFO securecam.test: camera porch connected" in text
    assert "a debug line" not in text
    assert "not ours" not in text
    assert dock.text.isReadOnly()
    assert dock.text.maximumBlockCount() == MAX_BLOCKS


def test_warnings_and_errors_are_coloured(qtbot, dock):
    log.info("plain info")
    log.warning("a warning")
    log.error("an error")
    qtbot.waitUntil(lambda: shown(dock, "an error"), timeout=scaled_ms(2000))
    assert block_colour(dock, "plain info") is None
    assert block_colour(dock, "a warning") == WARNING_COLOUR
    assert block_colour(dock, "an error") == ERROR_COLOUR


def test_tracebacks_are_shown_whole(qtbot, dock):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("it failed")
    qtbot.waitUntil(lambda: shown(dock, "RuntimeError: boom"), timeout=scaled_ms(2000))
    assert "Traceback (most recent call last)" in dock.plain_text()
    assert block_colour(dock, "RuntimeError: boom") == ERROR_COLOUR


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
    assert block_colour(dock, "line 29") == WARNING_COLOUR


def test_detach_removes_the_handler_and_restores_the_level(qtbot, monkeypatch):
    logger = logging.getLogger("securecam")
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
    logger = logging.getLogger("securecam")
    before = list(logger.handlers)
    dock = LogDock()
    handler = dock.handler
    assert handler in logger.handlers
    shiboken6.delete(dock)
    assert handler not in logger.handlers
    assert logger.handlers == before
    log.error("nobody listens")  # must not raise


def test_file_logging_writes_privately(tmp_path):
    directory = tmp_path / "logs"
    path = install_file_logging(directory)
    try:
        assert path == directory / "securecam.log"
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert install_file_logging(directory) == path  # no second handler
        handlers = [
            h for h in logging.getLogger("securecam").handlers if hasattr(h, "baseFilename")
        ]
        assert len(handlers) == 1
        log.info("written to the file")
        log.debug("not written")
        for handler in handlers:
            handler.flush()
        text = path.read_text()
        assert "INFO securecam.test [MainThread]: written to the file" in text
        assert "not written" not in text
    finally:
        uninstall_file_logging(path)
    assert not any(hasattr(h, "baseFilename") for h in logging.getLogger("securecam").handlers)


def test_file_logging_rotates(tmp_path):
    path = install_file_logging(tmp_path / "logs", max_bytes=300, backups=2)
    try:
        for i in range(40):
            log.info("line %02d of the rotation test", i)
    finally:
        uninstall_file_logging(path)
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["securecam.log", "securecam.log.1", "securecam.log.2"]
    assert all(p.stat().st_size <= 300 for p in path.parent.iterdir())
    assert "line 39" in path.read_text()
