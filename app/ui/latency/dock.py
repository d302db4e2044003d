"""The latency dock: live per-camera latency, the stage breakdown, plain-vs-encrypted runs, export.

It reads the receiver's timeline rings through `ReceiverService.all_stats()` and drives
comparison runs through `ComparisonService`; it never touches sockets. Redraws happen on a
~10 Hz timer (only while the dock is visible, and only of the tab on show) from incremental
numpy copies of the rings (`TimelineTrack`), never once per frame. Each tab, and the export,
is a module beside this one. The tabs, and pyqtgraph with them, can be built after the dock
(`build_now=False`): the window builds them once its first frame is on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.protocol.clock import monotonic_us
from app.services.comparison import ComparisonService
from app.services.receiver_service import ReceiverService

# The tabs import pyqtgraph (about a fifth of a second): loaded by `build`.
if TYPE_CHECKING:
    from app.ui.latency.comparison import ComparisonTab
    from app.ui.latency.live import LiveTab
    from app.ui.latency.stages import StagesTab
    from app.ui.plots import TimelineTrack

REFRESH_MS = 100  # ~10 Hz


def connected_devices(receiver: ReceiverService) -> list[str]:
    """Names of the devices with a live session, sorted."""
    from app.ui.plots import natural_key

    return sorted((n for n, s in receiver.all_stats().items() if s.connected), key=natural_key)


class LatencyDock(QDockWidget):
    """Latency plots and comparison runs over the receiver's frame timelines.

    The tabs are `live`, `stages` and `comparison_tab`. `refresh()` redraws the first two once
    (a ~10 Hz timer calls it while the dock is visible); `stop()` stops that timer.
    `select_device(name)` picks the Stages camera and highlights its Live curve (None: the
    first camera with data, no highlight). `export_csv` / `export_png` write files without
    asking; the `*_dialog` slots ask for a path first. `candidates()` lists the devices a
    comparison may run on (default: the connected ones). `clock` is the app clock the
    timelines use (µs). With `build_now=False` the tabs wait for `build()`, which anything
    needing them calls first; until then the dock is an empty frame and its timer idles.
    """

    # Made by `build`.
    live: LiveTab
    stages: StagesTab
    comparison_tab: ComparisonTab

    def __init__(
        self,
        receiver: ReceiverService,
        comparison: ComparisonService,
        parent: QWidget | None = None,
        *,
        candidates: Callable[[], list[str]] | None = None,
        clock: Callable[[], int] = monotonic_us,
        build_now: bool = True,
    ) -> None:
        super().__init__("Latency", parent)
        self.setObjectName("latency")
        self._receiver = receiver
        self._comparison = comparison
        self._clock = clock
        self._tracks: dict[str, TimelineTrack] = {}
        self._chosen: str | None = None
        self._candidates = candidates or (lambda: connected_devices(receiver))
        self._built = False
        self.tabs = QTabWidget()
        # Until `build`: one word on what will be here, rather than an empty box.
        self.placeholder = QLabel("The latency plots appear with the first frame.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.tabs.addTab(self.placeholder, "Live")

        # Export sits beside the tabs, leaving the plots all of the dock's height.
        self.export_label = QLabel()
        self.export_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        corner = QWidget()
        row = QHBoxLayout(corner)
        row.setContentsMargins(0, 0, 2, 0)
        row.addWidget(self.export_label)
        for text, slot in (
            ("Export CSV…", self.export_csv_dialog),
            ("Export PNG…", self.export_png_dialog),
        ):
            button = QToolButton()
            button.setText(text)
            button.clicked.connect(slot)
            row.addWidget(button)
        self.tabs.setCornerWidget(corner, Qt.Corner.TopRightCorner)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs, 1)
        self.setWidget(body)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        if build_now:
            self.build()

    def build(self) -> None:
        """Make the Live, Stages and Comparison tabs (once; later calls return at once)."""
        if self._built:
            return
        self._built = True
        from app.ui.latency.comparison import ComparisonTab
        from app.ui.latency.live import LiveTab
        from app.ui.latency.stages import StagesTab

        self.tabs.removeTab(0)
        self.placeholder.deleteLater()
        self.live = LiveTab()
        self.stages = StagesTab()
        self.comparison_tab = ComparisonTab(self._comparison, self._candidates)
        self.tabs.addTab(self.live, "Live")
        self.tabs.addTab(self.stages, "Stages")
        self.tabs.addTab(self.comparison_tab, "Comparison")
        self.stages.deviceChosen.connect(self.select_device)
        self.comparison_tab.runStarted.connect(self._show_comparison)
        self.comparison_tab.runFailed.connect(self._bring_failure_into_view)
        self.tabs.currentChanged.connect(self._tab_changed)

    # -- timer and selection -------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the redraw timer (before the window closes)."""
        self._timer.stop()

    def _tick(self) -> None:
        if self._built and self.isVisible():
            self.refresh(shown_only=True)

    def _tab_changed(self) -> None:
        if self.isVisible():
            self._redraw(self._clock(), shown_only=True)

    def select_device(self, name: str | None) -> None:
        """Show this camera's stages and highlight its Live curve; None or '' goes back to the
        first camera with data and no highlight."""
        self.build()
        self._chosen = name or None
        self._redraw(self._clock())

    def selected_device(self) -> str | None:
        """The camera the Stages tab shows: the chosen one, else the first with data."""
        from app.ui.latency.stages import shown_device

        return shown_device(self._tracks, self._chosen)

    # -- redraw -------------------------------------------------------------------------------

    def refresh(self, shown_only: bool = False) -> None:
        """One redraw of the Live and Stages tabs from the rings (bounded work per camera);
        with `shown_only`, of the one on show (if either is): the timer's redraw."""
        from app.ui.plots import TimelineTrack

        self.build()
        now = self._clock()
        stats = self._receiver.all_stats()
        for name in list(self._tracks):
            if name not in stats:
                del self._tracks[name]
        for name, device_stats in stats.items():
            self._tracks.setdefault(name, TimelineTrack()).sync(device_stats, now)
        self._redraw(now, shown_only)
        self.comparison_tab.set_running(self._comparison.running)

    def _redraw(self, now: int, shown_only: bool = False) -> None:
        current = self.tabs.currentWidget()
        if not shown_only or current is self.live:
            self.live.refresh(self._tracks, now, self._chosen)
        if not shown_only or current is self.stages:
            self.stages.refresh(self._tracks, now, self._chosen)

    # -- comparison ---------------------------------------------------------------------------

    @Slot()
    def open_comparison_dialog(self) -> None:
        """Ask for a camera and a frame count, then start the run (non-blocking dialog)."""
        self.build()
        self.comparison_tab.open_dialog()

    def run_comparison(self, device: str, frames_per_suite: int, paper: bool = False) -> bool:
        """Start a run (with `paper`, also timing the paper scheme on its frames); False (and
        the reason on the Comparison tab) if the service refused."""
        self.build()
        return self.comparison_tab.run(device, frames_per_suite, paper=paper)

    def _show_comparison(self) -> None:
        self.tabs.setCurrentWidget(self.comparison_tab)

    def _bring_failure_into_view(self) -> None:
        # Whoever started the run may be looking elsewhere: bring the reason into view.
        self._show_comparison()
        if self.isHidden():
            self.show()
        self.raise_()

    # -- export -------------------------------------------------------------------------------

    def export_csv(self, path: Path) -> int:
        """Write every timeline in every ring (header first); returns the data rows written."""
        from app.ui.latency.export import write_csv

        return write_csv(path, self._receiver.all_stats())

    def export_png(self, path: Path) -> None:
        """Write the Live, Stages and Comparison tabs, freshly redrawn, one above the other."""
        from app.ui.latency.export import write_png

        self.refresh()
        current = self.tabs.currentWidget()
        pages = (self.live, self.stages, self.comparison_tab)
        if current.isVisible():
            write_png(path, pages, current.size())
        else:
            write_png(path, pages)

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
            self._exported(f"Wrote {rows} frames to {Path(path).name}", path)

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
            self._exported(f"Wrote the plots to {Path(path).name}", path)

    def _exported(self, text: str, path: str) -> None:
        self.export_label.setText(text)
        self.export_label.setToolTip(path)
