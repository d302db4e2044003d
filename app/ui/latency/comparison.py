"""The Comparison tab: plain-versus-encrypted runs, their CDF and their summary table.

The runs themselves are `ComparisonService`'s; this tab starts and cancels them, follows their
progress and shows their result. A run asked to ("Also measure the paper scheme…", off by
default) adds a third, dashed curve and a table column: the first design's INSECURE scheme
timed by the bench code on the run's own frames, labelled `PAPER_LABEL`. Its times are per
frame from the start of sending to decrypted and reassembled on loopback in this app, not a
capture → decrypted latency, and the caption says so.

Layout: the latency choice, Run and Cancel on one row at the top; below it, on the left, the
CDF's legend (a row above the plot, never over the curves) and the CDF; on the right the table,
always showing all its rows (it scrolls sideways when narrow, the paper scheme's column last),
then the captions, scrolling up and down when the dock is short. Pointing at a point of a
curve shows its frame's seq and stages.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.protocol.hello import Suite
from app.protocol.timeline import FrameTimeline, Mark
from app.services.comparison import (
    CANCELLED,
    PAPER_FRAMES,
    PAPER_LABEL,
    SUMMARY_KEYS,
    ComparisonError,
    ComparisonResult,
    ComparisonService,
    ComparisonSummary,
)
from app.ui import theme
from app.ui.latency.common import cell, scrolling, summary_table
from app.ui.plots import (
    STAGES,
    Found,
    LegendRow,
    PointHover,
    breakdown_html,
    cdf,
    format_ms,
    make_plot,
    nearest,
    robust_top,
    shade,
    suite_pen,
)

DEFAULT_FRAMES = 200
MIN_FRAMES = 8
MAX_FRAMES = 5000

INSECURE_TEXT = (
    "⚠ Plain runs send frames unencrypted and unauthenticated: anyone on the network can "
    "watch or alter them. The plain suite exists only to measure what encryption costs."
)
# The latencies the tab can show, first the default.
MARKS = (
    (Mark.PAINTED, "capture → painted"),
    (Mark.DECODED, "capture → decoded"),
    (Mark.DECRYPTED, "capture → decrypted"),
)
# The table's columns, most important first: the two suites, their ratio, then the paper
# scheme (shown only for a run that measured it). Headers: the same words on two lines.
TABLE_SUITES = (Suite.PLAIN, Suite.NOISE)
RATIO_COLUMN = len(TABLE_SUITES)
PAPER_COLUMN = RATIO_COLUMN + 1
SUITE_HEADERS = {suite: suite.label.replace(" (", "\n(") for suite in TABLE_SUITES}
RATIO_HEADER = "encrypted\n/ plain"
PAPER_HEADER = PAPER_LABEL.replace(" (", "\n(")
ROW_HELP = {
    "p50": "The median: half of the frames took less.",
    "p95": "95 % of the frames took less.",
    "p99": "99 % of the frames took less: the slowest 1 % took longer.",
    "mean": "The average of all frames.",
}
FRACTION_AXIS = ("fraction of frames", "fraction")

LIVE_PROGRESS = "%v / %m frames"
PAPER_PROGRESS = "paper scheme: %v / %m frames"

PAPER_OPTION_TEXT = f"Also measure the {PAPER_LABEL}"
PAPER_OPTION_HELP = (
    f"After the run, up to {PAPER_FRAMES} of its frames are sent one at a time through the "
    "first design's scheme (AES-128-CBC with a fixed key and IV, base64 in 200-character "
    "blocks) on this computer's loopback, never to the camera or the receiver. Its times run "
    "from the start of sending to decrypted and reassembled: not the camera's capture → "
    "decrypted latency."
)
# The theme's 'warning' shade, dashed and thicker: apart from the suites' blue/green and
# red/orange families on light and dark plots; captions keep the palette's text colour.
PAPER_SHADE = theme.Meaning.WARNING


def paper_colour() -> QColor:
    """The paper scheme's colour in the theme in force now."""
    return shade(PAPER_SHADE)


def paper_pen(width: float = 2.5) -> QPen:
    """The paper scheme's curve: dashed amber, never mistaken for a SecureCam suite."""
    pen = QPen(paper_colour())
    pen.setWidthF(width)
    pen.setCosmetic(True)
    pen.setStyle(Qt.PenStyle.DashLine)
    return pen


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
        theme.mark(warning, theme.Meaning.BAD)
        self.paper_check = QCheckBox(PAPER_OPTION_TEXT)
        self.paper_check.setChecked(False)
        self.paper_check.setToolTip(PAPER_OPTION_HELP)
        paper_help = QLabel(PAPER_OPTION_HELP)
        paper_help.setWordWrap(True)
        paper_help.setStyleSheet("color: palette(placeholder-text);")
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
        layout.addWidget(self.paper_check)
        layout.addWidget(paper_help)
        layout.addWidget(warning)
        layout.addWidget(self.buttons)

    def device(self) -> str:
        return self.device_combo.currentText()

    def frames(self) -> int:
        return self.frames_spin.value()

    def paper(self) -> bool:
        """Whether the run should also time the paper scheme on its frames."""
        return self.paper_check.isChecked()


class ComparisonTab(QWidget):
    """Starts runs on `comparison`, follows them and shows the last result (`result`).

    `candidates()` lists the cameras the dialog offers. `runStarted` fires when a run starts
    and `runFailed` when one stopped early for any reason but a cancel: the dock brings the tab
    into view then.
    """

    runStarted = Signal()
    runFailed = Signal()

    def __init__(
        self,
        comparison: ComparisonService,
        candidates: Callable[[], list[str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._comparison = comparison
        self._candidates = candidates
        self.dialog: ComparisonDialog | None = None
        self.result: ComparisonResult | None = comparison.last

        parts = make_plot(FRACTION_AXIS, _latency_axis(MARKS[0][1]))
        self.view, self.plot, self.axis_labels = parts.view, parts.plot, parts.labels
        self.plot.setYRange(0, 1, padding=0.04)
        self.plot.enableAutoRange(x=True, y=False)
        self.curves = {
            Suite.NOISE: self.plot.plot(
                [], [], pen=suite_pen(Suite.NOISE, 0), name=Suite.NOISE.label
            ),
            Suite.PLAIN: self.plot.plot(
                [], [], pen=suite_pen(Suite.PLAIN, 0), name=f"{Suite.PLAIN.label}, measurement only"
            ),
        }
        # The third curve, in the legend only while a result has it.
        self.paper_curve = self.plot.plot([], [], pen=paper_pen(), name=PAPER_LABEL)
        # The legend: a row above the plot, off its data.
        self.legend = LegendRow()
        # Each curve's frames in the order of its points (x ascending), for the hover.
        self._frames: dict[Suite, list[FrameTimeline]] = {suite: [] for suite in Suite}
        self.hover = PointHover(self.plot, self._find)
        self.view.restyled.connect(self._restyle)
        self.insecure_label = QLabel(INSECURE_TEXT)
        self.insecure_label.setWordWrap(True)
        theme.mark(self.insecure_label, theme.Meaning.BAD)  # readable in light and dark
        bold = self.insecure_label.font()
        bold.setBold(True)
        self.insecure_label.setFont(bold)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.mark_combo = QComboBox()
        for mark, label in MARKS:
            self.mark_combo.addItem(label, mark.value)
        self.mark_combo.currentIndexChanged.connect(self.fill)
        self.table = summary_table(
            list(SUMMARY_KEYS),
            [SUITE_HEADERS[suite] for suite in TABLE_SUITES] + [RATIO_HEADER, PAPER_HEADER],
        )
        for row, key in enumerate(SUMMARY_KEYS):
            header = self.table.verticalHeaderItem(row)
            if header is not None:
                header.setToolTip(ROW_HELP[key])
        paper_header = self.table.horizontalHeaderItem(PAPER_COLUMN)
        if paper_header is not None:
            paper_header.setToolTip(PAPER_OPTION_HELP)
        self.table.setColumnHidden(PAPER_COLUMN, True)
        self.paper_label = QLabel()
        self.paper_label.setWordWrap(True)
        self.paper_label.hide()
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        theme.mark(self.error_label, theme.Meaning.BAD)
        self.error_label.hide()
        self.run_button = QPushButton("Run comparison…")
        self.run_button.clicked.connect(self.open_dialog)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(comparison.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat(LIVE_PROGRESS)
        self.set_running(comparison.running)

        top = QHBoxLayout()
        top.addWidget(QLabel("Latency"))
        top.addWidget(self.mark_combo)
        top.addStretch(1)
        top.addWidget(self.run_button)
        top.addWidget(self.progress_bar, 1)
        top.addWidget(self.cancel_button)
        left = QVBoxLayout()
        left.addWidget(self.legend)
        left.addWidget(parts.box, 1)
        captions = QVBoxLayout()
        captions.addWidget(self.result_label)
        captions.addWidget(self.table)
        captions.addWidget(self.error_label)
        captions.addWidget(self.paper_label)
        captions.addWidget(self.insecure_label)
        captions.addStretch(1)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addWidget(scrolling(captions), 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(body, 1)

        comparison.progress.connect(self._on_progress)
        comparison.paperProgress.connect(self._on_paper_progress)
        comparison.finished.connect(self._on_finished)
        self.fill()

    def _restyle(self) -> None:
        """The theme changed: the curves, their legend, the caption's sample and the hover
        ring in its shades, now."""
        for suite, curve in self.curves.items():
            curve.setPen(suite_pen(suite, 0))
        self.paper_curve.setPen(paper_pen())
        self.hover.restyle()
        self._fill_paper(self.result)

    def mark(self) -> Mark:
        """The latency the tab shows (capture → painted, decoded or decrypted)."""
        return Mark(self.mark_combo.currentData())

    def set_mark(self, mark: Mark) -> None:
        self.mark_combo.setCurrentIndex(self.mark_combo.findData(mark.value))

    @Slot()
    def open_dialog(self) -> None:
        """Ask for a camera and a frame count, then start the run (non-blocking dialog)."""
        dialog = ComparisonDialog(self._candidates(), self)
        dialog.accepted.connect(
            lambda: self.run(dialog.device(), dialog.frames(), paper=dialog.paper())
        )
        dialog.open()
        self.dialog = dialog

    def run(self, device: str, frames_per_suite: int, paper: bool = False) -> bool:
        """Start a run (with `paper`, also timing the paper scheme on its frames); False (and
        the reason in `error_label`) if the service refused."""
        try:
            self._comparison.start(device, frames_per_suite, paper=paper)
        except (ComparisonError, ValueError) as exc:
            self._show_error(f"Comparison not started: {exc}")
            return False
        self._show_error(None)
        self.progress_bar.setFormat(LIVE_PROGRESS)
        self.progress_bar.setRange(0, 2 * frames_per_suite)
        self.progress_bar.setValue(0)
        self.set_running(True)
        self.runStarted.emit()
        return True

    def set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setVisible(running)
        self.progress_bar.setVisible(running)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress_bar.setFormat(LIVE_PROGRESS)
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self.set_running(True)

    @Slot(int, int)
    def _on_paper_progress(self, done: int, total: int) -> None:
        self.progress_bar.setFormat(PAPER_PROGRESS)
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self.set_running(True)

    @Slot(object)
    def _on_finished(self, result: ComparisonResult) -> None:
        self.result = result
        self.set_running(False)
        if not self._has_values(Mark.PAINTED) and self._has_values(Mark.DECRYPTED):
            # Nothing was painted (headless, or the tiles were hidden): show what there is.
            self.set_mark(Mark.DECRYPTED)
        self.fill()
        self._show_error(
            None if result.error is None else f"Comparison stopped early: {result.error}"
        )
        if result.error is not None and result.error != CANCELLED:
            self.runFailed.emit()

    def _has_values(self, mark: Mark) -> bool:
        result = self.result
        return result is not None and any(result.latencies_ms(suite, mark) for suite in Suite)

    def _show_error(self, text: str | None) -> None:
        self.error_label.setText(text or "")
        self.error_label.setVisible(text is not None)

    def fill(self) -> None:
        """Show `result` at the chosen latency: the CDF, the counts and the summary table."""
        result, mark = self.result, self.mark()
        self.axis_labels.set("bottom", *_latency_axis(self.mark_combo.currentText()))
        for suite, curve in self.curves.items():
            frames = [] if result is None else _reaching(result.timelines[suite], mark)
            self._frames[suite] = frames
            x, y = cdf(_latency(t, mark) for t in frames)
            curve.setData(x, y)
        beyond = self._fit_x()
        summary: ComparisonSummary | None = None
        if result is None:
            self.result_label.setText(
                "No comparison yet. “Run comparison…” has a camera send frames plain, then "
                "encrypted, and shows how long each took here."
            )
        else:
            counts = {suite: len(self._frames[suite]) for suite in Suite}
            sent = {suite: len(result.timelines[suite]) for suite in Suite}
            text = (
                f"<b>{result.device}</b>: {counts[Suite.NOISE]} encrypted and "
                f"{counts[Suite.PLAIN]} plain frames ({result.frames_per_suite} asked per suite)."
            )
            if counts != sent:
                text += (
                    f" Frames never {mark.value} (the window drew a newer one first) are left out."
                )
            if beyond:
                count, slowest = beyond
                text += (
                    f" The slowest {count} frame{'s' * (count != 1)} (up to {format_ms(slowest)}) "
                    f"{'are' if count != 1 else 'is'} past the plot's right edge."
                )
            self.result_label.setText(text)
            summary = result.summary(mark)
        for row, key in enumerate(SUMMARY_KEYS):
            for column, suite in enumerate(TABLE_SUITES):
                value = None if summary is None else summary.suites[suite][key]
                self.table.setItem(row, column, cell(format_ms(value), value))
            ratio = None if summary is None else summary.ratio[key]
            text = "—" if ratio is None else f"{ratio:.2f}×"
            self.table.setItem(row, RATIO_COLUMN, cell(text, ratio))
            paper = None if summary is None or summary.paper is None else summary.paper[key]
            self.table.setItem(row, PAPER_COLUMN, cell(format_ms(paper), paper))
        self._fill_paper(result)
        self.hover.hide()

    def _fit_x(self) -> tuple[int, float] | None:
        """The latency axis up to a robust top over every curve (`robust_top`), so that a
        start-up straggler does not squeeze the curves into the left edge; the points beyond
        it, as (how many, the largest), or None."""
        result = self.result
        values = [c.getData()[0] for c in self.curves.values()]
        if result is not None and result.paper:
            values.append(np.asarray(result.paper_ms, dtype=float))
        xs = np.concatenate([v for v in values if v is not None and len(v)] or [np.empty(0)])
        if not len(xs):
            self.plot.enableAutoRange(x=True)
            return None
        top = robust_top(xs)
        self.plot.setXRange(0, top, padding=0.02)
        over = xs[xs > top]
        return (len(over), float(over.max())) if len(over) else None

    def _fill_paper(self, result: ComparisonResult | None) -> None:
        """The paper scheme's curve, column and caption: shown only for a run that asked."""
        asked = result is not None and result.paper
        x, y = cdf([] if result is None or not asked else result.paper_ms)
        self.paper_curve.setData(x, y)
        entries = [(str(c.name()), c.opts["pen"]) for c in self.curves.values()]
        if asked:
            entries.append((PAPER_LABEL, self.paper_curve.opts["pen"]))
        self.legend.set_entries(entries)
        self.table.setColumnHidden(PAPER_COLUMN, not asked)
        self.paper_label.setVisible(asked)
        if result is None or not asked:
            self.paper_label.clear()
            return
        # The words in the palette's text colour (readable on light and dark windows), the
        # curve's dashes in its own colour before them.
        title = f'<span style="color: {paper_colour().name()};">━ ━</span> <b>{PAPER_LABEL}</b>'
        if result.paper_error is not None:
            self.paper_label.setText(f"{title}: not measured ({result.paper_error}).")
            return
        count = len(result.paper_ms)
        size_kb = sum(result.paper_bytes) / max(count, 1) / 1000
        self.paper_label.setText(
            f"{title}: {count} of this run's frames ({size_kb:.0f} KB on average) sent through "
            "the first design's scheme over this computer's loopback, each timed in ms from the "
            "start of sending to decrypted and reassembled. This is not the camera's capture → "
            "decrypted latency: the Latency choice does not change it, and it has no ratio."
        )

    def _find(self, x: float, y: float, px_x: float, px_y: float) -> Found | None:
        """The frame nearest the pointer on any curve: its time, seq and stages."""
        best: tuple[float, Found] | None = None
        mark = self.mark()
        for suite, curve in self.curves.items():
            cx, cy = curve.getData()
            hit = None if cx is None else nearest(cx, cy, x, y, px_x, px_y)
            if hit is not None and (best is None or hit[1] < best[0]):
                t = self._frames[suite][hit[0]]
                title = f"{t.device} · frame seq {t.seq} · {suite.label}"
                lines = [
                    (f"capture → {mark.value}", format_ms(_latency(t, mark))),
                    (f"{suite.label} frames this fast or faster", f"{cy[hit[0]]:.0%}"),
                    *[(label, format_ms(t.stage_ms(stage))) for stage, label, _ in STAGES],
                ]
                best = (
                    hit[1],
                    (float(cx[hit[0]]), float(cy[hit[0]]), breakdown_html(title, lines)),
                )
        px, py = self.paper_curve.getData()
        hit = None if px is None else nearest(px, py, x, y, px_x, px_y)
        if hit is not None and (best is None or hit[1] < best[0]):
            lines = [("start of sending → decrypted, loopback", format_ms(float(px[hit[0]])))]
            found = (float(px[hit[0]]), float(py[hit[0]]), breakdown_html(PAPER_LABEL, lines))
            best = (hit[1], found)
        return None if best is None else best[1]


def _latency_axis(mark_label: str) -> tuple[str, ...]:
    return (f"{mark_label} (ms)", "latency (ms)", "ms")


def _latency(t: FrameTimeline, mark: Mark) -> float:
    value = t.latency_to(mark)
    assert value is not None  # only frames that reached the mark are kept
    return value


def _reaching(timelines: list[FrameTimeline], mark: Mark) -> list[FrameTimeline]:
    """The frames that reached `mark`, fastest first (the order of the CDF's points)."""
    reached = [t for t in timelines if t.latency_to(mark) is not None]
    order = np.argsort([_latency(t, mark) for t in reached], kind="stable")
    return [reached[i] for i in order]
