"""Plot helpers: suite colours, and numpy copies of frame-timeline rings that are cheap to redraw.

A `TimelineTrack` follows one `DeviceStats` ring incrementally: each `sync` converts only the
frames added since the previous one, plus the few recent frames whose later stamps (decoded,
painted, clock offset) may still arrive. So a redraw costs numpy work on at most `RING_SIZE`
rows per camera and Python work on a handful of frames, however full the rings are.
The figures in a row come from `FrameTimeline` (the one home of the latency arithmetic).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QEvent, QObject, QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QToolTip,
    QWidget,
)

from app.protocol.hello import Suite
from app.protocol.timeline import FrameTimeline, Stage
from app.receiver.stats import RING_SIZE, DeviceStats
from app.ui.theme import Meaning, colour, is_dark

# A colour drawn on the plots: a (light theme, dark theme) pair of shades, or a Meaning, whose
# pair is theme.py's. Each shade stands out from its theme's plot background (at least
# GRAPHIC_CONTRAST, tests/ui/latency/test_theme.py checks it); `shade` picks the one in force.
Shade = tuple[str, str] | Meaning
GRAPHIC_CONTRAST = 3.0  # WCAG 2.1 1.4.11: lines, bars and marks against what is next to them

# Encrypted curves in a blue/green family, plain ones in a red/orange family; the first plain
# one in the theme's 'bad' colour (plain frames are insecure).
ENCRYPTED_SHADES: tuple[Shade, ...] = (
    ("#1565c0", "#64b5f6"),  # blue
    Meaning.GOOD,  # green
    ("#00838f", "#4dd0e1"),  # teal
    ("#3949ab", "#9fa8da"),  # indigo
    ("#558b2f", "#aed581"),  # olive
    ("#0277bd", "#81d4fa"),  # light blue
)
PLAIN_SHADES: tuple[Shade, ...] = (
    Meaning.BAD,  # red
    ("#d84315", "#ff8a65"),  # deep orange
    ("#ad1457", "#f48fb1"),  # pink
    ("#8d4f00", "#ffcc80"),  # brown / light orange
    ("#880e4f", "#f06292"),  # wine
    ("#7f0000", "#ff8a80"),  # dark red / salmon
)
PEN_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine)

# (stage, label, shade) of the stages, in pipeline order.
STAGES: tuple[tuple[Stage, str, Shade], ...] = (
    (Stage.DEVICE, "device (capture→send)", ("#607d8b", "#90a4ae")),
    (Stage.NETWORK, "network (send→last byte)", ("#7e57c2", "#b39ddb")),
    (Stage.DECRYPT, "decrypt (last byte→decrypted)", ("#00897b", "#4db6ac")),
    (Stage.DECODE, "decode (decrypted→decoded)", ("#9e7700", "#fdd835")),
    (Stage.PAINT, "paint (decoded→painted)", ("#d81b60", "#ff80ab")),
)


def shade(spec: Shade) -> QColor:
    """`spec`'s colour for the theme in force now."""
    if isinstance(spec, Meaning):
        return colour(spec)
    light, dark = spec
    return QColor(dark if is_dark() else light)


def suite_colours(suite: Suite) -> list[QColor]:
    """The colours of a suite's curves, in the order they are handed out, for the theme now."""
    return [shade(s) for s in (PLAIN_SHADES if suite is Suite.PLAIN else ENCRYPTED_SHADES)]


@dataclass(frozen=True)
class PlotColours:
    """The plots' own colours, from the application palette: the background is the theme's
    list background (white, or nearly black), text is its text colour, axis lines between."""

    background: QColor
    text: QColor
    axis: QColor
    grid_alpha: float

    @classmethod
    def now(cls) -> PlotColours:
        palette = QApplication.palette()
        background = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        axis = _blend(text, background, 0.75)
        return cls(background, text, axis, 0.22 if is_dark() else 0.15)

    def key(self) -> tuple[str, str]:
        return self.background.name(), self.text.name()


def _blend(a: QColor, b: QColor, share_of_a: float) -> QColor:
    def mix(x: float, y: float) -> float:
        return share_of_a * x + (1 - share_of_a) * y

    return QColor.fromRgbF(
        mix(a.redF(), b.redF()), mix(a.greenF(), b.greenF()), mix(a.blueF(), b.blueF())
    )


# Columns of a track's rows (float64; NaN where not known): capture and last-byte times (µs,
# app clock), the suite's value, each stage's duration (ms), capture → decrypted and → painted,
# and the frame's sequence number.
CAPTURE, RX, SUITE, DEVICE, NETWORK, DECRYPT, DECODE, PAINT, TO_DECRYPTED, TO_PAINTED, SEQ = range(
    11
)
COLUMNS = 11
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
    """The `index`-th pen of a suite's family, in the theme's shade; the dash style changes
    once colours run out."""
    colours = suite_colours(suite)
    pen = QPen(colours[index % len(colours)])
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
        float(t.seq),
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
        self._key: list[tuple[str, str, int]] = []
        self._colours: tuple[str, str] | None = None
        self.restyle(PlotColours.now())

    def restyle(self, colours: PlotColours) -> None:
        """The plot's background and text colours, and a frame in its axes' colour."""
        if colours.key() == self._colours:
            return
        self._colours = colours.key()
        self.setStyleSheet(
            f"QListWidget {{ background: {colours.background.name()}; "
            f"color: {colours.text.name()}; border: 1px solid {colours.axis.name()}; }}"
        )

    def set_entries(self, entries: Sequence[tuple[str, QPen | QColor]]) -> None:
        """Show exactly these entries, in order; a no-op when nothing changed (colours too)."""
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


class AxisLabels:
    """Each axis of a plot shows the longest of its labels that fits along it; never a cut one.

    `set(name, full, *shorter)` gives an axis ("left", "bottom") its labels, longest first; the
    full one is also the axis' tooltip. They are refitted whenever the axis changes size.
    """

    def __init__(self, plot: pg.PlotItem) -> None:
        self._plot = plot
        self._labels: dict[str, tuple[str, ...]] = {}
        self.colour = PlotColours.now().text.name()
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.geometryChanged.connect(lambda name=name: self._fit(name))

    def set(self, name: str, full: str, *shorter: str) -> None:
        labels = (full, *shorter)
        if self._labels.get(name) == labels:
            return
        self._labels[name] = labels
        self._plot.getAxis(name).setToolTip(full)
        self._fit(name)

    def restyle(self, colour: QColor) -> None:
        """Draw the labels in `colour` (the theme's text colour) from now on."""
        if colour.name() == self.colour:
            return
        self.colour = colour.name()
        for name in self._labels:
            self._fit(name, force=True)

    def full(self, name: str) -> str:
        """The axis' longest label (what it shows when there is room)."""
        return self._labels[name][0]

    def shown(self, name: str) -> str:
        return str(self._plot.getAxis(name).labelText)

    def room(self, name: str) -> float:
        """The length along the axis a label may take, in pixels."""
        axis = self._plot.getAxis(name)
        size = axis.size()
        return float(size.height() if name in ("left", "right") else size.width())

    def _fit(self, name: str, force: bool = False) -> None:
        labels = self._labels.get(name)
        if not labels or not shiboken6.isValid(self._plot):
            return  # nothing to fit, or Qt is tearing the plot down
        axis = self._plot.getAxis(name)
        if not shiboken6.isValid(axis) or not shiboken6.isValid(axis.label):
            return
        metrics = QFontMetricsF(axis.label.font())
        room = self.room(name) - LABEL_MARGIN
        text = next((t for t in labels if metrics.horizontalAdvance(t) <= room), labels[-1])
        if force or axis.labelText != text:
            self._plot.setLabel(name, text, color=self.colour)


# Room kept around an axis label: the text item's own document margins (4 px a side) and a bit.
LABEL_MARGIN = 12


class PlotView(pg.PlotWidget):
    """A plot in the theme's colours (`PlotColours`): background, axes, tick labels, grid.

    It restyles itself whenever the application's palette changes (View > Theme, or the
    system's scheme) and then emits `restyled`, for its owner to recolour what it drew.
    """

    restyled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.colours = PlotColours.now()
        self.legend_list: LegendList | None = None
        self.axis_labels: AxisLabels | None = None
        self._styled: tuple[str, str] | None = None
        self.restyle()
        self.restyle_ready = True

    def restyle(self) -> None:
        """Take the colours of the theme in force now (a no-op when they did not change)."""
        colours = PlotColours.now()
        if colours.key() == self._styled:
            return
        self._styled = colours.key()
        self.colours = colours
        self.setBackground(colours.background)
        plot = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(colours.axis))
            axis.setTextPen(pg.mkPen(colours.text))
            axis.setGrid(int(255 * colours.grid_alpha))
        if self.legend_list is not None:
            self.legend_list.restyle(colours)
        if self.axis_labels is not None:
            self.axis_labels.restyle(colours.text)
        self.restyled.emit()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # (Qt sends one while the base class is built, before there is anything to restyle.)
        if event.type() == QEvent.Type.PaletteChange and "restyle_ready" in self.__dict__:
            self.restyle()


@dataclass
class Plot:
    """A plot and its parts (see `make_plot`)."""

    box: QWidget  # the plot and its legend list, to put in a layout
    view: PlotView
    plot: pg.PlotItem
    legend: LegendList
    labels: AxisLabels


def make_plot(left: Sequence[str], bottom: Sequence[str]) -> Plot:
    """A plot in the theme's colours, following it (`PlotView`), and a legend list to its
    right (hidden until filled). Connect `view.restyled` to recolour what is drawn on it.

    `left` and `bottom` are each axis' labels, longest first (see `AxisLabels`).
    """
    view = PlotView()
    plot = view.getPlotItem()
    labels = AxisLabels(plot)
    labels.set("left", *left)
    labels.set("bottom", *bottom)
    plot.showGrid(x=True, y=True, alpha=view.colours.grid_alpha)
    for name in ("left", "bottom"):
        # Grid lines at the labelled ticks and the next level only: pyqtgraph's third level
        # adds lines hardly seen that cost about a millisecond a paint.
        plot.getAxis(name).setStyle(maxTickLevel=1)
    plot.setMenuEnabled(False)
    legend = LegendList()
    legend.hide()
    view.legend_list, view.axis_labels = legend, labels
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(view, 1)
    layout.addWidget(legend)
    return Plot(box, view, plot, legend, labels)


class LegendRow(QLabel):
    """A legend above or below a plot, off its data: a line sample and a label per entry, the
    entries wrapping onto more lines (never inside one) when the row is narrow."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self._labels: list[str] = []

    def set_entries(self, entries: Sequence[tuple[str, QPen]]) -> None:
        self._labels = [label for label, _ in entries]
        parts = []
        for label, pen in entries:
            sample = "━ ━" if pen.style() != Qt.PenStyle.SolidLine else "━━━"
            words = html.escape(label).replace(" ", "&nbsp;")
            parts.append(f'<span style="color: {pen.color().name()};">{sample}</span>&nbsp;{words}')
        self.setText(" &nbsp; &nbsp; ".join(parts))

    def labels(self) -> list[str]:
        return list(self._labels)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7 or 8 × 10^k at or above `value` (> 0)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in NICE_STEPS:
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0)
HEADROOM = 1.15  # the scale's top over the p99 of the frames it is made for


def robust_top(values: np.ndarray, floor: float = 1.0) -> float:
    """The top of a latency scale that a start-up spike or a few stragglers cannot stretch.

    Frames beyond Tukey's far fence (Q3 + 3 × IQR, and at least 1.5 × Q3) are outliers;
    the top is a nice number at or above HEADROOM × the p99 of the others (at least `floor`).
    Up to a quarter of the values can be outliers without moving it.
    """
    finite = values[np.isfinite(values)]
    if not len(finite):
        return nice_ceiling(floor)
    q1, q3 = np.percentile(finite, (25, 75))
    fence = max(q3 + 3 * (q3 - q1), 1.5 * q3)
    p99 = float(np.percentile(finite[finite <= fence], 99))
    return nice_ceiling(max(p99 * HEADROOM, floor))


class RobustScale:
    """`robust_top` with hysteresis, for a plot redrawn 10 times a second: the top grows at
    once and shrinks only when the new one is under SHRINK × the current, so it does not hop
    between two neighbouring nice numbers."""

    SHRINK = 0.7

    def __init__(self, floor: float = 1.0) -> None:
        self.floor = floor
        self.top: float | None = None

    def update(self, values: np.ndarray, at_least: float = 0.0) -> float:
        """The top for `values`; with `at_least`, high enough to show that value whole (for
        values that must never be marked as outliers, e.g. the newest)."""
        wanted = robust_top(values, self.floor)
        if at_least * MARK_AT > wanted:
            wanted = nice_ceiling(at_least * MARK_AT)
        if self.top is None or wanted > self.top or wanted < self.SHRINK * self.top:
            self.top = wanted
        return self.top


TOP_BAND = 1.06  # a robust plot's view top over its scale's: room for the marks above it
MARK_AT = 1.03  # where the marks of values above the scale sit (× the scale's top)


def above_marks() -> pg.ScatterPlotItem:
    """Triangles at a plot's top edge for values above its robust scale (set their data)."""
    marks = pg.ScatterPlotItem(size=9, symbol="t1", pen=pg.mkPen(None))
    marks.setZValue(5)
    return marks


HOVER_RADIUS_PX = 10  # a point this close to the mouse pointer is the one hovered


Found = tuple[float, float, str]  # (x, y) of the hovered point in view coordinates, its text


class PointHover(QObject):
    """A tooltip for the plot's point nearest the mouse pointer, and a ring around it.

    `find(x, y, px_x, px_y)` gets the pointer in view coordinates and the size of a pixel in
    each, and returns the nearest point within HOVER_RADIUS_PX as (x, y, text), or None.
    Mouse moves are rate-limited; `text` is what is shown now ("" for nothing).
    """

    def __init__(
        self, plot: pg.PlotItem, find: Callable[[float, float, float, float], Found | None]
    ) -> None:
        super().__init__()
        self._plot = plot
        self._find = find
        self.text = ""
        self.ring = pg.ScatterPlotItem(size=14, symbol="o", pen=self._ring_pen(), brush=None)
        self.ring.setZValue(10)
        plot.addItem(self.ring, ignoreBounds=True)
        self._proxy = pg.SignalProxy(
            plot.scene().sigMouseMoved, delay=0.05, rateLimit=30, slot=self._moved
        )

    @staticmethod
    def _ring_pen() -> QPen:
        return pg.mkPen(PlotColours.now().text, width=1.5)

    def restyle(self) -> None:
        """The ring in the theme's text colour."""
        self.ring.setPen(self._ring_pen())

    def _moved(self, args: tuple[QPointF]) -> None:
        self.show_at(args[0])

    def show_at(self, scene_pos: QPointF) -> None:
        """Show the point nearest `scene_pos` (scene coordinates), or nothing."""
        vb = self._plot.getViewBox()
        found = None
        if vb.sceneBoundingRect().contains(scene_pos):
            point = vb.mapSceneToView(scene_pos)
            px_x, px_y = vb.viewPixelSize()
            found = self._find(point.x(), point.y(), px_x, px_y)
        if found is None:
            self.hide()
            return
        x, y, text = found
        self.ring.setData([x], [y])
        self.text = text
        views = self._plot.scene().views()
        if views:
            view = views[0]
            where = view.mapToGlobal(view.mapFromScene(scene_pos))
            QToolTip.showText(where, text, view)

    def hide(self) -> None:
        if self.text:
            self.text = ""
            self.ring.setData([], [])
            QToolTip.hideText()


def nearest(
    x: np.ndarray, y: np.ndarray, at_x: float, at_y: float, px_x: float, px_y: float
) -> tuple[int, float] | None:
    """Index of the point of (x, y) (x sorted) nearest (at_x, at_y) within HOVER_RADIUS_PX,
    and its squared distance in pixels; None if there is none that close."""
    if not len(x) or px_x <= 0 or px_y <= 0:
        return None
    reach = HOVER_RADIUS_PX * px_x
    lo, hi = np.searchsorted(x, (at_x - reach, at_x + reach))
    if lo >= hi:
        return None
    d2 = ((x[lo:hi] - at_x) / px_x) ** 2 + ((y[lo:hi] - at_y) / px_y) ** 2
    best = int(np.argmin(d2))
    if d2[best] > HOVER_RADIUS_PX**2:
        return None
    return lo + best, float(d2[best])


def breakdown_html(title: str, lines: Sequence[tuple[str, str]]) -> str:
    """A tooltip: a bold title, then a table of (name, value) lines."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td align='right'>&nbsp;{html.escape(value)}</td></tr>"
        for name, value in lines
    )
    return f"<b>{html.escape(title)}</b><table cellspacing='0'>{rows}</table>"


def stage_lines(row: np.ndarray) -> list[tuple[str, str]]:
    """(stage label, its duration) of a track row, in pipeline order."""
    return [(label, format_ms(row[STAGE_COLUMNS[stage]])) for stage, label, _ in STAGES]
