"""Page 1: pick the serial port; likely ESP32 adapters first, updated on hot-plug."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from app.serial.ports import NO_PORT_HELP, PortInfo
from app.services.setup_service import SetupService
from app.ui.setup_wizard.common import Page, label


class PortPage(QWizardPage):
    """Pick the serial port; likely ESP32 adapters first, updated on hot-plug."""

    def __init__(self, setup: SetupService) -> None:
        super().__init__()
        self.setup = setup
        self.setTitle("Connect the camera")
        self.setSubTitle("Plug the ESP32-CAM (on its MB board or a USB-serial adapter) in.")
        self.list = QListWidget()
        self.refresh_button = QPushButton("&Refresh")
        self.help = label(NO_PORT_HELP)
        self.help.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.skip_flash = QCheckBox(
            "The camera already runs SecureCam firmware: skip to Wi-Fi and server settings"
        )
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(label("Serial ports (likely ESP32 adapters first):"), 1)
        row.addWidget(self.refresh_button)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.help)
        layout.addWidget(self.skip_flash)
        self.help.hide()
        self.refresh_button.clicked.connect(setup.refresh_ports)
        setup.portsChanged.connect(self.set_ports)
        self.list.currentItemChanged.connect(lambda *_: self.completeChanged.emit())
        self.set_ports(setup.ports)

    def initializePage(self) -> None:
        self.setup.start_watching()

    def set_ports(self, ports: list[PortInfo]) -> None:
        """Show `ports`, keeping the selection if that port is still there."""
        current = self.port()
        self.list.clear()
        for info in ports:
            item = QListWidgetItem(info.label + ("  ★ likely ESP32 adapter" if info.likely else ""))
            item.setData(Qt.ItemDataRole.UserRole, info.device)
            self.list.addItem(item)
            if info.device == current or (current is None and self.list.count() == 1):
                self.list.setCurrentItem(item)
        self.help.setVisible(not ports)
        self.list.setVisible(bool(ports))
        self.completeChanged.emit()

    def port(self) -> str | None:
        """The chosen port's device path, None before one is chosen."""
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def select(self, device: str) -> None:
        """Choose the port `device` (if listed)."""
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == device:
                self.list.setCurrentRow(row)

    def isComplete(self) -> bool:
        return self.port() is not None

    def nextId(self) -> int:
        return Page.CONFIGURE if self.skip_flash.isChecked() else Page.IDENTIFY
