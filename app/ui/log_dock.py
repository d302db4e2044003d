"""The log dock: the app's records (see app/logs.py for which), from any thread, coloured."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QDockWidget, QPlainTextEdit, QWidget

from app.logs import APP_LOGGER, CONSOLE_FORMAT, add_handler, remove_handler
from app.ui.theme import Meaning, colour

MAX_BLOCKS = 5000


def level_colour(levelno: int) -> QColor | None:
    """The text colour for a record's level: None (the palette's) below WARNING."""
    if levelno >= logging.ERROR:
        return colour(Meaning.BAD)
    if levelno >= logging.WARNING:
        return colour(Meaning.WARNING)
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
        self.setFormatter(logging.Formatter(CONSOLE_FORMAT, "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.emitter.record.emit(self.format(record), record.levelno)
        except RuntimeError:
            pass  # the emitter's C++ side is gone (application shutting down)
        except Exception:
            self.handleError(record)


class LogDock(QDockWidget):
    """Shows the collected loggers' records at `level` and above; `detach()` unhooks it.

    If the "app" logger would drop records at `level` (no `setup_logging` call, as in tests),
    the dock lowers it and `detach()` undoes that. The handler is also removed when the dock is
    destroyed, so it never outlives the widget.
    """

    def __init__(self, parent: QWidget | None = None, *, level: int = logging.INFO) -> None:
        super().__init__("Log", parent)
        self.setObjectName("LogDock")  # for saveState/restoreState
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_BLOCKS)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setWidget(self.text)

        self.logger = logging.getLogger(APP_LOGGER)
        self.handler = QtLogHandler(level)
        self.handler.emitter.record.connect(self.append_record, Qt.ConnectionType.QueuedConnection)
        self._level_set: int | None = None
        if self.logger.getEffectiveLevel() > level:
            self._level_set = level
            self.logger.setLevel(level)
        add_handler(self.handler)
        handler = self.handler
        self.destroyed.connect(lambda: remove_handler(handler))

    def detach(self) -> None:
        """Stop receiving records and undo the logger level change, if this dock made one."""
        remove_handler(self.handler)
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
