"""The Stages tab: where one camera's latency goes, stage by stage.

Rolling stacked bars (per-stage means of the frames that arrived in each half second) and a
table of the means over the last two seconds, whose row headers double as the bars' legend.
Hovering a bar shows its half second's frames and stage means.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.protocol.hello import Suite
from app.protocol.timeline import Stage
from app.ui.latency.common import LIVE_WINDOW_S, cell, scrolling, summary_table
from app.ui.plots import (
    COLUMNS,
    MARK_AT,
    RX,
    STAGE_COLUMNS,
    STAGES,
    SUITE,
    TO_DECRYPTED,
    TO_PAINTED,
    TOP_BAND,
    Found,
    PlotColours,
    PointHover,
    RobustScale,
    TimelineTrack,
    above_marks,
    binned_means,
    breakdown_html,
    finite_mean,
    format_ms,
    make_plot,
    natural_key,
    shade,
    swatch,
)

STAGE_WINDOW_S = 2.0  # the table's average
BIN_S = 0.5  # the rolling stacked bars
FIRST_WITH_DATA = "first camera with data"
PAINTED_TOTAL = "capture → painted"
DECRYPTED_TOTAL = "capture → decrypted"
SCALE_FLOOR_MS = 10.0  # the bars' scale never tops out below this
STAGES_AXIS = ("mean per stage (ms)", "ms")
TIME_AXIS = (
    f"arrived (seconds ago) · a bar: the mean of each stage over {BIN_S:g} s",
    "arrived (seconds ago)",
    "s ago",
)

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
        parts = make_plot(STAGES_AXIS, TIME_AXIS)
        self.plot, self.axis_labels = parts.plot, parts.labels
        self.plot.setXRange(-LIVE_WINDOW_S, 0, padding=0.01)
        self.plot.enableAutoRange(x=False, y=False)
        self.plot.setYRange(0, SCALE_FLOOR_MS * TOP_BAND, padding=0)
        # Robust, as the Live tab's: a few slow half seconds are marked, not scaled to.
        self.scale = RobustScale(SCALE_FLOOR_MS)
        self.marks = above_marks()
        self.plot.addItem(self.marks, ignoreBounds=True)
        self.bars: dict[Stage, pg.BarGraphItem] = {}
        for stage, _, spec in STAGES:
            bars = pg.BarGraphItem(
                x0=[], width=BIN_S * 0.9, height=[], y0=[], brush=shade(spec), pen=pg.mkPen(None)
            )
            self.plot.addItem(bars)
            self.bars[stage] = bars
        # The last drawn bins: left edges, each stage's mean and the frames in each.
        self._bins: tuple[np.ndarray, dict[Stage, np.ndarray], np.ndarray] | None = None
        self.hover = PointHover(self.plot, self._find)
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
        self._legend()
        parts.view.restyled.connect(self._restyle)
        self.summary: dict[Stage, Mean] = {}
        self.total: Mean = (None, 0)

        side = QVBoxLayout()
        picker = QHBoxLayout()
        picker.addWidget(QLabel("Camera"))
        picker.addWidget(self.combo, 1)
        side.addLayout(picker)
        side.addWidget(self.label)
        side.addWidget(self.table)
        side.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(parts.box, 3)
        layout.addWidget(scrolling(side), 2)

    def _legend(self) -> None:
        """The table's row headers are the bars' legend: a swatch of each stage's colour."""
        for row, (_, label, spec) in enumerate(STAGES):
            self.table.setVerticalHeaderItem(row, QTableWidgetItem(swatch(shade(spec)), label))

    def _restyle(self) -> None:
        """The theme changed: bars, swatches, marks and the hover ring in its shades, now."""
        for stage, _, spec in STAGES:
            self.bars[stage].setOpts(brush=shade(spec))
        self._legend()
        self.marks.setBrush(pg.mkBrush(PlotColours.now().text))
        self.hover.restyle()

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
        heights: dict[Stage, np.ndarray] = {}
        for stage, _, _ in STAGES:
            means, _ = binned_means(keys, rows[:, STAGE_COLUMNS[stage]], bins)
            heights[stage] = np.clip(means, 0, None)
        ok = (keys >= 0) & (keys < bins)
        counts = np.bincount(keys[ok], minlength=bins)
        self._bins = (x0, heights, counts)
        totals = np.sum(list(heights.values()), axis=0)
        # The newest bins, those the table averages, always fit: they are the camera's now.
        newest = totals[-round(STAGE_WINDOW_S / BIN_S) :]
        top = self.scale.update(totals[counts > 0], at_least=float(newest.max()))
        self.plot.setYRange(0, top * TOP_BAND, padding=0)
        ceiling = top * MARK_AT  # taller stacks are cut here, and marked
        base = np.zeros(bins)
        for stage, _, _ in STAGES:
            y0 = np.minimum(base, ceiling)
            base = base + heights[stage]
            self.bars[stage].setOpts(x0=x0, y0=y0, height=np.minimum(base, ceiling) - y0)
        above = totals > ceiling
        self.marks.setData(
            x=x0[above] + BIN_S * 0.45,
            y=np.full(int(np.count_nonzero(above)), ceiling),
            brush=pg.mkBrush(PlotColours.now().text),
        )

    def _find(self, x: float, y: float, px_x: float, px_y: float) -> Found | None:
        """The bar under the pointer: its half second's frames and stage means."""
        if self._bins is None:
            return None
        x0, heights, counts = self._bins
        index = int(np.searchsorted(x0, x, side="right")) - 1
        if index < 0 or x > x0[index] + BIN_S * 0.9 or not counts[index]:
            return None
        top = sum(float(h[index]) for h in heights.values())
        drawn = min(top, float(self.plot.viewRange()[1][1]) / TOP_BAND * MARK_AT)
        if not 0 <= y <= max(drawn, 8 * px_y):
            return None
        start = -x0[index] + BIN_S * 0.05
        title = f"{start:.1f}–{start - BIN_S:.1f} s ago: {counts[index]} frames"
        lines = [(label, format_ms(float(heights[stage][index]))) for stage, label, _ in STAGES]
        lines.append(("all stages", format_ms(top)))
        return float(x0[index] + BIN_S * 0.45), drawn, breakdown_html(title, lines)

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
