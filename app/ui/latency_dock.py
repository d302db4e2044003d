"""The latency dock: live per-camera latency, the stage breakdown, plain-vs-encrypted runs, export.

It reads the receiver's timeline rings through `ReceiverService.all_stats()` and drives
comparison runs through `ComparisonService`; it never touches sockets. Redraws happen on a
~10 Hz timer (only while the dock is visible) from incremental numpy copies of the rings
(`TimelineTrack`), never once per frame.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.protocol.session import monotonic_us
from app.protocol.timeline import FrameTimeline
from app.services.comparison import ComparisonError, ComparisonResult, ComparisonService
from app.services.receiver_service import ReceiverService
from app.ui.plots import (
    CAPTURE,
    COLUMNS,
    PLAIN,
    RX,
    STAGE_COLUMNS,
    STAGES,
    TO_DECRYPTED,
    TO_PAINTED,
    TimelineTrack,
    binned_means,
    cdf,
    connect_mask,
    finite_mean,
    format_ms,
    make_plot,
    natural_key,
    stage_durations_ms,
    suite_pen,
    swatch,
)

REFRESH_MS = 100  # ~10 Hz
LIVE_WINDOW_S = 30.0
STAGE_WINDOW_S = 2.0  # the table's average
BIN_S = 0.5  # the rolling stacked bars
GAP_S = 1.0  # a longer pause in a camera's frames breaks its curve
DEFAULT_FRAMES = 200
MIN_FRAMES = 8
MAX_FRAMES = 5000

INSECURE_TEXT = (
    "⚠ Plain runs send frames unencrypted and unauthenticated: anyone on the network can "
    "watch or alter them. The plain suite exists only to measure what encryption costs."
)
COMPARISON_STAGES = (
    ("painted", "capture → painted"),
    ("decoded", "capture → decoded"),
    ("decrypted", "capture → decrypted"),
)
SUMMARY_ROWS = ("p50", "p95", "p99", "mean")

CSV_COLUMNS = (
    "device",
    "suite",
    "seq",
    "size",
    "clock_offset_us",
    "device_capture_us",  # device clock
    "device_send_us",  # device clock
    "capture_us",  # the rest on the app clock
    "sent_us",
    "first_rx_us",
    "last_rx_us",
    "decrypted_us",
    "decoded_us",
    "painted_us",
    *(f"{key}_ms" for key, _, _ in STAGES),
    "capture_to_decrypted_ms",
    "capture_to_painted_ms",
)


def connected_devices(receiver: ReceiverService) -> list[str]:
    """Names of the devices with a live session, sorted."""
    return sorted((n for n, s in receiver.all_stats().items() if s.connected), key=natural_key)


def csv_row(t: FrameTimeline) -> list[str]:
    """One CSV row (CSV_COLUMNS order): integers in µs, durations in ms, '' where unknown."""

    def text(value: float | int | None) -> str:
        if value is None:
            return ""
        return str(value) if isinstance(value, int) else f"{value:.3f}"

    stages = stage_durations_ms(t)
    return [
        t.device,
        t.suite,
        str(t.seq),
        str(t.size),
        *(
            text(v)
            for v in (
                t.clock_offset_us,
                t.device_capture_us,
                t.device_send_us,
                t.capture_us,
                t.sent_us,
                t.first_rx_us,
                t.last_rx_us,
                t.decrypted_us,
                t.decoded_us,
                t.painted_us,
            )
        ),
        *(text(stages[key]) for key, _, _ in STAGES),
        text(t.latency_ms(t.decrypted_us)),
        text(t.latency_ms(t.painted_us)),
    ]


def _item(text: str, value: float | int | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    item.setData(Qt.ItemDataRole.UserRole, value)
    return item


def _table(rows: list[str], columns: list[str]) -> QTableWidget:
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


class ComparisonDialog(QDialog):
    """Pick a camera and a frame count; accepting means 'start the run'."""

    def __init__(self, candidates: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run comparison")
        self.device_combo = QComboBox()
        self.device_combo.addItems(candidates)
        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(MIN_FRAMES, MAX_FRAMES)
        self.frames_spin.setValue(DEFAULT_FRAMES)
        self.frames_spin.setSuffix(" frames")
        intro = QLabel(
            "The camera alternates plain and encrypted sessions in blocks until each suite "
            "has delivered the frames asked for, then goes back to encrypted."
        )
        intro.setWordWrap(True)
        warning = QLabel(INSECURE_TEXT)
        warning.setWordWrap(True)
        warning.setStyleSheet("color: #c62828;")
        form = QFormLayout()
        form.addRow("Camera", self.device_combo)
        form.addRow("Per suite", self.frames_spin)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Run")
        ok.setEnabled(bool(candidates))
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        if not candidates:
            none = QLabel(
                "No camera can run a comparison now: it must be connected and allowed to "
                "switch to plain (demo cameras are)."
            )
            none.setWordWrap(True)
            layout.addWidget(none)
        layout.addLayout(form)
        layout.addWidget(warning)
        layout.addWidget(self.buttons)

    def device(self) -> str:
        return self.device_combo.currentText()

    def frames(self) -> int:
        return self.frames_spin.value()


class LatencyDock(QDockWidget):
    """Latency plots and comparison runs over the receiver's frame timelines.

    `refresh()` redraws once (a ~10 Hz timer calls it while the dock is visible); `stop()`
    stops that timer. `select_device(name)` picks the Stages camera (None: the first camera
    with data). `export_csv` / `export_png` write files without asking; the `*_dialog` slots
    ask for a path first. `candidates()` lists the devices a comparison may run on (default:
    the connected ones). `clock` is the app clock the timelines use (µs).
    """

    def __init__(
        self,
        receiver: ReceiverService,
        comparison: ComparisonService,
        parent: QWidget | None = None,
        *,
        candidates: Callable[[], list[str]] | None = None,
        clock: Callable[[], int] = monotonic_us,
    ) -> None:
        super().__init__("Latency", parent)
        self.setObjectName("latency")
        self._receiver = receiver
        self._comparison = comparison
        self._candidates = candidates or (lambda: connected_devices(receiver))
        self._clock = clock
        self._tracks: dict[str, TimelineTrack] = {}
        self._chosen: str | None = None
        self._dialog: ComparisonDialog | None = None
        self.result: ComparisonResult | None = comparison.last
        self.live_curves: dict[tuple[str, bool], pg.PlotDataItem] = {}
        self._colour_slots: dict[tuple[str, bool], int] = {}
        self._curve_looks: dict[tuple[str, bool], str] = {}
        self.stage_summary: dict[str, tuple[float | None, int]] = {}

        self.tabs = QTabWidget()
        self.live_page = self._build_live()
        self.stages_page = self._build_stages()
        self.comparison_page = self._build_comparison()
        self.tabs.addTab(self.live_page, "Live")
        self.tabs.addTab(self.stages_page, "Stages")
        self.tabs.addTab(self.comparison_page, "Comparison")

        self.export_label = QLabel()
        self.export_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        csv_button = QPushButton("Export CSV…")
        csv_button.clicked.connect(self.export_csv_dialog)
        png_button = QPushButton("Export PNG…")
        png_button.clicked.connect(self.export_png_dialog)
        bottom = QHBoxLayout()
        bottom.addWidget(self.export_label, 1)
        bottom.addWidget(csv_button)
        bottom.addWidget(png_button)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        self.setWidget(body)

        comparison.progress.connect(self._on_progress)
        comparison.finished.connect(self._on_finished)
        self._fill_comparison()
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    # -- building ----------------------------------------------------------------------------

    def _build_live(self) -> QWidget:
        widget, self.live_plot, self.live_legend = make_plot(
            "capture → painted (ms)", "capture time (s ago)"
        )
        self.live_widget = widget
        self.live_plot.setXRange(-LIVE_WINDOW_S, 0, padding=0.01)
        self.live_plot.enableAutoRange(x=False, y=True)
        self.live_plot.setLimits(yMin=0)
        self.live_note = QLabel()
        self.live_note.setWordWrap(True)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widget, 1)
        layout.addWidget(self.live_note)
        return page

    def _build_stages(self) -> QWidget:
        widget, self.stage_plot, _ = make_plot(
            "ms", f"arrival time (s ago); bars: per-stage means per {BIN_S} s"
        )
        self.stage_widget = widget
        self.stage_plot.setXRange(-LIVE_WINDOW_S, 0, padding=0.01)
        self.stage_plot.enableAutoRange(x=False, y=True)
        self.stage_bars: dict[str, pg.BarGraphItem] = {}
        for key, _, colour in STAGES:
            bars = pg.BarGraphItem(
                x0=[], width=BIN_S * 0.9, height=[], y0=[], brush=colour, pen=pg.mkPen(None)
            )
            self.stage_plot.addItem(bars)
            self.stage_bars[key] = bars
        self.stage_combo = QComboBox()
        self.stage_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.stage_combo.addItem("first camera with data", None)
        self.stage_combo.activated.connect(
            lambda index: self.select_device(self.stage_combo.itemData(index))
        )
        self.stage_label = QLabel()
        self.stage_label.setWordWrap(True)
        self.stage_table = _table(
            [label for _, label, _ in STAGES] + ["capture → painted"],
            ["mean (2 s)", "share", "frames"],
        )
        for row, (_, label, colour) in enumerate(STAGES):  # the table is the bars' legend
            self.stage_table.setVerticalHeaderItem(
                row, QTableWidgetItem(swatch(QColor(colour)), label)
            )
        side = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(QLabel("Camera"))
        row.addWidget(self.stage_combo, 1)
        side.addLayout(row)
        side.addWidget(self.stage_label)
        side.addWidget(self.stage_table, 1)
        page = QWidget()
        layout = QHBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widget, 3)
        layout.addLayout(side, 2)
        return page

    def _build_comparison(self) -> QWidget:
        widget, self.cdf_plot, _ = make_plot("fraction of frames", "latency (ms)")
        self.cdf_widget = widget
        self.cdf_plot.setYRange(0, 1, padding=0.04)
        self.cdf_plot.enableAutoRange(x=True, y=False)
        self.cdf_curves = {
            "noise": self.cdf_plot.plot([], [], pen=suite_pen(False, 0), name="encrypted"),
            "plain": self.cdf_plot.plot(
                [], [], pen=suite_pen(True, 0), name="plain (INSECURE, measurement only)"
            ),
        }
        # Inside, bottom right: a CDF leaves that corner empty.
        self.cdf_legend = pg.LegendItem(
            offset=(-8, -8),
            labelTextColor="#212121",
            brush=pg.mkBrush(255, 255, 255, 230),
            pen=pg.mkPen("#bdbdbd"),
        )
        self.cdf_legend.setParentItem(self.cdf_plot.getViewBox())
        for curve in self.cdf_curves.values():
            self.cdf_legend.addItem(curve, curve.name())
        self.insecure_label = QLabel(INSECURE_TEXT)
        self.insecure_label.setWordWrap(True)
        self.insecure_label.setStyleSheet("color: #c62828; font-weight: bold;")
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.cdf_stage_combo = QComboBox()
        for key, label in COMPARISON_STAGES:
            self.cdf_stage_combo.addItem(label, key)
        self.cdf_stage_combo.currentIndexChanged.connect(self._fill_comparison)
        self.comparison_table = _table(
            list(SUMMARY_ROWS), ["plain (insecure)", "encrypted", "encrypted / plain"]
        )
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.hide()
        self.run_button = QPushButton("Run comparison…")
        self.run_button.clicked.connect(self.open_comparison_dialog)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._comparison.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m frames")
        self._set_running(self._comparison.running)

        stage_row = QHBoxLayout()
        stage_row.addWidget(QLabel("Latency"))
        stage_row.addWidget(self.cdf_stage_combo, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.progress_bar, 1)
        buttons.addWidget(self.cancel_button)
        side = QVBoxLayout()
        side.addWidget(self.insecure_label)
        side.addWidget(self.result_label)
        side.addLayout(stage_row)
        side.addWidget(self.comparison_table, 1)
        side.addWidget(self.error_label)
        side.addLayout(buttons)
        page = QWidget()
        layout = QHBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widget, 3)
        layout.addLayout(side, 2)
        return page

    # -- timer and selection -------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the redraw timer (before the window closes)."""
        self._timer.stop()

    def _tick(self) -> None:
        if self.isVisible():
            self.refresh()

    def select_device(self, name: str | None) -> None:
        """Show this camera's stages and highlight its Live curve; None or '' goes back to the
        first camera with data and no highlight."""
        self._chosen = name or None
        now = self._clock()
        self._refresh_live(now)
        self._refresh_stages(now)

    def selected_device(self) -> str | None:
        """The camera the Stages tab shows: the chosen one, else the first with data."""
        if self._chosen is not None:
            return self._chosen
        for name in sorted(self._tracks, key=natural_key):
            if len(self._tracks[name].rows()):
                return name
        return None

    # -- redraw -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """One redraw of the Live and Stages tabs from the rings (bounded work per camera)."""
        now = self._clock()
        stats = self._receiver.all_stats()
        for name in list(self._tracks):
            if name not in stats:
                del self._tracks[name]
        for name, device_stats in stats.items():
            self._tracks.setdefault(name, TimelineTrack()).sync(device_stats, now)
        self._refresh_live(now)
        self._refresh_stages(now)
        self._set_running(self._comparison.running)

    def _refresh_live(self, now: int) -> None:
        since = now - LIVE_WINDOW_S * 1e6
        wanted: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray, bool]] = {}
        for name in sorted(self._tracks, key=natural_key):
            rows = self._tracks[name].rows()
            window = rows[rows[:, CAPTURE] >= since]
            fallback = not np.isfinite(window[:, TO_PAINTED]).any()
            column = TO_DECRYPTED if fallback else TO_PAINTED
            window = window[np.isfinite(window[:, column])]
            for plain in (False, True):
                part = window[(window[:, PLAIN] == 1.0) == plain]
                if not len(part):
                    continue
                x = (part[:, CAPTURE] - now) / 1e6
                y = part[:, column]
                if len(x) > 1 and (np.diff(x) < 0).any():
                    order = np.argsort(x, kind="stable")
                    x, y = x[order], y[order]
                wanted[(name, plain)] = (x, y, fallback)

        for key in [k for k in self.live_curves if k not in wanted]:
            curve = self.live_curves.pop(key)
            self.live_plot.removeItem(curve)
            del self._colour_slots[key], self._curve_looks[key]
        entries: list[tuple[str, QPen]] = []
        chosen = self._chosen if any(k[0] == self._chosen for k in wanted) else None
        for key in sorted(wanted, key=lambda k: (k[1], natural_key(k[0]))):
            x, y, fallback = wanted[key]
            name, plain = key
            label = name + (" (plain, INSECURE)" if plain else "")
            label += " · capture→decrypted" if fallback else ""
            curve = self.live_curves.get(key)
            if curve is None:
                used = {s for k, s in self._colour_slots.items() if k[1] == plain}
                slot = next(i for i in range(len(used) + 1) if i not in used)
                self._colour_slots[key] = slot
                curve = pg.PlotDataItem()
                self.live_plot.addItem(curve)
                self.live_curves[key] = curve
            # The selected camera stands out; the others fade while one is selected.
            look = "normal" if chosen is None else "selected" if name == chosen else "faded"
            # 1-px lines: Qt draws wider ones (dashed above all) an order of magnitude slower.
            pen = suite_pen(plain, self._colour_slots[key], width=1.0)
            if self._curve_looks.get(key) != look:
                self._curve_looks[key] = look
                shown = QPen(pen)
                if look == "selected":  # one curve: a solid 2-px line is still cheap
                    shown.setWidthF(2.0)
                    shown.setStyle(Qt.PenStyle.SolidLine)
                elif look == "faded":
                    colour = shown.color()
                    colour.setAlpha(70)
                    shown.setColor(colour)
                curve.setPen(shown)
                curve.setZValue(1 if look == "selected" else 0)
            entries.append((label, pen))
            curve.setData(x, y, connect=connect_mask(x, GAP_S))
        self.live_legend.set_entries(entries)

        fallbacks = {key[0] for key, (_, _, fb) in wanted.items() if fb}
        painted = {key[0] for key, (_, _, fb) in wanted.items() if not fb}
        if fallbacks and not painted:
            axis = "capture → decrypted (ms)"
        elif fallbacks:
            axis = "latency (ms)"  # the legend says which cameras show capture → decrypted
        else:
            axis = "capture → painted (ms)"
        self.live_plot.setLabel("left", axis, color="#212121")
        if not wanted:
            note = "No frames with a known clock offset in the last 30 s."
        else:
            note = "Frames replaced before they were painted are skipped."
            if fallbacks:
                note += (
                    f" Nothing painted for {', '.join(sorted(fallbacks, key=natural_key))}: "
                    "showing capture → decrypted instead."
                )
        self.live_note.setText(note)

    def _refresh_stages(self, now: int) -> None:
        self._sync_stage_combo()
        name = self.selected_device()
        track = self._tracks.get(name) if name is not None else None
        rows = track.rows() if track is not None else np.empty((0, COLUMNS))

        # Rolling stacked bars: per-stage means of the frames that arrived in each bin.
        bins = int(LIVE_WINDOW_S / BIN_S)
        start = now - LIVE_WINDOW_S * 1e6
        keys = np.floor((rows[:, RX] - start) / (BIN_S * 1e6)).astype(int)
        x0 = -LIVE_WINDOW_S + np.arange(bins) * BIN_S + BIN_S * 0.05
        base = np.zeros(bins)
        for (key, _, _), column in zip(STAGES, STAGE_COLUMNS, strict=True):
            means, _ = binned_means(keys, rows[:, column], bins)
            height = np.clip(means, 0, None)
            self.stage_bars[key].setOpts(x0=x0, y0=base.copy(), height=height)
            base += height

        # The table: means over the last STAGE_WINDOW_S.
        recent = rows[rows[:, RX] >= now - STAGE_WINDOW_S * 1e6]
        summary = {
            key: finite_mean(recent[:, column])
            for (key, _, _), column in zip(STAGES, STAGE_COLUMNS, strict=True)
        }
        painted_total = finite_mean(recent[:, TO_PAINTED])
        total_key = "capture → painted"
        if painted_total[1] == 0 and len(recent):
            painted_total = finite_mean(recent[:, TO_DECRYPTED])
            total_key = "capture → decrypted"
        summary["total"] = painted_total
        self.stage_summary = summary
        known = sum(v for v, _ in (summary[k] for k, _, _ in STAGES) if v is not None)
        for row, key in enumerate([k for k, _, _ in STAGES] + ["total"]):
            value, count = summary[key]
            share = (
                f"{100 * value / known:.0f} %"
                if value is not None and known and key != "total"
                else ""
            )
            self.stage_table.setItem(row, 0, _item(format_ms(value), value))
            self.stage_table.setItem(row, 1, _item(share))
            self.stage_table.setItem(row, 2, _item(str(count), count))
        self.stage_table.setVerticalHeaderItem(len(STAGES), QTableWidgetItem(total_key))

        if name is None:
            self.stage_label.setText("No camera has sent frames yet.")
            return
        plain = int(np.count_nonzero(recent[:, PLAIN] == 1.0))
        suites = (
            "encrypted"
            if plain == 0
            else "plain, INSECURE"
            if plain == len(recent)
            else "encrypted and plain (INSECURE)"
        )
        self.stage_label.setText(
            f"<b>{name}</b>: {len(recent)} frames in the last {STAGE_WINDOW_S:.0f} s"
            + (f" ({suites})" if len(recent) else "")
        )

    def _sync_stage_combo(self) -> None:
        names = sorted(
            set(self._tracks) | ({self._chosen} if self._chosen else set()), key=natural_key
        )
        current = [self.stage_combo.itemData(i) for i in range(1, self.stage_combo.count())]
        if current != names:
            self.stage_combo.blockSignals(True)
            while self.stage_combo.count() > 1:
                self.stage_combo.removeItem(1)
            for name in names:
                self.stage_combo.addItem(name, name)
            self.stage_combo.blockSignals(False)
        index = self.stage_combo.findData(self._chosen) if self._chosen else 0
        self.stage_combo.setCurrentIndex(max(index, 0))

    # -- comparison ---------------------------------------------------------------------------

    @Slot()
    def open_comparison_dialog(self) -> None:
        """Ask for a camera and a frame count, then start the run (non-blocking dialog)."""
        dialog = ComparisonDialog(self._candidates(), self)
        dialog.accepted.connect(lambda: self.run_comparison(dialog.device(), dialog.frames()))
        dialog.open()
        self._dialog = dialog

    def run_comparison(self, device: str, frames_per_suite: int) -> bool:
        """Start a run; False (and the reason in `error_label`) if the service refused."""
        try:
            self._comparison.start(device, frames_per_suite)
        except (ComparisonError, ValueError) as exc:
            self._show_error(f"Comparison not started: {exc}")
            return False
        self._show_error(None)
        self.progress_bar.setRange(0, 2 * frames_per_suite)
        self.progress_bar.setValue(0)
        self._set_running(True)
        self.tabs.setCurrentWidget(self.comparison_page)
        return True

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self._set_running(True)

    @Slot(object)
    def _on_finished(self, result: ComparisonResult) -> None:
        self.result = result
        self._set_running(False)
        if not self._stage_values("painted") and self._stage_values("decrypted"):
            # Nothing was painted (headless, or the tiles were hidden): show what there is.
            self.cdf_stage_combo.setCurrentIndex(self.cdf_stage_combo.findData("decrypted"))
        self._fill_comparison()
        self._show_error(
            None if result.error is None else f"Comparison stopped early: {result.error}"
        )
        if result.error is not None and result.error != "cancelled":
            # Whoever started the run may be looking elsewhere: bring the reason into view.
            self.tabs.setCurrentWidget(self.comparison_page)
            if self.isHidden():
                self.show()
            self.raise_()

    def _stage_values(self, stage: str) -> bool:
        result = self.result
        return result is not None and any(
            result.latencies_ms(suite, stage) for suite in ("plain", "noise")
        )

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setVisible(running)
        self.progress_bar.setVisible(running)

    def _show_error(self, text: str | None) -> None:
        self.error_label.setText(text or "")
        self.error_label.setVisible(text is not None)

    def _fill_comparison(self) -> None:
        result = self.result
        stage = self.cdf_stage_combo.currentData()
        for suite, curve in self.cdf_curves.items():
            values = [] if result is None else result.latencies_ms(suite, stage)
            x, y = cdf(values)
            curve.setData(x, y)
        if result is None:
            self.result_label.setText("No comparison yet: run one to fill this tab.")
            summary: dict[str, dict[str, float | int | None]] = {}
        else:
            counts = {s: len(result.latencies_ms(s, stage)) for s in ("plain", "noise")}
            self.result_label.setText(
                f"<b>{result.device}</b>: {result.frames_per_suite} frames per suite asked; "
                f"{counts['noise']} encrypted and {counts['plain']} plain with a "
                f"{self.cdf_stage_combo.currentText()} time."
            )
            summary = result.summary(stage)
        for row, key in enumerate(SUMMARY_ROWS):
            for column, suite in enumerate(("plain", "noise")):
                value = summary.get(suite, {}).get(key)
                self.comparison_table.setItem(row, column, _item(format_ms(value), value))
            ratio = summary.get("ratio", {}).get(key)
            text = "—" if ratio is None else f"{ratio:.2f}×"
            self.comparison_table.setItem(row, 2, _item(text, ratio))

    # -- export -------------------------------------------------------------------------------

    def export_csv(self, path: Path) -> int:
        """Write every timeline in every ring (header first); returns the data rows written."""
        written = 0
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            all_stats = self._receiver.all_stats()
            for name in sorted(all_stats, key=natural_key):
                for timeline in list(all_stats[name].timelines):
                    writer.writerow(csv_row(timeline))
                    written += 1
        return written

    def export_png(self, path: Path) -> None:
        """Write the Live, Stages and Comparison tabs, freshly redrawn, one above the other."""
        self.refresh()
        current = self.tabs.currentWidget()
        size = current.size() if current.isVisible() else QSize(1000, 340)
        pages = (self.live_page, self.stages_page, self.comparison_page)
        shots = []
        for page in pages:
            if not page.isVisible():
                page.resize(size)
                if page.layout() is not None:
                    page.layout().activate()
            shots.append(page.grab())
        gap = 6
        width = max(shot.width() for shot in shots)
        height = sum(shot.height() for shot in shots) + gap * (len(shots) - 1)
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.fill(QColor("#9e9e9e"))  # shows between the tabs
        painter = QPainter(image)
        top = 0
        for shot in shots:
            painter.drawPixmap(0, top, shot)
            top += shot.height() + gap
        painter.end()
        if not image.save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")

    @Slot()
    def export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export latency CSV", "latency.csv", "CSV files (*.csv)"
        )
        if path:
            try:
                rows = self.export_csv(Path(path))
            except OSError as exc:
                QMessageBox.warning(self, "Export CSV", f"Cannot write {path}: {exc}")
                return
            self.export_label.setText(f"Wrote {rows} frames to {path}")

    @Slot()
    def export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export latency plots", "latency.png", "PNG images (*.png)"
        )
        if path:
            try:
                self.export_png(Path(path))
            except OSError as exc:
                QMessageBox.warning(self, "Export PNG", str(exc))
                return
            self.export_label.setText(f"Wrote the plots to {path}")
