"""What the latency tabs share: the plotted time window and the summary tables' look."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

LIVE_WINDOW_S = 30.0  # the Live and Stages plots show the last this many seconds


def cell(text: str, value: float | int | None = None) -> QTableWidgetItem:
    """A right-aligned, read-only table cell showing `text`, with `value` as its UserRole data."""
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    item.setData(Qt.ItemDataRole.UserRole, value)
    return item


def summary_table(rows: list[str], columns: list[str]) -> QTableWidget:
    """A fixed-size, read-only table with these row and column headers."""
    table = QTableWidget(len(rows), len(columns))
    table.setVerticalHeaderLabels(rows)
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return table
