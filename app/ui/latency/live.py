"""The Live tab: capture → painted of every camera over the last 30 s, one curve per suite.

The latency scale is robust (`RobustScale`): a start-up spike or a few slow frames do not
flatten the steady line; frames above the scale are drawn at its top edge and marked there.
Hovering a point (or a mark) shows its frame's seq and stage breakdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.protocol.hello import Suite
from app.ui.latency.common import LIVE_WINDOW_S
from app.ui.plots import (
    CAPTURE,
    MARK_AT,
    RX,
    SEQ,
    SETTLE_US,
    SUITE,
    TO_DECRYPTED,
    TO_PAINTED,
    TOP_BAND,
    Found,
    PointHover,
    RobustScale,
    TimelineTrack,
    above_marks,
    breakdown_html,
    connect_mask,
    format_ms,
    make_plot,
    natural_key,
    nearest,
    stage_lines,
    suite_pen,
)

GAP_S = 1.0  # a longer pause in a camera's frames breaks its curve
PAINTED_AXIS = ("capture → painted (ms)", "latency (ms)", "ms")
DECRYPTED_AXIS = ("capture → decrypted (ms)", "latency (ms)", "ms")
MIXED_AXIS = ("latency (ms)", "ms")  # the legend says which cameras show capture → decrypted
TIME_AXIS = ("captured (seconds ago)", "s ago")
FALLBACK_NOTE = " · capture→decrypted"  # after the name of a camera with nothing painted
SCALE_FLOOR_MS = 10.0  # the scale never tops out below this
MAX_MARKS = 500  # at most this many frames marked above the scale (the newest)
NOTE_EVERY_US = 1_000_000  # the note's numbers change at most this often
SKIPPED_NOTE_SHARE = 0.02  # say so when at least this share of a camera's frames went unshown

CurveKey = tuple[str, Suite]  # (device, suite)


@dataclass
class Shown:
    """What a curve draws: x (s ago, sorted), y as drawn (clipped to the marks' line), its
    frames' rows, whether it fell back to capture → decrypted, and the share of its camera's
    frames that were decrypted but never painted (the window drew a newer one first)."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    fallback: bool
    unshown: float = 0.0  # the camera's share of frames decrypted but never painted


class LiveTab(QWidget):
    """One curve per camera and suite, coloured by suite (`curves`, keyed (device, Suite)).

    A camera with nothing painted in the window (headless, hidden tiles) shows capture →
    decrypted instead, and says so in the legend and in `note`. `refresh` redraws from the
    cameras' tracks; the `chosen` camera stands out and the others fade. `scale` is the
    latency scale's state, `marks` the marks of frames above it, `hover` the point tooltip.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        parts = make_plot(PAINTED_AXIS, TIME_AXIS)
        self.view, self.plot, self.legend, self.axis_labels = (
            parts.view,
            parts.plot,
            parts.legend,
            parts.labels,
        )
        self.plot.setXRange(-LIVE_WINDOW_S, 0, padding=0.01)
        self.plot.enableAutoRange(x=False, y=False)
        self.plot.setLimits(yMin=0)
        self.plot.setYRange(0, SCALE_FLOOR_MS * TOP_BAND, padding=0)
        self.scale = RobustScale(SCALE_FLOOR_MS)
        # One item per curve, in its colour: pyqtgraph sets one brush for many points at
        # numpy speed, but a brush per point in Python (12 ms a redraw for 500 marks).
        self.marks: dict[CurveKey, pg.ScatterPlotItem] = {}
        self.hover = PointHover(self.plot, self._find)
        self.view.restyled.connect(self._restyle)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(parts.box, 1)
        layout.addWidget(self.note)
        self.curves: dict[CurveKey, pg.PlotDataItem] = {}
        self.shown: dict[CurveKey, Shown] = {}
        self._colour_slots: dict[CurveKey, int] = {}
        self._looks: dict[CurveKey, str] = {}
        self._legend: list[tuple[str, CurveKey]] = []  # the legend's entries, in order
        self._pens: dict[CurveKey, QPen] = {}
        self._note_shape: tuple[object, ...] | None = None
        self._note_at = 0

    def refresh(self, tracks: Mapping[str, TimelineTrack], now: int, chosen: str | None) -> None:
        """Redraw from `tracks` (device → track) at app time `now` (µs)."""
        wanted = _curves(tracks, now)
        for key in [k for k in self.curves if k not in wanted]:
            self.plot.removeItem(self.curves.pop(key))
            self.plot.removeItem(self.marks.pop(key))
            self._pens.pop(key, None)
            del self._colour_slots[key], self._looks[key]
        values = [shown.y for shown in wanted.values()]
        top = self.scale.update(np.concatenate(values) if values else np.empty(0))
        self.plot.setYRange(0, top * TOP_BAND, padding=0)
        mark_y = top * MARK_AT
        entries: list[tuple[str, QPen]] = []
        self._legend = []
        marks_x: dict[CurveKey, np.ndarray] = {}
        chosen = chosen if any(name == chosen for name, _ in wanted) else None
        # Encrypted curves first, then plain; by camera name within each.
        for key in sorted(wanted, key=lambda k: (k[1] is Suite.PLAIN, natural_key(k[0]))):
            shown = wanted[key]
            name, suite = key
            label = name if suite is Suite.NOISE else f"{name} · {suite.label}"
            label += FALLBACK_NOTE if shown.fallback else ""
            curve = self.curves.get(key)
            if curve is None:
                used = {s for k, s in self._colour_slots.items() if k[1] is suite}
                self._colour_slots[key] = next(i for i in range(len(used) + 1) if i not in used)
                curve = pg.PlotDataItem()
                self.plot.addItem(curve)
                self.curves[key] = curve
                self.marks[key] = above_marks()
                self.marks[key].setBrush(self._pen(key).color())
                self.plot.addItem(self.marks[key], ignoreBounds=True)
            # 1-px lines: Qt draws wider ones (dashed above all) an order of magnitude slower.
            pen = self._pen(key)
            look = "normal" if chosen is None else "selected" if name == chosen else "faded"
            if self._looks.get(key) != look:
                self._looks[key] = look
                curve.setPen(_styled(pen, look))
                curve.setZValue(1 if look == "selected" else 0)
            entries.append((label, pen))
            self._legend.append((label, key))
            above = shown.y > mark_y
            marks_x[key] = shown.x[above]
            if above.any():
                shown.y = np.minimum(shown.y, mark_y)  # the line runs up to the mark
            # Every value is finite (_curves keeps only those): pyqtgraph need not check.
            curve.setData(
                shown.x, shown.y, connect=connect_mask(shown.x, GAP_S), skipFiniteCheck=True
            )
        self.shown = wanted
        self._mark(marks_x, mark_y)
        self.legend.set_entries(entries)
        self._label(tracks, wanted, now)

    def _pen(self, key: CurveKey) -> QPen:
        """The curve's pen, as the legend shows it, in the theme's shade (kept until the
        theme changes or the curve goes: a redraw asks for each one twice)."""
        pen = self._pens.get(key)
        if pen is None:
            pen = self._pens[key] = suite_pen(key[1], self._colour_slots[key], width=1.0)
        return pen

    def _mark(self, xs: Mapping[CurveKey, np.ndarray], y: float) -> None:
        """Frames above the scale: a triangle at its top edge, in their curve's colour; the
        newest MAX_MARKS of them over every curve."""
        oldest = -np.inf
        if sum(len(x) for x in xs.values()) > MAX_MARKS:
            every = np.concatenate(list(xs.values()))
            oldest = np.partition(every, len(every) - MAX_MARKS)[len(every) - MAX_MARKS]
        for key, item in self.marks.items():
            x = xs.get(key, np.empty(0))
            x = x[x >= oldest]
            if len(x) or len(item.data):  # an empty one stays as it is
                item.setData(x=x, y=np.full(len(x), y))

    def _restyle(self) -> None:
        """The theme changed: curves, legend, marks and the hover ring in its shades, now."""
        self.hover.restyle()
        self._pens.clear()
        for key, curve in self.curves.items():
            curve.setPen(_styled(self._pen(key), self._looks.get(key, "normal")))
        self.legend.set_entries([(label, self._pen(key)) for label, key in self._legend])
        for key, item in self.marks.items():
            item.setBrush(self._pen(key).color())

    def marked(self) -> np.ndarray:
        """x (seconds ago) of the frames marked above the scale."""
        xs = [item.getData()[0] for item in self.marks.values()]
        return np.concatenate([x for x in xs if x is not None] or [np.empty(0)])

    def top(self) -> float:
        """The top of the plotted latency range (ms)."""
        return float(self.plot.viewRange()[1][1])

    def _label(
        self, tracks: Mapping[str, TimelineTrack], wanted: Mapping[CurveKey, Shown], now: int
    ) -> None:
        fallbacks = {name for (name, _), shown in wanted.items() if shown.fallback}
        painted = {name for (name, _), shown in wanted.items() if not shown.fallback}
        if fallbacks and not painted:
            self.axis_labels.set("left", *DECRYPTED_AXIS)
        elif fallbacks:
            self.axis_labels.set("left", *MIXED_AXIS)
        else:
            self.axis_labels.set("left", *PAINTED_AXIS)
        if not wanted:
            empty = _empty_note(tracks, now)
            self._set_note(empty, (empty,), now)  # no numbers in it: shown at once
            return
        parts = [
            "Each point is a frame, from capture on the camera to shown in this window. "
            "Point at one for its stages."
        ]
        marked = len(self.marked())
        if marked:
            slowest = max(float(shown.rows[:, _column(shown)].max()) for shown in wanted.values())
            parts.append(
                f"▲ at the top: {marked} slow frame{'s' * (marked != 1)} above the scale "
                f"(the slowest {format_ms(slowest)})."
            )
        skipped = sorted(
            {
                (name, shown.unshown)
                for (name, _), shown in wanted.items()
                if shown.unshown >= SKIPPED_NOTE_SHARE
            },
            key=lambda item: natural_key(item[0]),
        )
        if skipped:
            names = ", ".join(f"{name} {share:.0%}" for name, share in skipped)
            parts.append(
                f"Not drawn: frames the window had no time to show ({names}). "
                "Fewer or smaller camera views, or a lower frame rate, help."
            )
        if fallbacks:
            names = ", ".join(sorted(fallbacks, key=natural_key))
            parts.append(
                f"{names}: not shown in this window (tile hidden), so the line ends when "
                "its frames are decrypted."
            )
        shape = (marked > 0, tuple(name for name, _ in skipped), tuple(sorted(fallbacks)))
        self._set_note(" ".join(parts), shape, now)

    def _set_note(self, text: str, shape: tuple[object, ...], now: int) -> None:
        """Show `text` at once when what the note says changes (`shape`), but its numbers
        at most once a NOTE_EVERY_US: a wrapped label that changes lays the tab out again."""
        if shape != self._note_shape or now - self._note_at >= NOTE_EVERY_US:
            self._note_shape, self._note_at = shape, now
            self.note.setText(text)

    def _find(self, x: float, y: float, px_x: float, px_y: float) -> Found | None:
        """The frame nearest the pointer: its point, and its seq and stages as a tooltip."""
        best: tuple[float, CurveKey, int] | None = None
        for key, shown in self.shown.items():
            hit = nearest(shown.x, shown.y, x, y, px_x, px_y)
            if hit is not None and (best is None or hit[1] < best[0]):
                best = (hit[1], key, hit[0])
        if best is None:
            return None
        _, (name, suite), index = best
        shown = self.shown[(name, suite)]
        row = shown.rows[index]
        column, mark = _column(shown), "decrypted" if shown.fallback else "painted"
        title = f"{name} · frame seq {int(row[SEQ])} · {suite.label}"
        lines = [
            (f"capture → {mark}", format_ms(row[column])),
            ("captured", f"{-shown.x[index]:.1f} s ago"),
            *stage_lines(row),
        ]
        return float(shown.x[index]), float(shown.y[index]), breakdown_html(title, lines)


def _column(shown: Shown) -> int:
    return TO_DECRYPTED if shown.fallback else TO_PAINTED


def _empty_note(tracks: Mapping[str, TimelineTrack], now: int) -> str:
    """What an empty plot means, and what to do about it."""
    since = now - LIVE_WINDOW_S * 1e6
    waiting = sorted(
        (name for name, track in tracks.items() if (track.rows()[:, RX] >= since).any()),
        key=natural_key,
    )
    if waiting:
        return (
            f"Waiting for {', '.join(waiting)} to report {'its' if len(waiting) == 1 else 'their'}"
            " capture times: points appear a few seconds after a camera connects. If none "
            "do, the camera's firmware may be too old to report them."
        )
    if tracks:
        return f"No camera has sent pictures in the last {LIVE_WINDOW_S:.0f} s."
    return "No camera is connected yet. Start the demo or add a camera to see its latency here."


def _curves(tracks: Mapping[str, TimelineTrack], now: int) -> dict[CurveKey, Shown]:
    """The curve of each camera and suite to draw, x sorted."""
    since = now - LIVE_WINDOW_S * 1e6
    wanted: dict[CurveKey, Shown] = {}
    for name in sorted(tracks, key=natural_key):
        rows = tracks[name].rows()
        window = rows[rows[:, CAPTURE] >= since]
        painted = np.isfinite(window[:, TO_PAINTED])
        fallback = not painted.any()
        unshown = 0.0
        if not fallback:  # of its frames old enough to have been painted, those never were
            settled = window[:, RX] < now - SETTLE_US
            unshown = np.count_nonzero(settled & ~painted) / max(np.count_nonzero(settled), 1)
        column = TO_DECRYPTED if fallback else TO_PAINTED
        window = window[np.isfinite(window[:, column])] if fallback else window[painted]
        for suite in Suite:
            part = window[window[:, SUITE] == float(suite)]
            if not len(part):
                continue
            x = (part[:, CAPTURE] - now) / 1e6
            if len(x) > 1 and (np.diff(x) < 0).any():
                order = np.argsort(x, kind="stable")
                x, part = x[order], part[order]
            wanted[(name, suite)] = Shown(x, part[:, column], part, fallback, unshown)
    return wanted


def _styled(pen: QPen, look: str) -> QPen:
    """The pen as shown: the selected camera solid and 2 px wide, the others faded."""
    shown = QPen(pen)
    if look == "selected":  # one curve: a solid 2-px line is still cheap
        shown.setWidthF(2.0)
        shown.setStyle(Qt.PenStyle.SolidLine)
    elif look == "faded":
        colour = shown.color()
        colour.setAlpha(70)
        shown.setColor(colour)
    return shown
