"""The Share dock: the viewer server's switch, its addresses and certificate, the viewer
accounts, and who is watching now.

Everything goes through ShareService (app/services/share_service.py): nothing here opens a
socket or reads a key. A generated password or player token lives only in the SecretDialog
that shows it, which is deleted when closed; nothing here logs one.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.network import lan_addresses
from app.services.share_service import (
    ALL,
    AllCameras,
    Grant,
    ShareService,
    ShareState,
    Viewer,
    ViewerError,
    describe_grant,
    validate_viewer_name,
)
from app.tasks import spawn
from app.ui.errors import show_message
from app.ui.settings_dialog import host_problem
from app.ui.theme import Meaning, colour, meaning_style

log = logging.getLogger(__name__)

VIEWER_COLUMNS = ("Name", "Cameras", "Expires", "Token")
WATCHER_COLUMNS = ("Viewer", "Address", "Cameras", "fps", "Skipped")
EXPIRY_CHOICES: tuple[tuple[str, timedelta | None], ...] = (
    ("Never", None),
    ("In 1 day", timedelta(days=1)),
    ("In 7 days", timedelta(days=7)),
    ("In 30 days", timedelta(days=30)),
)
FINGERPRINT_HINT = (
    "Browsers warn about this self-made certificate: viewers should go on only if the "
    "SHA-256 fingerprint their browser shows for it is this one."
)

_HINT_STYLE = "color: palette(placeholder-text);"
_SWITCH_STYLE = (
    "QPushButton { padding: 4px 14px; font-weight: bold; }"
    "QPushButton:checked { background-color: #2e7d32; color: white; border-radius: 3px; }"
)
_COPIED_MS = 1500
_TABLE_MAX = 900  # px: the widest a Share table asks to be
_SECRET_EDIT_MAX = 1000  # px: with its label and Copy button, a secret's row fits 1280 px
_NAME_ROLE = Qt.ItemDataRole.UserRole
_LISTEN_HINTS = {
    "0.0.0.0": "all IPv4 networks",
    "::": "all IPv6 networks",
    "": "all networks",
}


def _mono() -> Any:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def copy_button(text: str | Callable[[], str]) -> QPushButton:
    """A "Copy" button that puts `text` (or what it returns) on the clipboard."""
    button = QPushButton("Copy")
    button.setAutoDefault(False)

    def copy() -> None:
        QGuiApplication.clipboard().setText(text() if callable(text) else text)
        button.setText("Copied")
        QTimer.singleShot(_COPIED_MS, button, lambda: button.setText("Copy"))

    button.clicked.connect(copy)
    return button


def expires_text(viewer: Viewer, now: datetime | None = None) -> str:
    """'never', the local date and time, or 'expired DATE TIME'."""
    if viewer.expires is None:
        return "never"
    when = viewer.expires.astimezone().strftime("%Y-%m-%d %H:%M")
    return f"expired {when}" if viewer.is_expired(now) else when


def fingerprint_lines(fingerprint: str) -> str:
    """The 32-byte fingerprint in two lines of 16 bytes, so it fits a narrow dock."""
    parts = fingerprint.split(":")
    half = (len(parts) + 1) // 2
    return ":".join(parts[:half]) + ":\n" + ":".join(parts[half:])


# -- dialogs ---------------------------------------------------------------------------------


class CameraChooser(QWidget):
    """All cameras (also later ones), or a checklist of the known ones."""

    def __init__(
        self, cameras: Iterable[str], grant: Grant = ALL, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.all_radio = QRadioButton("All cameras, also ones added later")
        self.only_radio = QRadioButton("Only these cameras:")
        group = QButtonGroup(self)
        group.addButton(self.all_radio)
        group.addButton(self.only_radio)
        self.camera_list = QListWidget()
        self.camera_list.setMinimumHeight(90)
        granted = () if grant is ALL else grant
        for name in sorted({*cameras, *granted}):
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if name in granted else Qt.CheckState.Unchecked
            )
            self.camera_list.addItem(item)
        for widget in (self.all_radio, self.only_radio, self.camera_list):
            layout.addWidget(widget)
        (self.all_radio if grant is ALL else self.only_radio).setChecked(True)
        self.camera_list.setEnabled(grant is not ALL)
        self.only_radio.toggled.connect(self.camera_list.setEnabled)

    def checked(self) -> list[str]:
        items = (self.camera_list.item(i) for i in range(self.camera_list.count()))
        return [item.text() for item in items if item.checkState() == Qt.CheckState.Checked]

    def set_checked(self, names: Iterable[str]) -> None:
        """Choose "only these" with exactly `names` ticked (for tests and callers)."""
        wanted = set(names)
        self.only_radio.setChecked(True)
        for i in range(self.camera_list.count()):
            item = self.camera_list.item(i)
            item.setCheckState(
                Qt.CheckState.Checked if item.text() in wanted else Qt.CheckState.Unchecked
            )

    def grant(self) -> list[str] | AllCameras:
        return ALL if self.all_radio.isChecked() else self.checked()

    def problem(self) -> str | None:
        if self.only_radio.isChecked() and not self.checked():
            return "Tick at least one camera, or choose all cameras."
        return None


class AddViewerDialog(QDialog):
    """Name, cameras and expiry of a new viewer; Add creates it through the service.

    The password is generated by the service and handed to `on_added(name, password)` once
    the account exists; the dialog then closes. While adding (scrypt, about 0.1 s) it cannot
    be closed, so a created account is never left unannounced.
    """

    def __init__(
        self,
        service: ShareService,
        on_added: Callable[[str, str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add viewer")
        self.setMinimumWidth(440)
        self.service = service
        self._on_added = on_added
        self.busy = False
        try:
            self._taken = {viewer.name for viewer in service.viewers()}
        except ViewerError:
            self._taken = set()

        layout = QVBoxLayout(self)
        intro = QLabel(
            "A viewer logs in from a browser on the LAN with a name and a password. SecureCam "
            "generates the password and shows it once, when you press Add."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. alice")
        self.name_edit.setMaxLength(64)
        form.addRow("Name:", self.name_edit)
        self.chooser = CameraChooser(service.cameras())
        form.addRow("May watch:", self.chooser)
        self.expiry_combo = QComboBox()
        for label, delta in EXPIRY_CHOICES:
            self.expiry_combo.addItem(label, delta)
        form.addRow("Expires:", self.expiry_combo)
        layout.addLayout(form)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setMinimumHeight(2 * self.status_label.fontMetrics().lineSpacing())
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.add_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.add_button.setText("Add")
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.name_edit.textChanged.connect(self._validate)
        self.chooser.only_radio.toggled.connect(self._validate)
        self.chooser.camera_list.itemChanged.connect(self._validate)
        self._validate()

    def problem(self) -> str | None:
        """Why the entries cannot make a viewer, or None."""
        name = self.name_edit.text().strip()
        if not name:
            return "Enter a name: 1-32 letters, digits, '.', '_' or '-'."
        try:
            validate_viewer_name(name)
        except ValueError as exc:
            return str(exc).capitalize() + "."
        if name in self._taken:
            return f"A viewer named {name!r} already exists."
        return self.chooser.problem()

    def _validate(self) -> None:
        if self.busy:
            return
        problem = self.problem()
        self.add_button.setEnabled(problem is None)
        empty = not self.name_edit.text().strip()
        self.status_label.setText(problem or "")
        self.status_label.setStyleSheet(_HINT_STYLE if empty else meaning_style(Meaning.BAD))

    def submit(self) -> None:
        """Add the viewer as entered (the Add button and Enter)."""
        if self.busy or self.problem() is not None:
            return
        name = self.name_edit.text().strip()
        delta = self.expiry_combo.currentData()
        expires = None if delta is None else datetime.now(UTC) + delta
        self._set_busy(True)
        self.status_label.setStyleSheet(_HINT_STYLE)
        self.status_label.setText("Adding…")
        spawn(
            self._add(name, self.chooser.grant(), expires),
            name=f"add viewer {name}",
            on_error=lambda exc: self._failed(f"{type(exc).__name__}: {exc}"),
        )

    async def _add(
        self, name: str, grant: list[str] | AllCameras, expires: datetime | None
    ) -> None:
        try:
            password = await self.service.add_viewer(name, grant, expires)
        except (ValueError, ViewerError) as exc:
            self._failed(str(exc))
            return
        self._set_busy(False)
        self.accept()
        self._on_added(name, password)

    def _failed(self, problem: str) -> None:
        log.warning("could not add viewer: %s", problem)
        self._set_busy(False)
        self.add_button.setEnabled(True)
        self.status_label.setStyleSheet(meaning_style(Meaning.BAD))
        self.status_label.setText(f"Could not add the viewer: {problem}")

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for widget in (self.add_button, self.cancel_button, self.name_edit, self.chooser):
            widget.setEnabled(not busy)
        self.expiry_combo.setEnabled(not busy)

    def reject(self) -> None:
        if not self.busy:
            super().reject()


class CamerasDialog(QDialog):
    """Which cameras one viewer may watch; OK calls `on_chosen(grant)`."""

    def __init__(
        self,
        viewer: Viewer,
        cameras: Iterable[str],
        on_chosen: Callable[[list[str] | AllCameras], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Cameras for {viewer.name}")
        self.setMinimumWidth(380)
        self._on_chosen = on_chosen
        layout = QVBoxLayout(self)
        note = QLabel(
            f"Saving ends {viewer.name}'s open pages (they log in again) and players (they "
            "reconnect), so the new choice applies at once."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        self.chooser = CameraChooser(cameras, viewer.cameras)
        layout.addWidget(self.chooser)
        self.problem_label = QLabel()
        self.problem_label.setStyleSheet(meaning_style(Meaning.BAD))
        layout.addWidget(self.problem_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.chooser.only_radio.toggled.connect(self._validate)
        self.chooser.camera_list.itemChanged.connect(self._validate)
        self._validate()

    def _validate(self) -> None:
        problem = self.chooser.problem()
        self.ok_button.setEnabled(problem is None)
        self.problem_label.setText(problem or "")

    def accept(self) -> None:
        if self.chooser.problem() is None:
            super().accept()
            self._on_chosen(self.chooser.grant())


class SecretDialog(QDialog):
    """Shows a generated password or token once, with Copy buttons and the warning.

    Deleted when closed: the secret is kept nowhere else in the window.
    """

    def __init__(
        self,
        title: str,
        intro: str,
        label: str,
        secret: str,
        notice: str,
        extras: Iterable[tuple[str, str]] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        self.intro_label = QLabel(intro)
        self.intro_label.setWordWrap(True)
        self.intro_label.setTextFormat(Qt.TextFormat.RichText)
        self.intro_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.intro_label)
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        self.secret_edit = self._row(grid, 0, label, secret)
        self.extra_edits = [
            self._row(grid, row, name, text) for row, (name, text) in enumerate(extras, start=1)
        ]
        layout.addLayout(grid)
        self.notice_label = QLabel(notice)
        self.notice_label.setWordWrap(True)
        self.notice_label.setStyleSheet(meaning_style(Meaning.WARNING) + " font-weight: bold;")
        layout.addWidget(self.notice_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.done_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.done_button.setText("Done")
        buttons.rejected.connect(self.accept)
        layout.addWidget(buttons)
        # At least 480 px, and never narrower than its rows (each edit as wide as its text,
        # up to what a 1280 px screen leaves): an explicit minimum overrides the layout's,
        # which would let the rows overlap.
        self.setMinimumWidth(max(480, layout.totalMinimumSize().width()))

    def _row(self, grid: QGridLayout, row: int, label: str, text: str) -> QLineEdit:
        edit = QLineEdit(text)
        edit.setReadOnly(True)
        edit.setFont(_mono())
        edit.setMinimumWidth(min(_SECRET_EDIT_MAX, edit.fontMetrics().horizontalAdvance(text) + 16))
        edit.setCursorPosition(0)
        grid.addWidget(QLabel(label), row, 0)
        grid.addWidget(edit, row, 1)
        button = copy_button(text)
        grid.addWidget(button, row, 2)
        if row == 0:
            self.copy_button = button
        return edit


# -- the dock --------------------------------------------------------------------------------


class SharePanel(QDockWidget):
    """The Share switch, addresses and fingerprint; viewer accounts; who watches now.

    Follows `service.stateChanged`, `viewersChanged` and `watchersChanged`. Dialogs open
    without blocking (`open()`, no nested event loop) and are kept in `add_dialog`,
    `cameras_dialog`, `secret_dialog`, `confirm_box` and `error_box` while open, where tests
    find them.
    """

    def __init__(self, service: ShareService, parent: QWidget | None = None) -> None:
        super().__init__("Share", parent)
        self.setObjectName("SharePanel")  # for saveState/restoreState
        self.service = service
        self.add_dialog: AddViewerDialog | None = None
        self.cameras_dialog: CamerasDialog | None = None
        self.secret_dialog: SecretDialog | None = None
        self.confirm_box: QMessageBox | None = None
        self.error_box: QMessageBox | None = None
        self._viewers: dict[str, Viewer] = {}

        body = QWidget()
        self._columns = QBoxLayout(QBoxLayout.Direction.LeftToRight, body)
        self._columns.addWidget(self._server_box(), 6)
        self._columns.addWidget(self._viewers_box(), 6)
        self._columns.addWidget(self._watchers_box(), 5)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        self.setWidget(scroll)

        # Side by side under the cameras; one above the other in a side dock.
        self.dockLocationChanged.connect(self._arrange)
        service.stateChanged.connect(self.render_state)
        service.stateChanged.connect(self.render_watchers)
        service.viewersChanged.connect(self.render_viewers)
        service.watchersChanged.connect(self.render_watchers)
        self.render_state()
        self.render_viewers()
        self.render_watchers()

    # -- building ----------------------------------------------------------------------------

    def _arrange(self, area: Qt.DockWidgetArea) -> None:
        side = area in (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)
        self._columns.setDirection(
            QBoxLayout.Direction.TopToBottom if side else QBoxLayout.Direction.LeftToRight
        )

    def _server_box(self) -> QGroupBox:
        box = QGroupBox("Viewer server")
        layout = QVBoxLayout(box)
        top = QHBoxLayout()
        self.switch = QPushButton("Share: off")
        self.switch.setCheckable(True)
        self.switch.setStyleSheet(_SWITCH_STYLE)
        self.switch.setToolTip("Let viewers on the LAN watch the cameras in a browser")
        self.switch.clicked.connect(self._switch_clicked)
        top.addWidget(self.switch)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        top.addWidget(self.state_label, 1)
        layout.addLayout(top)

        where = QHBoxLayout()
        where.addWidget(QLabel("Listen on:"))
        self.host_combo = QComboBox()
        self.host_combo.setEditable(True)
        self.host_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for host in dict.fromkeys(["0.0.0.0", "127.0.0.1", "::", *lan_addresses()]):
            self.host_combo.addItem(host)
        self.host_combo.setToolTip("0.0.0.0: every IPv4 network of this computer")
        where.addWidget(self.host_combo, 1)
        where.addWidget(QLabel("Port:"))
        self.port_spin = QSpinBox()
        self.port_spin.setRange(0, 65535)
        self.port_spin.setSpecialValueText("any free")
        where.addWidget(self.port_spin)
        layout.addLayout(where)
        settings = self.service.settings.share()
        self.host_combo.setEditText(settings.host)
        self.port_spin.setValue(settings.port)

        self.urls_title = QLabel("Viewers open:")
        urls = QHBoxLayout()  # the title beside the addresses: a 1280x800 dock is not tall
        urls.addWidget(self.urls_title, 0, Qt.AlignmentFlag.AlignVCenter)
        self.urls_grid = QGridLayout()
        self.urls_grid.setColumnStretch(0, 1)
        urls.addLayout(self.urls_grid, 1)
        layout.addLayout(urls)
        self.url_edits: list[QLineEdit] = []

        self.fingerprint_title = QLabel("Certificate SHA-256 fingerprint:")
        layout.addWidget(self.fingerprint_title)
        row = QHBoxLayout()
        self.fingerprint_label = QLabel()
        self.fingerprint_label.setFont(_mono())
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.fingerprint_label, 1)
        self.fingerprint_copy = copy_button(lambda: self.service.fingerprint or "")
        row.addWidget(self.fingerprint_copy, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(row)
        self.fingerprint_hint = QLabel(FINGERPRINT_HINT)
        self.fingerprint_hint.setWordWrap(True)
        self.fingerprint_hint.setStyleSheet(_HINT_STYLE)
        layout.addWidget(self.fingerprint_hint)
        layout.addStretch(1)
        return box

    def _viewers_box(self) -> QGroupBox:
        box = QGroupBox("Viewers")
        layout = QVBoxLayout(box)
        self.viewers_problem_label = QLabel()
        self.viewers_problem_label.setWordWrap(True)
        self.viewers_problem_label.setStyleSheet(meaning_style(Meaning.BAD))
        self.viewers_problem_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.viewers_problem_label.hide()
        layout.addWidget(self.viewers_problem_label)
        self.viewers_table = _table(VIEWER_COLUMNS, stretch=1)
        self.viewers_table.itemSelectionChanged.connect(self._update_buttons)
        self.viewers_table.itemDoubleClicked.connect(lambda _item: self.open_cameras_dialog())
        layout.addWidget(self.viewers_table, 1)
        # In a row under the table, not beside it: the table gets the width for its columns.
        buttons = QGridLayout()
        self.add_button = QPushButton("Add…")
        self.remove_button = QPushButton("Remove")
        self.password_button = QPushButton("New password")
        self.token_button = QPushButton("Token…")
        self.cameras_button = QPushButton("Cameras…")
        self.cameras_button.setToolTip("Choose which cameras the viewer may watch")
        self.add_button.setToolTip("A new viewer, with a generated password shown once")
        self.password_button.setToolTip("Generate a new password (shown once); the old one stops")
        self.token_button.setToolTip(
            "A player token, for players such as VLC or ffplay (shown once); replaces the "
            "previous one"
        )
        for index, (button, slot) in enumerate(
            (
                (self.add_button, self.open_add_dialog),
                (self.remove_button, self.remove_selected),
                (self.cameras_button, self.open_cameras_dialog),
                (self.password_button, self.new_password_for_selected),
                (self.token_button, self.new_token_for_selected),
            )
        ):
            button.clicked.connect(slot)
            buttons.addWidget(button, 0, index)
        buttons.setColumnStretch(5, 1)
        layout.addLayout(buttons)
        return box

    def _watchers_box(self) -> QGroupBox:
        box = QGroupBox("Watching now")
        layout = QVBoxLayout(box)
        self.watchers_label = QLabel()
        layout.addWidget(self.watchers_label)
        self.watchers_table = _table(WATCHER_COLUMNS, stretch=2)
        self.watchers_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        layout.addWidget(self.watchers_table, 1)
        return box

    # -- state -------------------------------------------------------------------------------

    def render_state(self) -> None:
        """Show the service's state: the switch, its line, the URLs and the fingerprint."""
        service = self.service
        state = service.state
        busy = state in (ShareState.STARTING, ShareState.STOPPING)
        self.switch.setChecked(state in (ShareState.ON, ShareState.STARTING))
        self.switch.setEnabled(not busy)
        self.switch.setText("Share: on" if self.switch.isChecked() else "Share: off")
        editable = state in (ShareState.OFF, ShareState.ERROR)
        self.host_combo.setEnabled(editable)
        self.port_spin.setEnabled(editable)
        style = _HINT_STYLE
        if state is ShareState.ON:
            host = service.host
            where = _LISTEN_HINTS.get(host, host)
            text = f"On: port {service.port}, {where}."
            style = meaning_style(Meaning.GOOD)
        elif state is ShareState.STARTING:
            text = "Starting…"
        elif state is ShareState.STOPPING:
            text = "Stopping: ending every viewer's stream…"
        elif state is ShareState.ERROR:
            text = f"Not sharing: {service.error}."
            style = meaning_style(Meaning.BAD)
        else:
            text = "Off: nobody can watch from outside this window."
        self.state_label.setText(text)
        self.state_label.setStyleSheet(style)

        while self.urls_grid.count():
            item = self.urls_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.url_edits = []
        urls = service.urls() if state is ShareState.ON else []
        for row, url in enumerate(urls):
            edit = QLineEdit(url)
            edit.setReadOnly(True)
            edit.setFont(_mono())
            self.urls_grid.addWidget(edit, row, 0)
            self.urls_grid.addWidget(copy_button(url), row, 1)
            self.url_edits.append(edit)
        fingerprint = service.fingerprint
        for widget in (self.urls_title, self.fingerprint_title, self.fingerprint_label):
            widget.setVisible(fingerprint is not None)
        self.fingerprint_copy.setVisible(fingerprint is not None)
        self.fingerprint_hint.setVisible(fingerprint is not None)
        self.fingerprint_label.setText(fingerprint_lines(fingerprint) if fingerprint else "")
        self.fingerprint_label.setToolTip(fingerprint or "")

    def _switch_clicked(self, checked: bool) -> None:
        if checked:
            host = self.host_combo.currentText().strip()
            problem = host_problem(host)
            if problem is not None:
                self.render_state()
                self.state_label.setText(problem)
                self.state_label.setStyleSheet(meaning_style(Meaning.BAD))
                return
            self.service.configure(host, self.port_spin.value())
            self._spawn(self.service.start(), "start sharing")
        else:
            self._spawn(self.service.stop(), "stop sharing")
        self.render_state()

    # -- viewers -----------------------------------------------------------------------------

    def selected_viewer(self) -> Viewer | None:
        items = self.viewers_table.selectedItems()
        return self._viewers.get(items[0].data(_NAME_ROLE)) if items else None

    def select_viewer(self, name: str) -> bool:
        """Select `name`'s row; False if it is not listed."""
        for row in range(self.viewers_table.rowCount()):
            item = self.viewers_table.item(row, 0)
            if item is not None and item.data(_NAME_ROLE) == name:
                self.viewers_table.selectRow(row)
                return True
        return False

    def viewer_rows(self) -> list[list[str]]:
        """The viewers table as shown."""
        return _rows(self.viewers_table)

    def render_viewers(self) -> None:
        """Rebuild the viewers table from the accounts, keeping the selection."""
        selected = self.selected_viewer()
        try:
            viewers = self.service.viewers()
        except ViewerError as exc:
            viewers = []
            self.viewers_problem_label.setText(f"The viewer accounts cannot be read: {exc}")
            self.viewers_problem_label.show()
        else:
            self.viewers_problem_label.hide()
        self._viewers = {viewer.name: viewer for viewer in viewers}
        table = self.viewers_table
        table.blockSignals(True)
        try:
            table.setRowCount(len(viewers))
            now = datetime.now(UTC)
            for row, viewer in enumerate(viewers):
                cells = (
                    viewer.name,
                    describe_grant(viewer.cameras),
                    expires_text(viewer, now),
                    "yes" if viewer.has_token else "no",
                )
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setData(_NAME_ROLE, viewer.name)
                    item.setToolTip(text)
                    table.setItem(row, column, item)
                    if column == 2 and viewer.is_expired(now):
                        item.setForeground(QBrush(colour(Meaning.BAD)))
        finally:
            table.blockSignals(False)
        if selected is None or not self.select_viewer(selected.name):
            table.clearSelection()
        _fit_columns(table)
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected_viewer() is not None
        self.add_button.setEnabled(self.service.viewers_problem is None)
        for button in (
            self.remove_button,
            self.password_button,
            self.token_button,
            self.cameras_button,
        ):
            button.setEnabled(chosen)

    def open_add_dialog(self) -> AddViewerDialog:
        """The Add viewer dialog (non-blocking); the password is shown once it exists."""
        if self.add_dialog is not None and self.add_dialog.isVisible():
            self.add_dialog.raise_()
            return self.add_dialog
        dialog = AddViewerDialog(self.service, self._viewer_added, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda *_: setattr(self, "add_dialog", None))
        dialog.open()
        self.add_dialog = dialog
        return dialog

    def _viewer_added(self, name: str, password: str) -> None:
        self.select_viewer(name)
        self._show_password(name, password, "added")

    def _show_password(self, name: str, password: str, how: str) -> None:
        urls = self.service.urls()
        where = (
            f"at <b>{html.escape(urls[0])}</b>"
            if urls
            else "at the address shown in the Share panel once Share is on"
        )
        self._show_secret(
            SecretDialog(
                f"Password for {name}",
                f"Viewer <b>{html.escape(name)}</b> {how}. They log in {where} with the name "
                f"<b>{html.escape(name)}</b> and this password:",
                "Password:",
                password,
                "This password is shown only now: SecureCam keeps only a hash of it. Copy it "
                f"and give it to {name}. If it is lost, use New password.",
                parent=self,
            )
        )

    def _show_secret(self, dialog: SecretDialog) -> None:
        if self.secret_dialog is not None:
            self.secret_dialog.close()
        dialog.finished.connect(lambda *_: setattr(self, "secret_dialog", None))
        dialog.open()
        dialog.done_button.setFocus()
        self.secret_dialog = dialog

    def remove_selected(self) -> None:
        viewer = self.selected_viewer()
        if viewer is None:
            return
        name = viewer.name

        def remove() -> None:
            try:
                self.service.remove_viewer(name)
            except ViewerError as exc:
                self._show_error("Could not remove the viewer", str(exc))

        self._confirm(
            "Remove viewer",
            f"Remove viewer {name!r}?\n\nTheir open pages and players stop within a second. "
            "Adding the name again gives it a new password.",
            remove,
        )

    def new_password_for_selected(self) -> None:
        viewer = self.selected_viewer()
        if viewer is None:
            return
        name = viewer.name

        async def renew() -> None:
            try:
                password = await self.service.new_password(name)
            except ViewerError as exc:
                self._show_error("Could not change the password", str(exc))
                return
            self._show_password(name, password, "has a new password")

        self._confirm(
            "New password",
            f"Give {name!r} a new password?\n\nThe current password stops working, and so "
            f"does {name}'s player token; their open pages and players stop.",
            lambda: self._spawn(renew(), f"give {name} a new password"),
        )

    def new_token_for_selected(self) -> None:
        viewer = self.selected_viewer()
        if viewer is None:
            return
        name = viewer.name

        def issue() -> None:
            try:
                token = self.service.new_token(name)
                cameras = self.service.cameras()
            except ViewerError as exc:
                self._show_error("Could not make a player token", str(exc))
                return
            self._show_token(viewer, token, cameras)

        if viewer.has_token:
            self._confirm(
                "Replace player token",
                f"Replace {name}'s player token?\n\nPlayers using the current one stop.",
                issue,
            )
        else:
            issue()

    def _show_token(self, viewer: Viewer, token: str, cameras: list[str]) -> None:
        granted = [c for c in cameras if viewer.can_watch(c)]
        camera = granted[0] if granted else "NAME"
        url = self.service.player_url(camera, token)
        grant = describe_grant(viewer.cameras)
        self._show_secret(
            SecretDialog(
                f"Player token for {viewer.name}",
                "Players such as VLC (Media → Open Network Stream) or ffplay open a camera's "
                f"MJPEG stream with this token, as {html.escape(viewer.name)}, for the cameras "
                f"{html.escape(viewer.name)} may watch ({html.escape(grant)}). For another "
                f"camera, replace <b>{html.escape(camera)}</b> in the URL.",
                "Token:",
                token,
                "This token is shown only now: SecureCam keeps only a hash of it. Anyone who "
                "has it can watch as this viewer; a new token or a new password replaces it.",
                [("Stream URL:", url), ("ffplay:", f'ffplay "{url}"')],
                parent=self,
            )
        )

    def open_cameras_dialog(self) -> CamerasDialog | None:
        viewer = self.selected_viewer()
        if viewer is None:
            return None
        name = viewer.name

        def chosen(grant: list[str] | AllCameras) -> None:
            try:
                self.service.set_cameras(name, grant)
            except (ValueError, ViewerError) as exc:
                self._show_error("Could not change the cameras", str(exc))

        if self.cameras_dialog is not None:
            self.cameras_dialog.close()
        dialog = CamerasDialog(viewer, self.service.cameras(), chosen, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda *_: setattr(self, "cameras_dialog", None))
        dialog.open()
        self.cameras_dialog = dialog
        return dialog

    # -- who watches -------------------------------------------------------------------------

    def watcher_rows(self) -> list[list[str]]:
        """The watching-now table as shown."""
        return _rows(self.watchers_table)

    def render_watchers(self) -> None:
        watchers = self.service.watchers()
        table = self.watchers_table
        table.setRowCount(len(watchers))
        for row, watcher in enumerate(watchers):
            cells = (
                f"{watcher.viewer} (player)" if watcher.player else watcher.viewer,
                watcher.address,
                ", ".join(watcher.cameras) or "none yet",
                f"{watcher.fps:.1f}",
                str(watcher.skipped),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column >= 3:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                table.setItem(row, column, item)
        _fit_columns(table)
        if not self.service.running:
            self.watchers_label.setText("Share is off.")
        elif not watchers:
            self.watchers_label.setText("Nobody is watching.")
        else:
            people = len({w.viewer for w in watchers})
            self.watchers_label.setText(
                f"{len(watchers)} stream{'s' if len(watchers) != 1 else ''}, "
                f"{people} viewer{'s' if people != 1 else ''}"
            )

    # -- helpers (tests find the boxes in confirm_box and error_box) ------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        spawn(coro, name=what, on_error=lambda exc: self._task_failed(what, exc))

    def _task_failed(self, what: str, exc: BaseException) -> None:
        self.render_state()
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._show_error("Share", f"Could not {what}:\n\n{detail}\n\nThe log has the details.")

    def _show_error(self, title: str, text: str) -> None:
        self.error_box = show_message(self, title, text)

    def _confirm(self, title: str, text: str, on_yes: Callable[[], None]) -> None:
        """Ask without blocking; `on_yes` runs only on an explicit Yes (No is the default)."""
        if self.confirm_box is not None:
            self.confirm_box.close()
        box = QMessageBox(
            QMessageBox.Icon.Question,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def clicked(button: Any) -> None:
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                on_yes()

        box.buttonClicked.connect(clicked)
        box.finished.connect(lambda *_: setattr(self, "confirm_box", None))
        box.open()
        self.confirm_box = box


def _table(columns: tuple[str, ...], *, stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setWordWrap(False)
    table.setAlternatingRowColors(True)
    table.setMinimumHeight(80)  # its header and two rows
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    for column in range(len(columns)):
        header.setSectionResizeMode(
            column,
            QHeaderView.ResizeMode.Stretch
            if column == stretch
            else QHeaderView.ResizeMode.ResizeToContents,
        )
    return table


def _fit_columns(table: QTableWidget) -> None:
    """Ask for the width every column's header and cells need (up to _TABLE_MAX px), so the
    panel gives the table room rather than eliding a name or a camera list; past that the
    panel scrolls."""
    header = table.horizontalHeader()
    need = 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width()
    for column in range(table.columnCount()):
        need += max(table.sizeHintForColumn(column), header.sectionSizeHint(column))
    table.setMinimumWidth(min(_TABLE_MAX, need))


def _rows(table: QTableWidget) -> list[list[str]]:
    return [
        [
            item.text() if (item := table.item(row, column)) is not None else ""
            for column in range(table.columnCount())
        ]
        for row in range(table.rowCount())
    ]
