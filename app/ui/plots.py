"""Plot helpers: suite colours, and numpy copies of frame-timeline rings that are cheap to redraw.

A `TimelineTrack` follows one `DeviceStats` ring incrementally: each `sync` converts only the
frames added since the previous one, plus the few recent frames whose later stamps (decoded,
painted, clock offset) may still arrive. So a redraw costs numpy work on at most `RING_SIZE`
rows per camera and Python work on a handful of frames, however full the rings are.
The figures in a row come from `FrameTimeline` (the one home of the latency arithmetic).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from itertools import islice

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from app.protocol.hello import Suite
from app.protocol.timeline import FrameTimeline, Stage
from app.receiver.stats import RING_SIZE, DeviceStats

# Encrypted curves in a blue/green family, plain ones in an orange/red family.
ENCRYPTED_COLOURS = ("#1565c0", "#2e7d32", "#00838f", "#42a5f5", "#7cb342", "#1a237e")
PLAIN_COLOURS = ("#e65100", "#c62828", "#ffa000", "#ad1457", "#ff7043", "#7f0000")
PEN_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine)

# (stage, label, colour) of the stages, in pipeline order.
STAGES = (
    (Stage.DEVICE, "device (capture→send)", "#78909c"),
    (Stage.NETWORK, "network (send→last byte)", "#7e57c2"),
    (Stage.DECRYPT, "decrypt (last byte→decrypted)", "#26a69a"),
    (Stage.DECODE, "decode (decrypted→decoded)", "#fbc02d"),
    (Stage.PAINT, "paint (decoded→painted)", "#ec407a"),
)

# Columns of a track's rows (float64; NaN where not known): capture and last-byte times (µs,
# app clock), the suite's value, each stage's duration (ms), capture → decrypted and → painted.
CAPTURE, RX, SUITE, DEVICE, NETWORK, DECRYPT, DECODE, PAINT, TO_DECRYPTED, TO_PAINTED = range(10)
COLUMNS = 10
STAGE_COLUMNS = dict(zip(Stage, (DEVICE, NETWORK, DECRYPT, DECODE, PAINT), strict=True))

SETTLE_US = 2_000_000  # a frame not painted this long after decryption never will be
OFFSET_WAIT_US = 10_000_000  # how long a frame may wait for the session's first clock offset


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting 'cam-2' before 'cam-10'."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", name)
        if part
    )


def suite_pen(suite: Suite, index: int, width: float = 2.0) -> QPen:
    """The `index`-th pen of a suite's family; the dash style changes once colours run out."""
    colours = PLAIN_COLOURS if suite is Suite.PLAIN else ENCRYPTED_COLOURS
    pen = QPen(QColor(colours[index % len(colours)]))
    pen.setWidthF(width)
    pen.setCosmetic(True)
    pen.setStyle(PEN_STYLES[(index // len(colours)) % len(PEN_STYLES)])
    return pen


def _row(t: FrameTimeline) -> tuple[float | None, ...]:
    return (
        t.capture_us,
        t.last_rx_us,
        float(t.suite),
        t.device_ms,
        t.network_ms,
        t.decrypt_ms,
        t.decode_ms,
        t.paint_ms,
        t.to_decrypted_ms,
        t.to_painted_ms,
    )


def timeline_rows(timelines: Iterable[FrameTimeline]) -> np.ndarray:
    """An (n, COLUMNS) float array of the timelines: times in µs, durations in ms, NaN unknown."""
    rows = [_row(t) for t in timelines]
    if not rows:
        return np.empty((0, COLUMNS))
    return np.array(rows, dtype=float)


class TimelineTrack:
    """An incremental numpy copy of one device's timeline ring (at most `keep` rows).

    Frames still waiting for a paint stamp (or a clock offset) stay pending and are re-read on
    each sync until they settle; `rows()` returns settled and pending rows together.
    """

    def __init__(self, keep: int = RING_SIZE, settle_us: int = SETTLE_US) -> None:
        self.keep = keep
        self.settle_us = settle_us
        self._stats: DeviceStats | None = None
        self._synced = 0
        self._settled = np.empty((0, COLUMNS))
        self._pending: list[FrameTimeline] = []
        self._rows: np.ndarray | None = None

    def sync(self, stats: DeviceStats, now_us: int) -> None:
        """Take in the frames `stats` received since the last sync; O(new + pending) Python."""
        if stats is not self._stats or stats.frames_received < self._synced:
            self._stats, self._synced = stats, 0
            self._settled = np.empty((0, COLUMNS))
            self._pending = []
        new = min(stats.frames_received - self._synced, len(stats.timelines))
        self._synced = stats.frames_received
        fresh = list(islice(reversed(stats.timelines), new))
        fresh.reverse()
        candidates = self._pending + fresh
        if len(candidates) > self.keep:
            candidates = candidates[-self.keep :]
        settled: list[FrameTimeline] = []
        pending: list[FrameTimeline] = []
        for t in candidates:
            (settled if self._settles(t, now_us) else pending).append(t)
        self._pending = pending
        if settled:
            block = np.concatenate((self._settled, timeline_rows(settled)))
            self._settled = block[-self.keep :]
        self._rows = None

    def _settles(self, t: FrameTimeline, now_us: int) -> bool:
        age = now_us - t.decrypted_us
        if t.clock_offset_us is None:
            return age > OFFSET_WAIT_US
        return t.painted_us is not None or age > self.settle_us

    def rows(self) -> np.ndarray:
        """Settled and pending rows, oldest first by arrival (capture order may differ)."""
        if self._rows is None:
            if self._pending:
                self._rows = np.concatenate((self._settled, timeline_rows(self._pending)))
            else:
                self._rows = self._settled
        return self._rows


def connect_mask(x: np.ndarray, gap: float) -> np.ndarray:
    """pyqtgraph `connect` array: join neighbours closer than `gap`, break the line elsewhere."""
    mask = np.zeros(len(x), dtype=bool)
    if len(x) > 1:
        mask[:-1] = np.diff(x) <= gap
    return mask


def cdf(values: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and their cumulative fraction (1/n .. 1)."""
    x = np.sort(np.fromiter(values, dtype=float))
    return x, np.arange(1, len(x) + 1) / max(len(x), 1)


def binned_means(keys: np.ndarray, values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the finite `values` per integer key in [0, bins), and how many there were."""
    ok = np.isfinite(values) & (keys >= 0) & (keys < bins)
    counts = np.bincount(keys[ok], minlength=bins)
    sums = np.bincount(keys[ok], weights=values[ok], minlength=bins)
    means = np.divide(sums, counts, out=np.zeros(bins), where=counts > 0)
    return means, counts


def finite_mean(values: np.ndarray) -> tuple[float | None, int]:
    """Mean of the finite values (None if there are none) and their count."""
    ok = values[np.isfinite(values)]
    return (float(ok.mean()) if len(ok) else None), len(ok)


def format_ms(value: float | int | None) -> str:
    """'12.3 ms', or an em dash when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.1f} ms"


class LegendList(QListWidget):
    """A legend beside a plot (scrolls when there are many cameras): a sample, then a label.

    A sample is a line for a QPen and a filled box for a QColor.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setIconSize(QSize(26, 12))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setStyleSheet(
            "QListWidget { background: white; color: #212121; border: 1px solid #e0e0e0; }"
        )
        self._key: list[tuple[str, str, int]] = []

    def set_entries(self, entries: Sequence[tuple[str, QPen | QColor]]) -> None:
        """Show exactly these entries, in order; a no-op when nothing changed."""
        key = [
            (label, s.color().name() if isinstance(s, QPen) else s.name(), _style(s))
            for label, s in entries
        ]
        if key == self._key:
            return
        self._key = key
        self.setVisible(bool(entries))
        self.clear()
        for label, sample in entries:
            self.addItem(QListWidgetItem(QIcon(_sample(sample, self.iconSize())), label))
        scroll = self.verticalScrollBar().sizeHint().width()
        width = self.sizeHintForColumn(0) + 2 * self.frameWidth() + scroll + 4
        self.setFixedWidth(max(100, min(width, 300)))

    def labels(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]


def _style(sample: QPen | QColor) -> int:
    return sample.style().value if isinstance(sample, QPen) else -1


def swatch(colour: QColor, side: int = 12) -> QIcon:
    """A filled square of `colour`, e.g. for a table header standing in for a legend."""
    return QIcon(_sample(colour, QSize(side, side)))


def _sample(sample: QPen | QColor, size: QSize) -> QPixmap:
    pixmap = QPixmap(size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if isinstance(sample, QPen):
        pen = QPen(sample)
        pen.setWidthF(2.5)
        painter.setPen(pen)
        painter.drawLine(1, size.height() // 2, size.width() - 1, size.height() // 2)
    else:
        painter.fillRect(2, 1, size.width() - 4, size.height() - 2, sample)
    painter.end()
    return pixmap


def make_plot(left: str, bottom: str) -> tuple[QWidget, pg.PlotItem, LegendList]:
    """A white plot with dark axes, and a legend list to its right (hidden until filled)."""
    view = pg.PlotWidget()
    view.setBackground("w")
    plot = view.getPlotItem()
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen("#424242"))
        axis.setTextPen(pg.mkPen("#212121"))
    plot.setLabel("left", left, color="#212121")
    plot.setLabel("bottom", bottom, color="#212121")
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)
    legend = LegendList()
    legend.hide()
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(view, 1)
    layout.addWidget(legend)
    return box, plot, legend
