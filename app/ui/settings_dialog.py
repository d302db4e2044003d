"""Edit the receiver settings: listen address, limits and the demo camera count."""

from __future__ import annotations

import ipaddress
import math
import re

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.protocol.endpoints import WILDCARD_HOSTS
from app.protocol.limits import Limits
from app.protocol.records import MAX_CHUNK_DATA
from app.services.network import lan_addresses
from app.services.settings import DEFAULT_HOST, ReceiverSettings
from app.ui.theme import Meaning, meaning_style

PORT_RANGE = (1, 65535)
MAX_CONNECTIONS_RANGE = (1, 4096)
# A frame travels in at most max_chunks_per_frame chunks: a larger limit could never be reached.
MAX_FRAME_MIB_RANGE = (
    0.06,
    math.floor(MAX_CHUNK_DATA * Limits().max_chunks_per_frame / (1024 * 1024) * 100) / 100,
)

HANDSHAKE_TIMEOUT_RANGE = (0.5, 60.0)
# Above the receiver's ping interval, or a quiet but healthy camera would be dropped.
IDLE_TIMEOUT_RANGE = (max(2.0, 2 * Limits().ping_interval_s), 600.0)
DEMO_COUNT_RANGE = (1, 16)

_HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+")
_HINT_STYLE = "color: palette(placeholder-text);"
# What each of the WILDCARD_HOSTS listens on.
_WILDCARD_HINTS = {
    "0.0.0.0": "Every IPv4 network of this computer: cameras on the LAN can connect.",
    "::": "Every IPv6 network of this computer (IPv6 only).",
    "": "Every network of this computer, IPv4 and IPv6.",
}
assert _WILDCARD_HINTS.keys() == WILDCARD_HOSTS


def host_problem(text: str) -> str | None:
    """Why `text` cannot be a listen address (IP address or host name), or None."""
    host = text.strip()
    if host in WILDCARD_HOSTS:
        return None if host else f"Enter an address to listen on, e.g. {DEFAULT_HOST}."
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    if _HOSTNAME.fullmatch(host) and not host.replace(".", "").isdigit():
        return None
    return f"{host!r} is not an IP address or host name."


def host_hint(text: str) -> str:
    """A one-line explanation of what listening on `text` means."""
    host = text.strip()
    if host in WILDCARD_HOSTS:
        return _WILDCARD_HINTS[host]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "Listen on the address this host name resolves to."
    if address.is_loopback:
        return "This computer only: simulated cameras work, ESP32-CAMs cannot connect."
    return "Only this address: cameras must connect to it."


class SettingsDialog(QDialog):
    """Edits a copy of `settings`; OK is disabled, with the reason shown, while invalid.

    Changes take effect once the caller saves `result_settings()` and restarts the receiver.
    """

    def __init__(self, settings: ReceiverSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Receiver settings")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        form = QFormLayout()

        self.host_combo = QComboBox()
        self.host_combo.setEditable(True)
        self.host_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for host in dict.fromkeys([DEFAULT_HOST, "127.0.0.1", "::", *lan_addresses()]):
            self.host_combo.addItem(host)
        form.addRow("Listen address:", self.host_combo)
        self.host_hint = QLabel()
        self.host_hint.setWordWrap(True)
        self.host_hint.setStyleSheet(_HINT_STYLE)
        form.addRow("", self.host_hint)

        self.port_spin = QSpinBox()
        self.port_spin.setRange(*PORT_RANGE)
        form.addRow("Port:", self.port_spin)
        self.port_hint = QLabel()
        self.port_hint.setWordWrap(True)
        self.port_hint.setStyleSheet(_HINT_STYLE)
        form.addRow("", self.port_hint)

        self.max_connections_spin = QSpinBox()
        self.max_connections_spin.setRange(*MAX_CONNECTIONS_RANGE)
        self.max_connections_spin.setToolTip("Connections beyond this are refused at once.")
        form.addRow("Max connections:", self.max_connections_spin)

        self.max_frame_spin = self._double(MAX_FRAME_MIB_RANGE, " MiB", 0.25, 2)
        self.max_frame_spin.setToolTip("Frames larger than this are refused (UXGA JPEG: ~0.3 MiB).")
        form.addRow("Max frame size:", self.max_frame_spin)
        self.handshake_spin = self._double(HANDSHAKE_TIMEOUT_RANGE, " s", 0.5, 1)
        self.handshake_spin.setToolTip("A camera must finish the Noise handshake within this.")
        form.addRow("Handshake timeout:", self.handshake_spin)
        self.idle_spin = self._double(IDLE_TIMEOUT_RANGE, " s", 1.0, 1)
        self.idle_spin.setToolTip("A connection silent for this long is closed.")
        form.addRow("Idle timeout:", self.idle_spin)
        self.demo_spin = QSpinBox()
        self.demo_spin.setRange(*DEMO_COUNT_RANGE)
        self.demo_spin.setToolTip("How many simulated cameras a demo starts.")
        form.addRow("Demo cameras:", self.demo_spin)
        layout.addLayout(form)

        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(meaning_style(Meaning.BAD))
        layout.addWidget(self.problem_label)
        note = QLabel("The receiver restarts with the new settings; connected cameras reconnect.")
        note.setWordWrap(True)
        note.setStyleSheet(_HINT_STYLE)
        layout.addWidget(note)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.defaults_button = self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.defaults_button.clicked.connect(lambda: self.set_settings(ReceiverSettings()))
        self.host_combo.editTextChanged.connect(self._validate)
        self.port_spin.valueChanged.connect(self._validate)

        self.set_settings(settings)

    @staticmethod
    def _double(
        bounds: tuple[float, float], suffix: str, step: float, decimals: int
    ) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setDecimals(decimals)
        spin.setRange(*bounds)
        spin.setSingleStep(step)
        spin.setSuffix(suffix)
        return spin

    def set_settings(self, settings: ReceiverSettings) -> None:
        """Show `settings` (values out of range are clamped to the nearest allowed)."""
        self.host_combo.setEditText(settings.host)
        self.port_spin.setValue(settings.port)
        self.max_connections_spin.setValue(settings.max_connections)
        self.max_frame_spin.setValue(settings.max_frame_mib)
        self.handshake_spin.setValue(settings.handshake_timeout_s)
        self.idle_spin.setValue(settings.idle_timeout_s)
        self.demo_spin.setValue(settings.demo_count)
        self._validate()

    def problem(self) -> str | None:
        """Why the settings as entered cannot be used, or None."""
        return host_problem(self.host_combo.currentText())

    def _validate(self) -> None:
        problem = self.problem()
        self.ok_button.setEnabled(problem is None)
        self.problem_label.setText(problem or "")
        self.problem_label.setVisible(problem is not None)
        self.host_hint.setText("" if problem else host_hint(self.host_combo.currentText()))
        self.port_hint.setText(
            "Ports below 1024 usually need administrator rights."
            if self.port_spin.value() < 1024
            else ""
        )
        self.port_hint.setVisible(self.port_spin.value() < 1024)

    def accept(self) -> None:
        """Close with Accepted, but only while the settings are valid (Enter included)."""
        if self.problem() is None:
            super().accept()

    def result_settings(self) -> ReceiverSettings:
        """The settings as entered (call after `exec()` returned Accepted)."""
        settings = ReceiverSettings(
            host=self.host_combo.currentText().strip(),
            port=self.port_spin.value(),
            max_connections=self.max_connections_spin.value(),
            max_frame_mib=round(self.max_frame_spin.value(), 2),
            handshake_timeout_s=round(self.handshake_spin.value(), 1),
            idle_timeout_s=round(self.idle_spin.value(), 1),
            demo_count=self.demo_spin.value(),
        )
        return settings
