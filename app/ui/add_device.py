"""Register a camera: pick a name, then see its key (once), fingerprint and connection URLs."""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.devices.registry import Device, RegistryError
from app.protocol.hello import validate_device_id
from app.services.devices_service import DevicesService
from app.services.network import camera_url_note, camera_urls
from app.ui.theme import Meaning, meaning_style

log = logging.getLogger(__name__)

NAME_PAGE = 0
RESULT_PAGE = 1
_HINT_STYLE = "color: palette(placeholder-text);"
_COPIED_MS = 1500


class AddDeviceDialog(QDialog):
    """Page 1 asks for a name and calls `devices.add`; page 2 shows the result.

    `created` is the new Device once registered (then `exec()` returns Accepted however the
    dialog is closed), else None. The key appears only in `key_edit`: nothing here logs it.
    """

    def __init__(
        self,
        devices: DevicesService,
        port: int,
        host: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add camera")
        self.devices = devices
        self.port = port
        self.host = host
        self.created: Device | None = None
        self._taken: dict[str, bool] = {}  # name -> is a demo device

        self.stack = QStackedWidget()
        self.stack.addWidget(self._name_page())
        self.stack.addWidget(QWidget())  # the result page, built once the device exists
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        # Only now is the button inside the dialog: set earlier, the dialog would not know it
        # and would make the first auto-default button (Cancel) the default when shown.
        self.create_button.setDefault(True)

        devices.devicesChanged.connect(self._refresh_taken)
        self._refresh_taken()

    # -- page 1: the name ------------------------------------------------------------------

    def _name_page(self) -> QWidget:
        page = QWidget()
        page.setMinimumWidth(460)  # not the dialog's: that would let the key field shrink
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        intro = QLabel(
            "Pick a name for the camera. The camera sends it when it connects, so it goes "
            "into the camera's configuration together with the key SecureCam generates next."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. porch")
        self.name_edit.setMaxLength(64)  # longer than valid, so the reason shows, not a wall
        form.addRow("Name:", self.name_edit)
        layout.addLayout(form)

        self.name_status = QLabel()
        self.name_status.setWordWrap(True)
        # Room for the longest reason, so the dialog never clips it nor jumps while typing.
        self.name_status.setMinimumHeight(3 * self.name_status.fontMetrics().lineSpacing())
        self.name_status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.name_status)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(meaning_style(Meaning.BAD))
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        layout.addStretch(1)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.create_button = QPushButton("Create")
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.create_button)
        layout.addLayout(buttons)

        self.name_edit.textChanged.connect(self._validate)
        # Enter in the name field reaches the dialog, which clicks the default button (Create).
        # Handling returnPressed as well would show the key page first and let the same key
        # press click that page's default button (Done), closing the dialog unseen.
        self.create_button.clicked.connect(self._create)
        self.cancel_button.clicked.connect(self.reject)
        return page

    def _refresh_taken(self) -> None:
        self._taken = {entry.name: entry.demo for entry in self.devices.entries()}
        if self.created is None:
            self._validate()

    def name_problem(self, text: str) -> str | None:
        """Why `text` (stripped) cannot be a new device's name, or None if it can."""
        name = text.strip()
        if not name:
            return "Enter a name: 1-32 letters, digits, '.', '_' or '-'."
        try:
            validate_device_id(name)
        except ValueError as exc:
            return str(exc).capitalize() + "."
        if name in self._taken:
            if self._taken[name]:
                return f"{name!r} is the name of a running demo camera."
            return f"A device named {name!r} already exists."
        return None

    def _validate(self) -> None:
        problem = self.name_problem(self.name_edit.text())
        self.create_button.setEnabled(problem is None)
        self.error_label.hide()
        if problem is None:
            self.name_status.setText("A new key is generated when you press Create.")
            self.name_status.setStyleSheet(_HINT_STYLE)
        else:
            self.name_status.setText(problem)
            empty = not self.name_edit.text().strip()
            self.name_status.setStyleSheet(_HINT_STYLE if empty else meaning_style(Meaning.BAD))

    def _create(self) -> None:
        if self.created is not None or not self.create_button.isEnabled():
            return
        name = self.name_edit.text().strip()
        try:
            device = self.devices.add(name)
        except (ValueError, RegistryError) as exc:
            # Registry and name errors never quote a key.
            log.warning("could not add device %s: %s", name, exc)
            self.error_label.setText(f"Could not add the camera: {exc}")
            self.error_label.show()
            return
        self.created = device
        self._show_result(device)

    # -- page 2: the result ----------------------------------------------------------------

    def _show_result(self, device: Device) -> None:
        page = self._result_page(device)
        old = self.stack.widget(RESULT_PAGE)
        self.stack.removeWidget(old)
        old.deleteLater()
        self.stack.insertWidget(RESULT_PAGE, page)
        self.stack.setCurrentIndex(RESULT_PAGE)
        self.setWindowTitle(f"Camera {device.name!r} added")
        self.done_button.setDefault(True)  # now that it is inside the dialog
        self.done_button.setFocus()
        self.adjustSize()

    def _result_page(self, device: Device) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        title = QLabel(
            f"<b>Camera &lsquo;{html.escape(device.name)}&rsquo; is registered.</b> "
            "Only encrypted streams are accepted from it."
        )
        title.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(title)

        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        row = 0
        grid.addWidget(QLabel("Name:"), row, 0)
        self.name_value = QLineEdit(device.name)
        self.name_value.setReadOnly(True)
        self.name_value.setFont(mono)
        grid.addWidget(self.name_value, row, 1)
        self.copy_name_button = self._copy_button(device.name)
        grid.addWidget(self.copy_name_button, row, 2)

        row += 1
        key = device.key.to_text()
        grid.addWidget(QLabel("Key:"), row, 0)
        self.key_edit = QLineEdit(key)
        self.key_edit.setReadOnly(True)
        self.key_edit.setFont(mono)
        self.key_edit.setMinimumWidth(self.key_edit.fontMetrics().horizontalAdvance(key) + 16)
        self.key_edit.setCursorPosition(0)
        grid.addWidget(self.key_edit, row, 1)
        self.copy_key_button = self._copy_button(key)
        grid.addWidget(self.copy_key_button, row, 2)

        row += 1
        self.key_notice = QLabel(
            "This key is shown only now. The camera's firmware configuration needs it: copy it "
            "there and keep it secret, since anyone who has it can stream as this camera."
        )
        self.key_notice.setWordWrap(True)
        self.key_notice.setStyleSheet(meaning_style(Meaning.WARNING) + " font-weight: bold;")
        grid.addWidget(self.key_notice, row, 1, 1, 2)
        row += 1
        recovery = QLabel(
            f"Lost it? Remove the camera and add it again, or print it in a terminal with "
            f'<code style="white-space: nowrap">securecam device show {html.escape(device.name)}'
            " --key</code>."
        )
        recovery.setWordWrap(True)
        recovery.setStyleSheet(_HINT_STYLE)
        grid.addWidget(recovery, row, 1, 1, 2)

        row += 1
        grid.addWidget(QLabel("Fingerprint:"), row, 0)
        self.fingerprint_label = QLabel(device.key.fingerprint)
        self.fingerprint_label.setFont(mono)
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(self.fingerprint_label, row, 1, 1, 2)
        row += 1
        fp_hint = QLabel(
            "The camera derives the same fingerprint from its key: compare them to check the paste."
        )
        fp_hint.setWordWrap(True)
        fp_hint.setStyleSheet(_HINT_STYLE)
        grid.addWidget(fp_hint, row, 1, 1, 2)

        row += 1
        self.url_edits: list[QLineEdit] = []
        self.url_copy_buttons: list[QPushButton] = []
        self.url_notes: list[QLabel] = []
        if self.port <= 0:
            grid.addWidget(QLabel("Connect to:"), row, 0)
            stopped = QLabel(
                "The receiver is not listening, so there is no address yet. Check the "
                "receiver settings; the address appears in the status bar once it listens."
            )
            stopped.setWordWrap(True)
            stopped.setStyleSheet(meaning_style(Meaning.BAD))
            grid.addWidget(stopped, row, 1, 1, 2)
        else:
            urls = camera_urls(self.port, self.host)
            grid.addWidget(
                QLabel("Connect to:" if len(urls) == 1 else "Connect to one of:"), row, 0
            )
            for url in urls:
                edit = QLineEdit(url)
                edit.setReadOnly(True)
                edit.setFont(mono)
                button = self._copy_button(url)
                grid.addWidget(edit, row, 1)
                grid.addWidget(button, row, 2)
                self.url_edits.append(edit)
                self.url_copy_buttons.append(button)
                row += 1
                note_text = camera_url_note(url)
                if note_text is not None:
                    note = QLabel(note_text)
                    note.setWordWrap(True)
                    note.setStyleSheet(meaning_style(Meaning.WARNING) + " font-weight: bold;")
                    grid.addWidget(note, row, 1, 1, 2)
                    self.url_notes.append(note)
                    row += 1
        layout.addLayout(grid)
        layout.addStretch(1)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.done_button = QPushButton("Done")
        self.done_button.clicked.connect(self.accept)
        buttons.addWidget(self.done_button)
        layout.addLayout(buttons)
        return page

    def _copy_button(self, text: str) -> QPushButton:
        button = QPushButton("Copy")
        button.setAutoDefault(False)
        button.clicked.connect(lambda: self._copy(button, text))
        return button

    @staticmethod
    def _copy(button: QPushButton, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        button.setText("Copied")
        QTimer.singleShot(_COPIED_MS, button, lambda: button.setText("Copy"))

    def reject(self) -> None:
        """Escape or the close box after registering still counts as done: the device exists."""
        if self.created is not None:
            self.accept()
        else:
            super().reject()
