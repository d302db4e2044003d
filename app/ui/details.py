"""A camera's details, from a tile's menu: what the registry and the receiver know of it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from app.receiver.stats import DeviceStats
from app.services.devices_service import DeviceEntry
from app.ui.devices_panel import state_text, suite_text
from app.ui.tile import failed_attempts_text, settings_text


def detail_rows(
    device: str, entry: DeviceEntry | None, stats: DeviceStats | None
) -> list[tuple[str, str]]:
    """(label, value) rows; 'unknown' where the camera has not said (never a made-up 0)."""
    status = None if stats is None else stats.status
    unknown = "unknown"
    camera_drops = None if status is None else status.frames_dropped
    rssi = unknown if status is None or not status.rssi_dbm else f"{status.rssi_dbm} dBm"
    resolution = (
        unknown if status is None else f"{status.width}×{status.height}, {settings_text(status)}"
    )
    return [
        ("Camera", device + (" (demo)" if entry is not None and entry.demo else "")),
        ("State", state_text(stats)),
        ("Suite", unknown if entry is None else suite_text(entry, stats)),
        ("Key fingerprint", unknown if entry is None else entry.fingerprint),
        ("Address", (stats.peer if stats is not None and stats.peer else unknown)),
        ("Firmware", unknown if status is None else status.firmware),
        ("Wi-Fi signal", rssi),  # 0 in STATUS: the camera does not know
        ("Resolution", resolution),
        ("Frames received", "0" if stats is None else f"{stats.frames_received:,}"),
        (
            "Frames dropped",
            ("0" if stats is None else f"{stats.frames_dropped:,} here")
            + ("" if camera_drops is None else f", {camera_drops:,} by the camera"),
        ),
        (
            "Failed attempts",
            failed_attempts_text(0 if stats is None else stats.failed_attempts) or "none",
        ),
    ]


class DetailsDialog(QDialog):
    def __init__(
        self,
        device: str,
        entry: DeviceEntry | None,
        stats: DeviceStats | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{device}: details")
        form = QFormLayout(self)
        self.values: dict[str, QLabel] = {}
        for label, value in detail_rows(device, entry, stats):
            shown = QLabel(value)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setWordWrap(True)
            form.addRow(f"{label}:", shown)
            self.values[label] = shown
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setMinimumWidth(460)
