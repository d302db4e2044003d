"""The main window: welcome or camera wall, device sidebar, latency, log and Share docks,
status bar."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from app.devices.registry import RegistryError
from app.protocol.clock import monotonic_us
from app.protocol.errors import CloseCode
from app.receiver.events import ConnectionRejected
from app.services.app_services import AppServices
from app.services.decoder import DecodedFrame
from app.services.devices_service import REGISTRY_FIX
from app.services.share_service import ShareState
from app.services.snapshots import default_folder, default_name, write_new
from app.tasks import spawn
from app.ui.devices_panel import DevicesPanel
from app.ui.errors import show_message
from app.ui.latency.dock import LatencyDock
from app.ui.log_dock import LogDock
from app.ui.share_panel import SharePanel
from app.ui.theme import Theme, apply_theme, current_theme
from app.ui.tile import TileAction, TileInfo
from app.ui.wall import CameraWall, WallLayout
from app.ui.welcome import WelcomePanel

# Dialogs, the setup wizard and its serial stack (esptool) load when first opened: the first
# frame must not wait for them (issue 13 §4, start-up).
if TYPE_CHECKING:
    from app.ui.about import AboutDialog, ShortcutsDialog
    from app.ui.add_device import AddDeviceDialog
    from app.ui.details import DetailsDialog
    from app.ui.settings_dialog import SettingsDialog
    from app.ui.setup_wizard import SetupWizard

log = logging.getLogger(__name__)

INFO_REFRESH_MS = 250
STATUS_REFRESH_MS = 1000
LAG_PROBE_MS = 100
# The latency plots (pyqtgraph: a fifth of a second to load, more to build) are made once the
# first frame is on screen, or after this long without one, so they never delay it.
PLOTS_AFTER_FIRST_FRAME_MS = 100
PLOTS_AT_THE_LATEST_MS = 1500


class MainWindow(QMainWindow):
    """Talks only to AppServices; `closed` fires once the user closed the window."""

    closed = Signal()

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self._demo_names: set[str] = set()
        self._setup_wizard: SetupWizard | None = None
        self._add_dialog: AddDeviceDialog | None = None
        self._settings_dialog: SettingsDialog | None = None
        self._snapshot_dialog: QFileDialog | None = None
        self._announced_problem: str | None = None
        self.record_dialog: QFileDialog | None = None
        self.recording_message: QMessageBox | None = None
        self._maximized_before_full_screen = False
        self.setWindowTitle("SecureCam")
        self.resize(1280, 860)

        self.welcome = WelcomePanel()
        self.wall = CameraWall()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.wall)
        self.setCentralWidget(self.stack)

        self.devices_panel = DevicesPanel(services.devices, services.receiver, self)
        self.devices_panel.setObjectName("devices")
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.devices_panel)
        self.latency_dock = LatencyDock(
            services.receiver,
            services.comparison,
            self,
            candidates=self.comparison_candidates,
            build_now=False,
        )
        self.latency_dock.setObjectName("latency")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.latency_dock)
        self.log_dock = LogDock(self)
        self.log_dock.setObjectName("log")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.tabifyDockWidget(self.latency_dock, self.log_dock)
        self.share_panel = SharePanel(services.share, self)
        self.share_panel.setObjectName("share")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.share_panel)
        self.tabifyDockWidget(self.log_dock, self.share_panel)
        self.latency_dock.raise_()

        self._build_status_bar()
        self._build_menus()
        self._connect()
        self._restore_layout()

        self._info_timer = QTimer(self, interval=INFO_REFRESH_MS, timeout=self.refresh_tiles)
        self._status_timer = QTimer(self, interval=STATUS_REFRESH_MS, timeout=self.refresh_status)
        self._lag_timer = QTimer(self, interval=LAG_PROBE_MS, timeout=self._probe_lag)
        self._lag_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._last_probe = time.monotonic()
        self.loop_lag_ms = 0.0
        self._lag_peak_ms = 0.0
        self._last_bytes = 0
        self._last_status = time.monotonic()
        self.mbit_per_s = 0.0
        for timer in (self._info_timer, self._status_timer, self._lag_timer):
            timer.start()
        self.refresh_devices()
        self.refresh_share()
        # A registry found unreadable at start is announced once the window is up.
        QTimer.singleShot(0, self, self._registry_problem_changed)

    # -- building ---------------------------------------------------------------------------

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.listen_label = QLabel()
        self.cameras_label = QLabel()
        self.rate_label = QLabel()
        self.lag_label = QLabel()
        self.share_label = QLabel()
        for label in (
            self.listen_label,
            self.cameras_label,
            self.rate_label,
            self.lag_label,
            self.share_label,
        ):
            bar.addPermanentWidget(label)
        # Numbers that change every second get room for their widest value, so the bar
        # neither jumps nor cuts them while the layout catches up.
        for label, widest in (
            (self.cameras_label, "  cameras live 888/888"),
            (self.rate_label, "  8888.8 Mbit/s"),
            (self.lag_label, "  UI loop lag 8888 ms"),
        ):
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance(widest) + 8)
        self.recording_label = QLabel()  # shown only while recording
        bar.addPermanentWidget(self.recording_label)
        self.recording_label.hide()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.add_action = self._action(file_menu, "&Add a camera manually…", self.open_add_device)
        self.setup_action = self._action(file_menu, "&Set up an ESP32-CAM…", self.open_setup)
        file_menu.addSeparator()
        self.snapshot_action = self._action(
            file_menu, "Save s&napshot…", lambda: self.save_snapshot_dialog(), "Ctrl+S"
        )
        self._action(file_menu, "Export latency &CSV…", self.latency_dock.export_csv_dialog)
        self._action(file_menu, "Export latency &plots PNG…", self.latency_dock.export_png_dialog)
        file_menu.addSeparator()
        self.record_action = self._action(file_menu, "&Record to folder…", self.toggle_recording)
        self.record_action.setCheckable(True)
        self.record_action.setStatusTip("Write every frame, as the camera sent it, to a folder")
        file_menu.addSeparator()
        self._action(file_menu, "Se&ttings…", self.open_settings, "Ctrl+,")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        view_menu = self.menuBar().addMenu("&View")
        for dock in (self.devices_panel, self.latency_dock, self.log_dock, self.share_panel):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        layouts = view_menu.addMenu("Camera &layout")
        group = QActionGroup(self)
        self.layout_actions: dict[WallLayout, QAction] = {}
        for mode in WallLayout:
            action = self._action(
                layouts, mode.value, lambda _=False, m=mode: self.set_wall_layout(m)
            )
            action.setCheckable(True)
            action.setChecked(mode is self.wall.layout_mode)
            group.addAction(action)
            self.layout_actions[mode] = action
        themes = view_menu.addMenu("&Theme")
        theme_group = QActionGroup(self)
        self.theme_actions: dict[Theme, QAction] = {}
        for theme in Theme:
            action = self._action(themes, theme.value, lambda _=False, t=theme: self.set_theme(t))
            action.setCheckable(True)
            action.setChecked(theme is current_theme())
            theme_group.addAction(action)
            self.theme_actions[theme] = action
        self.full_screen_action = self._action(
            view_menu, "&Full screen", self.toggle_full_screen, "F11"
        )
        self.full_screen_action.setCheckable(True)

        tools = self.menuBar().addMenu("&Tools")
        self.demo_action = self._action(tools, "Start &demo camera", self.toggle_demo)
        self._action(tools, "Run &comparison…", self.latency_dock.open_comparison_dialog)

        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts…", self.show_shortcuts, "F1")
        self._action(help_menu, "Open &log folder", self.open_log_folder)
        help_menu.addSeparator()
        self._action(help_menu, "&About SecureCam…", self.show_about)

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[..., object],
        shortcut: str | QKeySequence.StandardKey | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _connect(self) -> None:
        receiver = self.services.receiver
        receiver.frameDecoded.connect(self._on_frame)
        receiver.frameDecoded.connect(
            lambda _: QTimer.singleShot(PLOTS_AFTER_FIRST_FRAME_MS, self.latency_dock.build),
            Qt.ConnectionType.SingleShotConnection,
        )
        QTimer.singleShot(PLOTS_AT_THE_LATEST_MS, self.latency_dock.build)
        receiver.connectionRejected.connect(self._on_rejected)
        receiver.listeningChanged.connect(self.refresh_status)
        receiver.recordingChanged.connect(self.refresh_recording)
        receiver.recordingFailed.connect(self._recording_failed)
        receiver.adaptationChanged.connect(lambda _device: self.refresh_tiles())
        self.services.devices.devicesChanged.connect(self.refresh_devices)
        self.services.devices.devicesChanged.connect(
            lambda: self._spawn(
                self.services.receiver.revalidate(), "check the live cameras against the registry"
            )
        )
        self.services.devices.registryProblemChanged.connect(self._registry_problem_changed)
        self.services.demoChanged.connect(self.refresh_devices)
        self.services.share.stateChanged.connect(self.refresh_share)
        self.services.share.watchersChanged.connect(self.refresh_share)
        self.services.share.watchersChanged.connect(self.refresh_tiles)
        self.wall.tileActivated.connect(self.wall.open_large)
        self.wall.tileSelected.connect(self._tile_selected)
        self.wall.snapshotRequested.connect(self.save_snapshot_dialog)
        self.wall.adaptToggled.connect(self.set_adapt)
        self.wall.actionRequested.connect(self.tile_action)
        self.wall.arrangementChanged.connect(self._save_wall)
        self.wall.displaySizeChanged.connect(self._display_size)
        self.welcome.demoRequested.connect(self.start_demo)
        self.welcome.addRequested.connect(self.open_add_device)
        self.welcome.setupRequested.connect(self.open_setup)
        self.devices_panel.addRequested.connect(self.open_add_device)
        self.devices_panel.deviceSelected.connect(self.latency_dock.select_device)
        self.devices_panel.deviceSelected.connect(self.wall.select)
        self.devices_panel.deviceActivated.connect(self.wall.open_large)

    def _restore_layout(self) -> None:
        self._restore_wall()
        geometry, state = self.services.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is None or not self.restoreState(state):
            # First run: the video gets most of the window; the bottom docks enough for the
            # Share panel's settings without scrolling (it needed 21 px more than 300).
            self.resizeDocks([self.latency_dock], [325], Qt.Orientation.Vertical)
            self.resizeDocks([self.devices_panel], [250], Qt.Orientation.Horizontal)

    # -- live data --------------------------------------------------------------------------

    def _on_frame(self, decoded: DecodedFrame) -> None:
        self.wall.deliver(decoded)

    def _on_rejected(self, event: ConnectionRejected) -> None:
        # The log dock shows the receiver's own line; the tile shows the reason on refresh.
        if event.device is not None:
            self.refresh_tiles()

    def _display_size(self, device: str, size: QSize) -> None:
        self.services.receiver.set_display_size(device, size.width(), size.height())

    def refresh_devices(self) -> None:
        entries = self.services.devices.entries()
        names = [entry.name for entry in entries]
        self._demo_names = {entry.name for entry in entries if entry.demo}
        self.wall.set_devices(names)
        self.stack.setCurrentWidget(self.wall if names else self.welcome)
        self.demo_action.setText(
            "Stop &demo camera" if self.services.demo is not None else "Start &demo camera"
        )
        self.refresh_tiles()

    def refresh_tiles(self) -> None:
        receiver = self.services.receiver
        share = self.services.share
        devices = self.services.devices
        now = monotonic_us()
        allow_plain = {entry.name for entry in devices.entries() if entry.allow_plain}
        for name in self.wall.tiles:
            adapt, _ = devices.adapt_policy(name)
            info = TileInfo.from_stats(
                receiver.stats(name),
                now,
                demo=name in self._demo_names,
                viewers=share.viewer_count(name),
                adapted=receiver.adapted(name),
                adapt=adapt,
                allow_plain=name in allow_plain,
            )
            self.wall.set_info(name, info)
        self._update_snapshot_action()

    def refresh_share(self) -> None:
        """The status bar's Share part: off, on with how many watch, or why it is not on."""
        share = self.services.share
        state = share.state
        if state is ShareState.ON:
            streams = len(share.watchers())
            text = f"  Share on: {streams} watching" if streams else "  Share on"
        elif state is ShareState.ERROR:
            text = "  Share: not started (see the Share panel)"
        elif state is ShareState.OFF:
            text = "  Share off"
        else:
            text = f"  Share {state.value}…"
        self.share_label.setText(text)
        self.share_label.setToolTip(share.error or "")

    def refresh_status(self) -> None:
        receiver = self.services.receiver
        if receiver.listening:
            text = f"Listening on {receiver.host}:{receiver.port}"
            if self.services.fallback_note:
                text = self.services.fallback_note
        else:
            text = f"Not listening: {receiver.error or 'stopped'}"
        self.listen_label.setText(text)
        live = len(receiver.live_devices())
        self.cameras_label.setText(f"  cameras live {live}/{len(self.wall.tiles)}")
        now = time.monotonic()
        total = receiver.total_bytes()
        elapsed = max(1e-3, now - self._last_status)
        self.mbit_per_s = max(0, total - self._last_bytes) * 8 / elapsed / 1e6
        self._last_bytes, self._last_status = total, now
        self.rate_label.setText(f"  {self.mbit_per_s:.1f} Mbit/s")
        self.lag_label.setText(f"  UI loop lag {self._lag_peak_ms:.0f} ms")
        self._lag_peak_ms = 0.0
        self.refresh_recording()

    def _probe_lag(self) -> None:
        now = time.monotonic()
        self.loop_lag_ms = max(0.0, (now - self._last_probe) * 1000 - LAG_PROBE_MS)
        self._lag_peak_ms = max(self._lag_peak_ms, self.loop_lag_ms)
        self._last_probe = now

    # -- commands ---------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[object, object, object], what: str) -> None:
        """Run a service coroutine from a Qt slot; a failure is logged and shown.

        `what` completes "Could not …" for the user, e.g. "start the demo cameras".
        """
        spawn(coro, name=what, on_error=lambda exc: self._task_failed(what, exc))

    def _task_failed(self, what: str, exc: BaseException) -> None:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        show_message(
            self,
            "SecureCam",
            f"Could not {what}:\n\n{detail}\n\nThe log (View → Log) has the details.",
        )

    def comparison_candidates(self) -> list[str]:
        """Live devices a comparison may switch to plain: demo cameras and allow-plain ones."""
        allowed = {e.name for e in self.services.devices.entries() if e.allow_plain}
        return [name for name in self.services.receiver.live_devices() if name in allowed]

    def start_demo(self) -> None:
        count = self.services.settings.receiver().demo_count
        self._spawn(self.services.start_demo(count), "start the demo cameras")

    def toggle_demo(self) -> None:
        if self.services.demo is None:
            self.start_demo()
        else:
            self._spawn(self.services.stop_demo(), "stop the demo cameras")

    def set_adapt(self, device: str, on: bool) -> None:
        """A tile's "Adapt quality to the link": saved in the registry, applied at once (off:
        the camera goes back to its own settings)."""
        try:
            self.services.devices.set_adapt(device, on)
        except RegistryError as exc:
            log.warning("could not change %s's quality adaptation: %s", device, exc)
            show_message(
                self,
                "Adapt quality to the link",
                f"Could not {'turn on' if on else 'turn off'} quality adaptation for "
                f"{device}:\n\n{exc}",
            )
        self.refresh_tiles()

    def open_add_device(self) -> None:
        from app.ui.add_device import AddDeviceDialog

        receiver = self.services.receiver
        dialog = AddDeviceDialog(self.services.devices, receiver.port, receiver.host, self)
        dialog.open()
        self._add_dialog = dialog

    def open_setup(self) -> None:
        """The serial setup wizard: find, flash and provision a board, then see its first frame."""
        if self._setup_wizard is not None and self._setup_wizard.isVisible():
            self._setup_wizard.raise_()
            self._setup_wizard.activateWindow()
            return
        from app.services.setup_service import SetupService
        from app.ui.setup_wizard import SetupWizard

        setup = SetupService(
            self.services.devices.registry, on_registered=self.services.devices.devicesChanged.emit
        )
        wizard = SetupWizard(self.services, setup, self)
        setup.setParent(wizard)  # lives and dies with the wizard
        wizard.finished.connect(setup.close)  # stop polling, cancel the job, free the threads
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.finished.connect(lambda *_: setattr(self, "_setup_wizard", None))
        wizard.open()
        self._setup_wizard = wizard

    def tile_action(self, device: str, action: TileAction) -> None:
        """What a tile's menu asked: through the devices panel and services, as the sidebar
        would do it (the same confirmations and errors)."""
        if action is TileAction.DETAILS:
            self.show_details(device)
            return
        if action is TileAction.DISCONNECT:
            self._spawn(
                self.services.receiver.disconnect(
                    device, "disconnected from the window", CloseCode.GOING_AWAY
                ),
                f"disconnect {device}",
            )
            return
        if not self.devices_panel.select(device):
            return
        if action is TileAction.RENAME:
            self.devices_panel.rename_selected()
        elif action is TileAction.ALLOW_PLAIN:
            entry = next((e for e in self.services.devices.entries() if e.name == device), None)
            if entry is not None:
                self.devices_panel.set_allow_plain_selected(not entry.allow_plain)
        self.refresh_tiles()

    def show_details(self, device: str) -> DetailsDialog:
        from app.ui.details import DetailsDialog

        entry = next((e for e in self.services.devices.entries() if e.name == device), None)
        dialog = DetailsDialog(device, entry, self.services.receiver.stats(device), self)
        dialog.open()
        return dialog

    def set_theme(self, theme: Theme) -> None:
        """Light, dark, or the system's, at once; remembered for the next start."""
        apply_theme(theme)
        self.theme_actions[theme].setChecked(True)
        self.services.settings.save_theme(theme.value)
        self.refresh_devices()  # the sidebar's state colours are set when it is filled

    def set_wall_layout(self, mode: WallLayout) -> None:
        self.wall.set_layout(mode)
        self.layout_actions[mode].setChecked(True)

    def _save_wall(self) -> None:
        self.services.settings.save_wall(self.wall.layout_mode.value, self.wall.order)

    def _restore_wall(self) -> None:
        layout, order = self.services.settings.wall()
        self.wall.set_order(order)
        try:
            self.set_wall_layout(WallLayout(layout) if layout else WallLayout.AUTO)
        except ValueError:
            log.warning("unknown camera layout %r in the settings: the automatic grid", layout)

    def toggle_full_screen(self) -> None:
        """F11: the window over the whole screen, or back as it was."""
        if self.isFullScreen():
            self.showNormal()
            if self._maximized_before_full_screen:
                self.showMaximized()
        else:
            self._maximized_before_full_screen = self.isMaximized()
            self.showFullScreen()
        self.full_screen_action.setChecked(self.isFullScreen())

    def show_about(self) -> AboutDialog:
        from app.ui.about import AboutDialog

        dialog = AboutDialog(self.services.log_dir, self)
        dialog.open()
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        from app.ui.about import ShortcutsDialog

        actions = [
            a for menu in self.menuBar().actions() if menu.menu() for a in menu.menu().actions()
        ]
        dialog = ShortcutsDialog(actions, self)
        dialog.open()
        return dialog

    def open_log_folder(self) -> bool:
        """Show the log folder in the system's file manager; say where it is if none opens."""
        folder = self.services.log_dir
        folder.mkdir(parents=True, exist_ok=True)
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            return True
        show_message(
            self,
            "Log folder",
            f"No file manager could be opened here. The log is in {folder}",
            icon=QMessageBox.Icon.Information,
        )
        return False

    def open_settings(self) -> None:
        """The receiver settings (non-blocking); accepting saves them and restarts the receiver."""
        from app.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.services.settings.receiver(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._apply_settings(dialog))
        dialog.finished.connect(lambda *_: setattr(self, "_settings_dialog", None))
        dialog.open()
        self._settings_dialog = dialog

    def _apply_settings(self, dialog: SettingsDialog) -> None:
        self.services.settings.save_receiver(dialog.result_settings())
        self._spawn(self._restart_receiver(), "restart the receiver")

    async def _restart_receiver(self) -> None:
        if not await self.services.restart_receiver():
            self.show_listen_problem()

    def show_listen_problem(self) -> None:
        """Tell the user the receiver is not listening, why, and what to do."""
        receiver = self.services.receiver
        show_message(
            self,
            "Receiver not listening",
            f"SecureCam is not listening for cameras: {receiver.error or 'stopped'}.\n\n"
            "No camera can connect until it listens. Choose another port or address in "
            "File → Settings, or stop the program that uses it.",
        )

    def snapshot_device(self) -> str | None:
        """The camera a snapshot is of: the selected tile, else the only one, else None."""
        if self.wall.selected is not None:
            return self.wall.selected
        return next(iter(self.wall.tiles)) if len(self.wall.tiles) == 1 else None

    def _tile_selected(self, name: str) -> None:
        if name:
            self.devices_panel.select(name)
        self._update_snapshot_action()

    def _update_snapshot_action(self) -> None:
        device = self.snapshot_device()
        tile = self.wall.tiles.get(device) if device is not None else None
        ready = tile is not None and tile.snapshot_bytes() is not None
        self.snapshot_action.setEnabled(ready)
        if device is None:
            tip = "Select a camera first (click its picture)."
        elif not ready:
            tip = f"{device} has not shown a frame yet."
        else:
            tip = f"Save the picture {device} shows now, as the camera sent it."
        self.snapshot_action.setText(
            f"Save s&napshot of {device}…" if device is not None else "Save s&napshot…"
        )
        self.snapshot_action.setStatusTip(tip)
        self.snapshot_action.setToolTip(tip)

    def save_snapshot_dialog(self, device: str | None = None) -> None:
        """Ask where to save the picture `device` (default: `snapshot_device()`) shows now.

        The frame is taken when the dialog opens. The dialog starts in the Pictures folder with
        a name carrying the device and the time, and asks before replacing a file.
        """
        device = device or self.snapshot_device()
        tile = self.wall.tiles.get(device) if device is not None else None
        data = None if tile is None else tile.snapshot_bytes()
        if device is None or data is None:
            show_message(
                self,
                "Snapshot",
                "Select a camera first (click its picture)."
                if device is None
                else f"{device} has not shown a frame yet.",
            )
            return
        if self._snapshot_dialog is not None:
            self._snapshot_dialog.deleteLater()
        dialog = QFileDialog(self, f"Save snapshot of {device}", str(default_folder()))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setNameFilter("JPEG images (*.jpg *.jpeg)")
        dialog.setDefaultSuffix("jpg")
        dialog.selectFile(default_name(device))
        dialog.fileSelected.connect(lambda path: self._write_snapshot(device, data, Path(path)))
        dialog.open()
        self._snapshot_dialog = dialog

    def _write_snapshot(self, device: str, data: bytes | memoryview, path: Path) -> None:
        # The dialog asked before replacing an existing file.
        try:
            path.write_bytes(data)
        except OSError as exc:
            log.warning("could not save a snapshot of %s to %s: %s", device, path, exc)
            show_message(self, "Snapshot", f"Could not save the snapshot to {path}:\n{exc}")
            return
        log.info("saved a snapshot of %s to %s", device, path)

    def save_snapshot(self, device: str, path: Path) -> Path | None:
        """Write the frame on screen, byte for byte as the camera sent it, without asking.

        An existing file is never replaced: `NAME-2.jpg`, `-3`… is used instead. Returns the
        path written, or None if the camera has not shown a frame. Raises OSError.
        """
        tile = self.wall.tiles.get(device)
        data = None if tile is None else tile.snapshot_bytes()
        if data is None:
            return None
        written = write_new(path, data)
        log.info("saved a snapshot of %s to %s", device, written)
        return written

    # -- registry problems ------------------------------------------------------------------

    def _registry_problem_changed(self) -> None:
        """Show a new registry problem: in the welcome panel, and once in a dialog."""
        problem = self.services.devices.registry_problem
        self.welcome.set_problem(
            None if problem is None else f"The device registry cannot be read: {problem}"
        )
        if problem is None or problem == self._announced_problem:
            self._announced_problem = problem
            return
        self._announced_problem = problem
        show_message(
            self,
            "Device registry unreadable",
            f"SecureCam cannot read its device registry:\n\n{problem}\n\n{REGISTRY_FIX}",
        )

    # -- recording --------------------------------------------------------------------------

    def toggle_recording(self, checked: bool) -> None:
        """File → Record to folder…: ask for a folder and record there, or stop recording."""
        if not checked:
            self._spawn(self.services.receiver.stop_recording(), "stop recording")
            return
        self.record_action.setChecked(False)  # checked once recording has really started
        start = self.services.settings.recording_folder() or Path.home()
        if self.record_dialog is not None:
            self.record_dialog.deleteLater()
        dialog = QFileDialog(self, "Record every frame to folder", str(start))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly)
        dialog.fileSelected.connect(lambda path: self.start_recording(Path(path)))
        dialog.open()  # not exec(): no nested event loop inside qasync's
        self.record_dialog = dialog

    def start_recording(self, folder: Path) -> None:
        """Record every frame to `folder` (remembered for next time); failures are shown."""
        self.services.settings.save_recording_folder(folder)
        self._spawn(self.services.receiver.start_recording(folder), "start recording")

    def refresh_recording(self) -> None:
        receiver = self.services.receiver
        self.record_action.setChecked(receiver.recording)
        self.recording_label.setVisible(receiver.recording)
        if receiver.recording:
            self.recording_label.setText(f"  ● REC {receiver.frames_recorded} frames")
            self.recording_label.setToolTip(f"Recording every frame to {receiver.recording_dir}")

    def _recording_failed(self, reason: str) -> None:
        self.refresh_recording()
        self.recording_message = show_message(
            self,
            "Recording stopped",
            f"SecureCam stopped recording: {reason}.\n\nThe cameras keep streaming. Make room "
            "on the disk, or choose another folder, and start recording again with File → "
            "Record to folder….",
        )

    # -- closing ----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._setup_wizard is not None:
            self._setup_wizard.reject()
        self.services.settings.save_window_state(self.saveGeometry(), self.saveState())
        for timer in (self._info_timer, self._status_timer, self._lag_timer):
            timer.stop()
        self.latency_dock.stop()
        self.log_dock.detach()
        super().closeEvent(event)
        self.closed.emit()
