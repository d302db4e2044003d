"""The devices dock: registered and demo cameras, their live state, and their management."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.devices.registry import RegistryError
from app.protocol.hello import validate_device_id
from app.receiver.stats import DeviceState, DeviceStats
from app.services.devices_service import DeviceEntry, DevicesService
from app.services.receiver_service import ReceiverService
from app.ui.theme import Meaning, mark
from app.ui.theme import colour as theme_colour
from app.ui.tile import STATE_LABELS, failed_attempts_text, state_label

log = logging.getLogger(__name__)

NAME_COLUMN, STATE_COLUMN, SUITE_COLUMN = range(3)
MAX_LIST_WIDTH = 420  # px: wider than this, a long name is elided (its tooltip has it)
_NAME_ROLE = Qt.ItemDataRole.UserRole

PLAIN_WARNING = (
    "Plain streams are neither encrypted nor authenticated: anyone on the network can watch "
    "them, or inject frames that appear to come from this camera.\n\n"
    "They exist only to compare latency with and without encryption. Turn this off again "
    "as soon as the comparison is done.\n\n"
    "Allow plain streams from {name!r}?"
)


def state_text(stats: DeviceStats | None) -> str:
    """'offline', 'connecting', 'live' or 'rejected: REASON' for a device's receiver stats."""
    if stats is None:
        return state_label(DeviceState.OFFLINE)
    return state_label(stats.state, stats.reason)


def suite_text(entry: DeviceEntry, stats: DeviceStats | None) -> str:
    """The live session's suite if any, else the policy: what the camera may use."""
    if stats is not None and stats.state is DeviceState.LIVE and stats.suite is not None:
        return stats.suite.label
    return "plain allowed (insecure)" if entry.allow_plain else "encrypted only"


class DevicesPanel(QDockWidget):
    """Lists `devices.entries()` with their state from `receiver.stats()`; never sees a key.

    An unreadable registry is shown in `problem_label` above the list, not as an empty list.
    Failed attempts (peers that named a device without its key) show in the selected device's
    detail and the state's tooltip, never as its state.
    Signals: `addRequested()` (the window opens AddDeviceDialog), `deviceSelected(name)`
    ("" when the selection is cleared), `deviceActivated(name)` on double-click, and
    `deviceRemoved(name)` / `deviceRenamed(old, new)` after the registry changed (a live
    session under the old name is still open: the window may disconnect it).
    Confirmations and name prompts go through `_confirm`, `_ask_name` and `_show_error`, so
    tests can replace them.
    """

    addRequested = Signal()
    deviceSelected = Signal(str)
    deviceActivated = Signal(str)
    deviceRemoved = Signal(str)
    deviceRenamed = Signal(str, str)

    def __init__(
        self,
        devices: DevicesService,
        receiver: ReceiverService,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Devices", parent)
        self.setObjectName("DevicesPanel")  # for saveState/restoreState
        self.devices = devices
        self.receiver = receiver
        self._entries: dict[str, DeviceEntry] = {}

        body = QWidget()
        layout = QVBoxLayout(body)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        mark(self.problem_label, Meaning.BAD)
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label.hide()
        layout.addWidget(self.problem_label)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "State", "Suite / policy"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAllColumnsShowFocus(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(STATE_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(SUITE_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.tree)
        # The selected device in full: a narrow dock cuts a rejection reason off in the list.
        self.detail_label = QLabel()
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.detail_label)

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add…")
        self.remove_button = QPushButton("Remove")
        self.rename_button = QPushButton("Rename…")
        for button in (self.add_button, self.remove_button, self.rename_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.plain_check = QCheckBox("Allow plain (insecure)")
        self.plain_check.setToolTip(
            "Lets the selected camera stream unencrypted, for latency comparison only."
        )
        layout.addWidget(self.plain_check)
        self.setWidget(body)

        self.add_button.clicked.connect(self.addRequested)
        self.remove_button.clicked.connect(self.remove_selected)
        self.rename_button.clicked.connect(self.rename_selected)
        self.plain_check.clicked.connect(self._plain_clicked)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        devices.devicesChanged.connect(self.refresh)
        devices.registryProblemChanged.connect(self._show_problem)
        receiver.deviceChanged.connect(self.update_device)
        self.refresh()
        self._show_problem()

    # -- queries -----------------------------------------------------------------------------

    def selected_name(self) -> str | None:
        """The selected device's name (without "(demo)"), or None."""
        items = self.tree.selectedItems()
        return items[0].data(NAME_COLUMN, _NAME_ROLE) if items else None

    def select(self, name: str) -> bool:
        """Select the row of device `name`; False if it is not listed."""
        item = self._item(name)
        if item is not None:
            self.tree.setCurrentItem(item)
        return item is not None

    def row_texts(self, name: str) -> list[str] | None:
        """The three cells of device `name`'s row as shown, or None."""
        item = self._item(name)
        return None if item is None else [item.text(c) for c in range(self.tree.columnCount())]

    # -- refreshing --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the list from the service, keeping the selection where possible."""
        selected = self.selected_name()
        self._entries = {entry.name: entry for entry in self.devices.entries()}
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            for entry in self._entries.values():
                item = QTreeWidgetItem()
                item.setData(NAME_COLUMN, _NAME_ROLE, entry.name)
                item.setText(NAME_COLUMN, f"{entry.name} (demo)" if entry.demo else entry.name)
                item.setToolTip(NAME_COLUMN, f"fingerprint {entry.fingerprint}")
                self.tree.addTopLevelItem(item)
                self._render(item, entry, self.receiver.stats(entry.name))
                if entry.name == selected:
                    item.setSelected(True)
                    self.tree.setCurrentItem(item)
        finally:
            self.tree.blockSignals(False)
        self._fit_columns()
        if selected is not None and selected not in self._entries:
            self.deviceSelected.emit("")
        self._update_controls()

    def update_device(self, name: str) -> None:
        """Re-render one device's state (the receiver's `deviceChanged`)."""
        item, entry = self._item(name), self._entries.get(name)
        if item is not None and entry is not None:
            self._render(item, entry, self.receiver.stats(name))
            self._fit_columns()
            if name == self.selected_name():
                self._update_detail()

    def _show_problem(self) -> None:
        problem = self.devices.registry_problem
        self.problem_label.setText(
            "" if problem is None else f"The device registry cannot be read: {problem}"
        )
        self.problem_label.setVisible(problem is not None)

    def _render(self, item: QTreeWidgetItem, entry: DeviceEntry, stats: DeviceStats | None) -> None:
        # The list says the state in a word; a rejection's reason (long) is in its tooltip
        # and, for the selected camera, in the detail below.
        state = state_text(stats)
        item.setText(
            STATE_COLUMN, STATE_LABELS[DeviceState.OFFLINE if stats is None else stats.state]
        )
        attempts = failed_attempts_text(stats.failed_attempts if stats is not None else 0)
        item.setToolTip(STATE_COLUMN, state if attempts is None else f"{state}\n{attempts}")
        colour = None
        if stats is not None and stats.state is DeviceState.LIVE:
            colour = theme_colour(Meaning.GOOD)
        elif stats is not None and stats.state is DeviceState.REJECTED:
            colour = theme_colour(Meaning.BAD)
        item.setForeground(STATE_COLUMN, QBrush(colour) if colour is not None else QBrush())
        suite = suite_text(entry, stats)
        item.setText(SUITE_COLUMN, suite.removesuffix(" (insecure)"))  # its colour says so
        item.setToolTip(SUITE_COLUMN, suite)
        insecure = "insecure" in suite.lower()
        item.setForeground(
            SUITE_COLUMN, QBrush(theme_colour(Meaning.WARNING)) if insecure else QBrush()
        )

    def _fit_columns(self) -> None:
        """Ask for the width the list's columns need (up to MAX_LIST_WIDTH), so the sidebar
        is never so narrow that Qt elides a name, a state or a policy."""
        need = self.tree.frameWidth() * 2 + self.tree.verticalScrollBar().sizeHint().width()
        for column in range(self.tree.columnCount()):
            need += max(
                self.tree.sizeHintForColumn(column), self.tree.header().sectionSizeHint(column)
            )
        self.tree.setMinimumWidth(min(MAX_LIST_WIDTH, need))

    def _item(self, name: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(NAME_COLUMN, _NAME_ROLE) == name:
                return item
        return None

    def _selection_changed(self) -> None:
        self._update_controls()
        self.deviceSelected.emit(self.selected_name() or "")

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        self.deviceActivated.emit(item.data(NAME_COLUMN, _NAME_ROLE))

    def _update_controls(self) -> None:
        entry = self._entries.get(self.selected_name() or "")
        user_device = entry is not None and not entry.demo
        self.remove_button.setEnabled(user_device)
        self.rename_button.setEnabled(user_device)
        demo_tip = "Demo cameras disappear when the demo stops." if entry and entry.demo else ""
        self.remove_button.setToolTip(demo_tip)
        self.rename_button.setToolTip(demo_tip)
        self.plain_check.setEnabled(entry is not None)
        self.plain_check.setChecked(entry is not None and entry.allow_plain)
        self._update_detail()

    def _update_detail(self) -> None:
        entry = self._entries.get(self.selected_name() or "")
        if entry is None:
            self.detail_label.setText("Select a camera to see its state and fingerprint.")
            return
        stats = self.receiver.stats(entry.name)
        lines = [
            f"{entry.name}{' (demo)' if entry.demo else ''}: {state_text(stats)}",
            suite_text(entry, stats)
            + (f", from {stats.peer}" if stats is not None and stats.peer else ""),
            f"fingerprint {entry.fingerprint}",
        ]
        attempts = failed_attempts_text(stats.failed_attempts if stats is not None else 0)
        if attempts is not None:
            lines.append(f"{attempts} to connect as {entry.name} without its key")
        self.detail_label.setText("\n".join(lines))

    # -- actions -----------------------------------------------------------------------------

    def remove_selected(self) -> None:
        """Unregister the selected (non-demo) device after confirmation."""
        entry = self._entries.get(self.selected_name() or "")
        if entry is None or entry.demo:
            return
        if not self._confirm(
            "Remove camera",
            f"Remove {entry.name!r} (fingerprint {entry.fingerprint})?\n\n"
            "The receiver no longer accepts its key. Adding it again generates a new key, "
            "which the camera's configuration then needs.",
        ):
            return
        try:
            self.devices.remove(entry.name)
        except RegistryError as exc:
            self._show_error("Could not remove the camera", str(exc))
            return
        self.deviceRemoved.emit(entry.name)

    def rename_selected(self) -> None:
        """Ask for a new name for the selected (non-demo) device and apply it."""
        entry = self._entries.get(self.selected_name() or "")
        if entry is None or entry.demo:
            return
        new = self._ask_name(entry.name)
        if new is None:
            return
        new = new.strip()
        if new == entry.name:
            return
        try:
            validate_device_id(new)
            self.devices.rename(entry.name, new)
        except (ValueError, RegistryError) as exc:
            self._show_error("Could not rename the camera", str(exc))
            return
        self.select(new)
        self.deviceRenamed.emit(entry.name, new)

    def set_allow_plain_selected(self, allow: bool) -> None:
        """Allow (after the warning) or forbid plain streams for the selected device."""
        self.plain_check.setChecked(allow)
        self._plain_clicked(allow)

    def _plain_clicked(self, checked: bool) -> None:
        entry = self._entries.get(self.selected_name() or "")
        if entry is None:
            self.plain_check.setChecked(False)
            return
        if checked and not self._confirm(
            "Allow plain streams?", PLAIN_WARNING.format(name=entry.name), warning=True
        ):
            self.plain_check.setChecked(entry.allow_plain)
            return
        try:
            self.devices.set_allow_plain(entry.name, checked)
        except RegistryError as exc:
            self.plain_check.setChecked(entry.allow_plain)
            self._show_error("Could not change the suite policy", str(exc))

    # -- dialogs (tests replace these) -------------------------------------------------------

    def _confirm(self, title: str, text: str, *, warning: bool = False) -> bool:
        """Ask a yes/no question; True only on an explicit Yes (No is the default)."""
        icon = QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Question
        box = QMessageBox(icon, title, text, parent=self)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def _ask_name(self, current: str) -> str | None:
        """The new name typed by the user, or None if cancelled."""
        text, ok = QInputDialog.getText(
            self,
            "Rename camera",
            "New name (1-32 letters, digits, '.', '_' or '-').\n"
            "The camera sends its name when it connects: change it there too.",
            QLineEdit.EchoMode.Normal,
            current,
        )
        return text if ok else None

    def _show_error(self, title: str, text: str) -> None:
        log.warning("%s: %s", title, text)
        QMessageBox.warning(self, title, text)
