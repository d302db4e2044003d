"""The Live tab: capture → painted of every camera over the last 30 s, one curve per suite."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.protocol.hello import Suite
from app.ui.latency.common import LIVE_WINDOW_S
from app.ui.plots import (
    CAPTURE,
    SUITE,
    TO_DECRYPTED,
    TO_PAINTED,
    TimelineTrack,
    connect_mask,
    make_plot,
    natural_key,
    suite_pen,
)

GAP_S = 1.0  # a longer pause in a camera's frames breaks its curve
PAINTED_AXIS = "capture → painted (ms)"
DECRYPTED_AXIS = "capture → decrypted (ms)"
FALLBACK_NOTE = " · capture→decrypted"  # after the name of a camera with nothing painted

CurveKey = tuple[str, Suite]  # (device, suite)


class LiveTab(QWidget):
    """One curve per camera and suite, coloured by suite (`curves`, keyed (device, Suite)).

    A camera with nothing painted in the window (headless, hidden tiles) shows capture →
    decrypted instead, and says so in the legend and in `note`. `refresh` redraws from the
    cameras' tracks; the `chosen` camera stands out and the others fade.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box, self.plot, self.legend = make_plot(PAINTED_AXIS, "capture time (s ago)")
        self.plot.setXRange(-LIVE_WINDOW_S, 0, padding=0.01)
        self.plot.enableAutoRange(x=False, y=True)
        self.plot.setLimits(yMin=0)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box, 1)
        layout.addWidget(self.note)
        self.curves: dict[CurveKey, pg.PlotDataItem] = {}
        self._colour_slots: dict[CurveKey, int] = {}
        self._looks: dict[CurveKey, str] = {}

    def refresh(self, tracks: Mapping[str, TimelineTrack], now: int, chosen: str | None) -> None:
        """Redraw from `tracks` (device → track) at app time `now` (µs)."""
        wanted = _curves(tracks, now)
        for key in [k for k in self.curves if k not in wanted]:
            self.plot.removeItem(self.curves.pop(key))
            del self._colour_slots[key], self._looks[key]
        entries: list[tuple[str, QPen]] = []
        chosen = chosen if any(name == chosen for name, _ in wanted) else None
        # Encrypted curves first, then plain; by camera name within each.
        for key in sorted(wanted, key=lambda k: (k[1] is Suite.PLAIN, natural_key(k[0]))):
            x, y, fallback = wanted[key]
            name, suite = key
            label = name if suite is Suite.NOISE else f"{name} · {suite.label}"
            label += FALLBACK_NOTE if fallback else ""
            curve = self.curves.get(key)
            if curve is None:
                used = {s for k, s in self._colour_slots.items() if k[1] is suite}
                self._colour_slots[key] = next(i for i in range(len(used) + 1) if i not in used)
                curve = pg.PlotDataItem()
                self.plot.addItem(curve)
                self.curves[key] = curve
            # 1-px lines: Qt draws wider ones (dashed above all) an order of magnitude slower.
            pen = suite_pen(suite, self._colour_slots[key], width=1.0)
            look = "normal" if chosen is None else "selected" if name == chosen else "faded"
            if self._looks.get(key) != look:
                self._looks[key] = look
                curve.setPen(_styled(pen, look))
                curve.setZValue(1 if look == "selected" else 0)
            entries.append((label, pen))
            curve.setData(x, y, connect=connect_mask(x, GAP_S))
        self.legend.set_entries(entries)
        self._label(wanted)

    def _label(self, wanted: Mapping[CurveKey, tuple[np.ndarray, np.ndarray, bool]]) -> None:
        fallbacks = {name for (name, _), (_, _, fb) in wanted.items() if fb}
        painted = {name for (name, _), (_, _, fb) in wanted.items() if not fb}
        if fallbacks and not painted:
            axis = DECRYPTED_AXIS
        elif fallbacks:
            axis = "latency (ms)"  # the legend says which cameras show capture → decrypted
        else:
            axis = PAINTED_AXIS
        self.plot.setLabel("left", axis, color="#212121")
        if not wanted:
            note = f"No frames with a known clock offset in the last {LIVE_WINDOW_S:.0f} s."
        else:
            note = "Frames replaced before they were painted are skipped."
            if fallbacks:
                note += (
                    f" Nothing painted for {', '.join(sorted(fallbacks, key=natural_key))}: "
                    "showing capture → decrypted instead."
                )
        self.note.setText(note)


def _curves(
    tracks: Mapping[str, TimelineTrack], now: int
) -> dict[CurveKey, tuple[np.ndarray, np.ndarray, bool]]:
    """(x in seconds ago, y in ms, fell back to decrypted) of each camera and suite to draw."""
    since = now - LIVE_WINDOW_S * 1e6
    wanted: dict[CurveKey, tuple[np.ndarray, np.ndarray, bool]] = {}
    for name in sorted(tracks, key=natural_key):
        rows = tracks[name].rows()
        window = rows[rows[:, CAPTURE] >= since]
        fallback = not np.isfinite(window[:, TO_PAINTED]).any()
        column = TO_DECRYPTED if fallback else TO_PAINTED
        window = window[np.isfinite(window[:, column])]
        for suite in Suite:
            part = window[window[:, SUITE] == float(suite)]
            if not len(part):
                continue
            x = (part[:, CAPTURE] - now) / 1e6
            y = part[:, column]
            if len(x) > 1 and (np.diff(x) < 0).any():
                order = np.argsort(x, kind="stable")
                x, y = x[order], y[order]
            wanted[(name, suite)] = (x, y, fallback)
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
