"""What the latency tabs share: the plotted time window and the summary tables' look."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLayout,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

LIVE_WINDOW_S = 30.0  # the Live and Stages plots show the last this many seconds


def cell(text: str, value: float | int | None = None) -> QTableWidgetItem:
    """A right-aligned, read-only table cell showing `text`, with `value` as its UserRole data."""
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    item.setData(Qt.ItemDataRole.UserRole, value)
    return item


class SummaryTable(QTableWidget):
    """A read-only table that is always as tall as all its rows (it never scrolls them) and
    scrolls sideways when its columns, each as wide as its contents, do not fit.

    Columns are sized here (`fit_width`) rather than by the header's Stretch mode, which
    shares room equally and so squeezes a wide header (the paper scheme's) below its text.
    Changes of contents are fitted once per turn of the event loop, however many cells a
    redraw sets.
    """

    def __init__(self, rows: list[str], columns: list[str]) -> None:
        super().__init__(len(rows), len(columns))
        self.setVerticalHeaderLabels(rows)
        self.setHorizontalHeaderLabels(columns)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setMinimumSectionSize(60)
        self._refit = QTimer(self)  # dies with the table, and its pending fit with it
        self._refit.setSingleShot(True)
        self._refit.setInterval(0)
        self._refit.timeout.connect(self.fit_width)
        self.model().dataChanged.connect(lambda *_: self._refit.start())
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.horizontalScrollBar().rangeChanged.connect(lambda *_: self.fit_height())
        header.sectionResized.connect(lambda *_: self.fit_height())
        self.verticalHeader().sectionResized.connect(lambda *_: self.fit_height())
        self.fit_height()

    def fit_height(self) -> None:
        """Be exactly as tall as the header, every row and (when shown) the scroll bar."""
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()) if not self.isRowHidden(r))
        bar = self.horizontalScrollBar()
        scroll = bar.sizeHint().height() if bar.maximum() > 0 else 0
        height = self.horizontalHeader().height() + rows + scroll + 2 * self.frameWidth()
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)

    def fit_width(self) -> None:
        """Each column as wide as its contents, the room left shared out among them; when
        there is none left, the table scrolls sideways (its first columns in view)."""
        header = self.horizontalHeader()
        shown = [c for c in range(self.columnCount()) if not self.isColumnHidden(c)]
        if not shown:
            return
        need = {c: max(self.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in shown}
        spare = max(0, self.viewport().width() - sum(need.values())) // len(shown)
        for c in shown:
            if header.sectionSize(c) != need[c] + spare:
                header.resizeSection(c, need[c] + spare)

    def setColumnHidden(self, column: int, hide: bool) -> None:
        super().setColumnHidden(column, hide)
        self.fit_width()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_width()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.fit_width()
        self.fit_height()


def summary_table(rows: list[str], columns: list[str]) -> SummaryTable:
    """A read-only table with these row and column headers (see `SummaryTable`)."""
    return SummaryTable(rows, columns)


def scrolling(layout: QLayout) -> QScrollArea:
    """`layout` in a frameless area that scrolls up and down when the dock is too short for it
    (never sideways: its labels wrap and its tables scroll on their own)."""
    body = QWidget()
    body.setLayout(layout)
    layout.setContentsMargins(0, 0, 0, 0)
    area = QScrollArea()
    area.setWidget(body)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area
