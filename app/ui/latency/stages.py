"""The Stages tab: where one camera's latency goes, stage by stage.

Rolling stacked bars (per-stage means of the frames that arrived in each half second) and a
table of the means over the last two seconds, whose row headers double as the bars' legend.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from app.protocol.hello import Suite
from app.protocol.timeline import Stage
from app.ui.latency.common import LIVE_WINDOW_S, cell, summary_table
from app.ui.plots import (
    COLUMNS,
    RX,
    STAGE_COLUMNS,
    STAGES,
    SUITE,
    TO_DECRYPTED,
    TO_PAINTED,
    TimelineTrack,
    binned_means,
    finite_mean,
    format_ms,
    make_plot,
    natural_key,
    swatch,
)

STAGE_WINDOW_S = 2.0  # the table's average
BIN_S = 0.5  # the rolling stacked bars
FIRST_WITH_DATA = "first camera with data"
PAINTED_TOTAL = "capture → painted"
DECRYPTED_TOTAL = "capture → decrypted"

Mean = tuple[float | None, int]  # (mean in ms or None, frames it is over)


def shown_device(tracks: Mapping[str, TimelineTrack], chosen: str | None) -> str | None:
    """The camera the tab shows: the chosen one, else the first (by name) with data."""
    if chosen is not None:
        return chosen
    for name in sorted(tracks, key=natural_key):
        if len(tracks[name].rows()):
            return name
    return None


class StagesTab(QWidget):
    """Bars and a table for one camera; `deviceChosen(name)` when the user picks one in the
    combo box ("" for the first camera with data).

    After `refresh`, `summary` holds each stage's (mean ms, frames) over the last two seconds
    and `total` the capture → painted one (capture → decrypted when nothing was painted).
    """

    deviceChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box, self.plot, _ = make_plot(
            "ms", f"arrival time (s ago); bars: per-stage means per {BIN_S} s"
        )
        self.plot.setXRange(-LIVE_WINDOW_S, 0, padding=0.01)
        self.plot.enableAutoRange(x=False, y=True)
        self.bars: dict[Stage, pg.BarGraphItem] = {}
        for stage, _, colour in STAGES:
            bars = pg.BarGraphItem(
                x0=[], width=BIN_S * 0.9, height=[], y0=[], brush=colour, pen=pg.mkPen(None)
            )
            self.plot.addItem(bars)
            self.bars[stage] = bars
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.addItem(FIRST_WITH_DATA, None)
        self.combo.activated.connect(
            lambda index: self.deviceChosen.emit(self.combo.itemData(index) or "")
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.table = summary_table(
            [label for _, label, _ in STAGES] + [PAINTED_TOTAL],
            [f"mean ({STAGE_WINDOW_S:.0f} s)", "share", "frames"],
        )
        for row, (_, label, colour) in enumerate(STAGES):  # the table is the bars' legend
            self.table.setVerticalHeaderItem(row, QTableWidgetItem(swatch(QColor(colour)), label))
        self.summary: dict[Stage, Mean] = {}
        self.total: Mean = (None, 0)

        side = QVBoxLayout()
        picker = QHBoxLayout()
        picker.addWidget(QLabel("Camera"))
        picker.addWidget(self.combo, 1)
        side.addLayout(picker)
        side.addWidget(self.label)
        side.addWidget(self.table, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box, 3)
        layout.addLayout(side, 2)

    def refresh(self, tracks: Mapping[str, TimelineTrack], now: int, chosen: str | None) -> None:
        """Redraw the camera `shown_device(tracks, chosen)` at app time `now` (µs)."""
        self._sync_combo(tracks, chosen)
        name = shown_device(tracks, chosen)
        track = tracks.get(name) if name is not None else None
        rows = track.rows() if track is not None else np.empty((0, COLUMNS))
        self._draw_bars(rows, now)
        recent = rows[rows[:, RX] >= now - STAGE_WINDOW_S * 1e6]
        self._fill_table(recent)
        if name is None:
            self.label.setText("No camera has sent frames yet.")
            return
        plain = int(np.count_nonzero(recent[:, SUITE] == float(Suite.PLAIN)))
        suites = (
            Suite.NOISE.label
            if plain == 0
            else Suite.PLAIN.label
            if plain == len(recent)
            else f"{Suite.NOISE.label} and {Suite.PLAIN.label}"
        )
        self.label.setText(
            f"<b>{name}</b>: {len(recent)} frames in the last {STAGE_WINDOW_S:.0f} s"
            + (f" ({suites})" if len(recent) else "")
        )

    def _draw_bars(self, rows: np.ndarray, now: int) -> None:
        """Per-stage means of the frames that arrived in each bin, stacked in pipeline order."""
        bins = int(LIVE_WINDOW_S / BIN_S)
        start = now - LIVE_WINDOW_S * 1e6
        keys = np.floor((rows[:, RX] - start) / (BIN_S * 1e6)).astype(int)
        x0 = -LIVE_WINDOW_S + np.arange(bins) * BIN_S + BIN_S * 0.05
        base = np.zeros(bins)
        for stage, _, _ in STAGES:
            means, _ = binned_means(keys, rows[:, STAGE_COLUMNS[stage]], bins)
            height = np.clip(means, 0, None)
            self.bars[stage].setOpts(x0=x0, y0=base.copy(), height=height)
            base += height

    def _fill_table(self, recent: np.ndarray) -> None:
        """Means over `recent` (the last STAGE_WINDOW_S), and each stage's share of their sum."""
        self.summary = {stage: finite_mean(recent[:, STAGE_COLUMNS[stage]]) for stage in Stage}
        total, total_label = finite_mean(recent[:, TO_PAINTED]), PAINTED_TOTAL
        if total[1] == 0 and len(recent):
            total, total_label = finite_mean(recent[:, TO_DECRYPTED]), DECRYPTED_TOTAL
        self.total = total
        known = sum(value for value, _ in self.summary.values() if value is not None)
        for row, (value, count) in enumerate([*self.summary.values(), total]):
            is_stage = row < len(STAGES)
            share = (
                f"{100 * value / known:.0f} %" if value is not None and known and is_stage else ""
            )
            self.table.setItem(row, 0, cell(format_ms(value), value))
            self.table.setItem(row, 1, cell(share))
            self.table.setItem(row, 2, cell(str(count), count))
        self.table.setVerticalHeaderItem(len(STAGES), QTableWidgetItem(total_label))

    def _sync_combo(self, tracks: Mapping[str, TimelineTrack], chosen: str | None) -> None:
        names = sorted(set(tracks) | ({chosen} if chosen else set()), key=natural_key)
        current = [self.combo.itemData(i) for i in range(1, self.combo.count())]
        if current != names:
            self.combo.blockSignals(True)
            while self.combo.count() > 1:
                self.combo.removeItem(1)
            for name in names:
                self.combo.addItem(name, name)
            self.combo.blockSignals(False)
        index = self.combo.findData(chosen) if chosen else 0
        self.combo.setCurrentIndex(max(index, 0))
