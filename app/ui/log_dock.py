"""The log dock (records of the "securecam" logger, from any thread) and the rotating log file."""

from __future__ import annotations

import contextlib
import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QDockWidget, QPlainTextEdit, QWidget

LOGGER_NAME = "securecam"
MAX_BLOCKS = 5000
LOG_FILE = "securecam.log"
LOG_FILE_BYTES = 1024 * 1024
LOG_FILE_BACKUPS = 5
WARNING_COLOUR = QColor("#b35c00")
ERROR_COLOUR = QColor("#c62828")

_DOCK_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"


def level_colour(levelno: int) -> QColor | None:
    """The text colour for a record's level: None (the palette's) below WARNING."""
    if levelno >= logging.ERROR:
        return ERROR_COLOUR
    if levelno >= logging.WARNING:
        return WARNING_COLOUR
    return None


class _Emitter(QObject):
    record = Signal(str, int)  # formatted text, levelno


class QtLogHandler(logging.Handler):
    """Formats each record in the logging thread and emits (text, levelno) on `emitter.record`.

    Connect it with a queued connection: the slot then runs in the receiver's (GUI) thread.
    """

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.emitter = _Emitter()
        self.setFormatter(logging.Formatter(_DOCK_FORMAT, "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.emitter.record.emit(self.format(record), record.levelno)
        except RuntimeError:
            pass  # the emitter's C++ side is gone (application shutting down)
        except Exception:
            self.handleError(record)


class LogDock(QDockWidget):
    """Shows the "securecam" logger's records at `level` and above; `detach()` unhooks it.

    The handler is also removed when the dock is destroyed, so it never outlives the widget.
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        logger_name: str = LOGGER_NAME,
        level: int = logging.INFO,
    ) -> None:
        super().__init__("Log", parent)
        self.setObjectName("LogDock")  # for saveState/restoreState
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_BLOCKS)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setWidget(self.text)

        self.logger = logging.getLogger(logger_name)
        self.handler = QtLogHandler(level)
        self.handler.emitter.record.connect(self.append_record, Qt.ConnectionType.QueuedConnection)
        self._level_set: int | None = None
        if self.logger.getEffectiveLevel() > level:
            self._level_set = level
            self.logger.setLevel(level)
        self.logger.addHandler(self.handler)
        logger, handler = self.logger, self.handler
        self.destroyed.connect(lambda: logger.removeHandler(handler))

    def detach(self) -> None:
        """Stop receiving records and undo the logger level change, if this dock made one."""
        self.logger.removeHandler(self.handler)
        if self._level_set is not None and self.logger.level == self._level_set:
            self.logger.setLevel(logging.NOTSET)
        self._level_set = None

    def append_record(self, text: str, levelno: int) -> None:
        """Append one formatted record, coloured by level; follow the end if it was shown."""
        bar = self.text.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 2
        char_format = QTextCharFormat()
        colour = level_colour(levelno)
        if colour is not None:
            char_format.setForeground(colour)
        document = self.text.document()
        cursor = QTextCursor(document)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not document.isEmpty():
            cursor.insertBlock(QTextBlockFormat(), char_format)
        cursor.insertText(text, char_format)
        if follow:
            bar.setValue(bar.maximum())

    def plain_text(self) -> str:
        """Everything shown, as plain text."""
        return self.text.toPlainText()


class _FileHandler(RotatingFileHandler):
    """Marks the handlers `install_file_logging` added, so they can be found and removed."""


def install_file_logging(
    directory: Path,
    *,
    max_bytes: int = LOG_FILE_BYTES,
    backups: int = LOG_FILE_BACKUPS,
    logger_name: str = LOGGER_NAME,
) -> Path:
    """Log INFO and above of `logger_name` to `directory/securecam.log`, rotated; its path.

    `directory` is created private (0700). Installing the same file twice adds one handler.
    Raises OSError if the directory or file cannot be created.
    """
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours to change: the file is still written
        os.chmod(directory, 0o700)
    path = directory / LOG_FILE
    logger = logging.getLogger(logger_name)
    for existing in logger.handlers:
        if isinstance(existing, _FileHandler) and Path(existing.baseFilename) == path.absolute():
            return path
    handler = _FileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(_FILE_FORMAT))
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return path


def uninstall_file_logging(path: Path | None = None, *, logger_name: str = LOGGER_NAME) -> None:
    """Remove and close the file handler writing `path` (every one when None)."""
    logger = logging.getLogger(logger_name)
    for handler in list(logger.handlers):
        if not isinstance(handler, _FileHandler):
            continue
        if path is None or Path(handler.baseFilename) == Path(path).absolute():
            logger.removeHandler(handler)
            handler.close()
