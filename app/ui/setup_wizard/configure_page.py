"""Page 4: Wi-Fi (from the camera's own scan), server address, name and camera settings;
then provision."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWizardPage,
)

from app.protocol.endpoints import DEFAULT_PORT, WILDCARD_HOSTS
from app.serial.improv_codec import Network
from app.serial.link import LinkState
from app.serial.ports import PortInfo
from app.serial.provisioner import ProvisionError, ProvisionRequest, ProvisionResult, check_request
from app.services.app_services import AppServices
from app.services.network import lan_addresses
from app.services.setup_service import SetupService
from app.ui.setup_wizard.camera_fields import CameraFields
from app.ui.setup_wizard.common import error_style, label, ok_style


class ConfigurePage(QWizardPage):
    """Wi-Fi (from the camera's own scan), server address, name and picture; then provision.

    The page is complete while the service's link is VERIFIED (the provisioning's result is
    the service's `result`); `port` gives the port chosen on the first page.
    """

    def __init__(
        self, services: AppServices, setup: SetupService, port: Callable[[], str | None]
    ) -> None:
        super().__init__()
        self.services = services
        self.setup = setup
        self._chosen_port = port
        self.setTitle("Wi-Fi and server")
        self.setSubTitle(
            "The camera joins this Wi-Fi network and streams, encrypted, to this computer."
        )
        self.port = QComboBox()
        self.scan_button = QPushButton("&Scan")
        self.ssid = QComboBox()
        self.ssid.setEditable(True)
        self.ssid.lineEdit().setPlaceholderText("network name (2.4 GHz)")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Wi-Fi password")
        self.host = QComboBox()
        self.host.setEditable(True)
        self.host.lineEdit().setPlaceholderText("this computer's address on the Wi-Fi network")
        self.server_port = QSpinBox()
        self.server_port.setRange(1, 65535)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. porch (letters, digits, . _ -)")
        self.camera = CameraFields()
        self.provision_button = QPushButton("&Provision")
        self.status = label()
        self.steps = QPlainTextEdit()
        self.steps.setReadOnly(True)
        port_row = QHBoxLayout()
        port_row.addWidget(self.port, 1)
        ssid_row = QHBoxLayout()
        ssid_row.addWidget(self.ssid, 1)
        ssid_row.addWidget(self.scan_button)
        server_row = QHBoxLayout()
        server_row.addWidget(self.host, 1)
        server_row.addWidget(QLabel("port"))
        server_row.addWidget(self.server_port)
        form = QFormLayout()
        form.addRow("Serial port:", port_row)
        form.addRow("Wi-Fi network:", ssid_row)
        form.addRow("Wi-Fi password:", self.password)
        form.addRow("Server (this computer):", server_row)
        form.addRow("Camera name:", self.name)
        form.addRow("Picture:", self.camera)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.provision_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.steps, 1)
        self.scan_button.clicked.connect(self.scan)
        self.provision_button.clicked.connect(self.start)
        setup.portsChanged.connect(self._set_ports)
        setup.networksScanned.connect(self._scanned)
        setup.scanFailed.connect(self._scan_failed)
        setup.provisionStep.connect(self.steps.appendPlainText)
        setup.provisioned.connect(self._provisioned)
        setup.provisionFailed.connect(self._failed)
        setup.busyChanged.connect(self._follow)
        setup.stateChanged.connect(self._follow)

    def initializePage(self) -> None:
        self._set_ports(self.setup.ports)
        chosen = self._chosen_port()
        if chosen is not None:
            self.port.setCurrentIndex(max(0, self.port.findData(chosen)))
        receiver = self.services.receiver
        self.host.clear()
        bound = receiver.host.strip()
        hosts = ([bound] if bound not in WILDCARD_HOSTS else []) + lan_addresses()
        for host in dict.fromkeys(hosts):
            self.host.addItem(host)
        self.server_port.setValue(receiver.port or DEFAULT_PORT)
        if not self.name.text():
            self.name.setText(self._free_name())
        if not self.status.text():
            self.status.setText(
                "Reset the camera (IO0 jumper removed) so it runs its firmware, then press"
                " Scan to list the Wi-Fi networks it sees."
            )

    def _free_name(self) -> str:
        taken = {entry.name for entry in self.services.devices.entries()}
        number = 1
        while f"cam-{number}" in taken:
            number += 1
        return f"cam-{number}"

    def _set_ports(self, ports: list[PortInfo]) -> None:
        current = self.port.currentData()
        self.port.clear()
        for info in ports:
            self.port.addItem(info.label, info.device)
        if current is not None and self.port.findData(current) >= 0:
            self.port.setCurrentIndex(self.port.findData(current))

    def select_port(self, device: str) -> None:
        """Provision the camera on `device`."""
        self.port.setCurrentIndex(self.port.findData(device))

    def scan(self) -> None:
        """Ask the camera for the networks it sees."""
        port = self.port.currentData()
        if port and self.setup.scan(port):
            self.status.setText(f"Asking the camera on {port} for Wi-Fi networks …")
            self.status.setStyleSheet("")

    def _scanned(self, networks: list[Network]) -> None:
        typed = self.ssid.currentText()
        self.ssid.clear()
        for network in networks:
            lock = "secured" if network.secured else "open"
            self.ssid.addItem(f"{network.ssid}   ({network.rssi} dBm, {lock})", network.ssid)
        if typed:
            self.ssid.setEditText(typed)
        elif networks:
            self.ssid.setCurrentIndex(0)
        self.status.setText(f"The camera sees {len(networks)} network(s).")
        self.status.setStyleSheet("")

    def _scan_failed(self, message: str, guidance: str) -> None:
        self.status.setText(
            f"Wi-Fi scan failed: {message}. Type the network name instead."
            + (f"\n{guidance}" if guidance else "")
        )
        self.status.setStyleSheet(error_style())

    def ssid_value(self) -> str:
        """The chosen network's SSID (the item's, not its label), or what was typed."""
        index = self.ssid.currentIndex()
        text = self.ssid.currentText()
        if index >= 0 and text == self.ssid.itemText(index):
            return str(self.ssid.itemData(index))
        return text.strip()

    def request(self) -> ProvisionRequest:
        """What the camera would be given, as entered."""
        return ProvisionRequest(
            name=self.name.text().strip(),
            ssid=self.ssid_value(),
            password=self.password.text(),
            server_host=self.host.currentText().strip(),
            server_port=self.server_port.value(),
            camera=self.camera.settings(),
        )

    def start(self) -> None:
        """Provision the camera with the settings shown (checked here first)."""
        request = self.request()
        if not request.ssid:
            self._failed("choose or type the Wi-Fi network")
            return
        try:
            check_request(request)
        except ProvisionError as exc:
            self._failed(exc.message, exc.guidance)
            return
        self.steps.clear()
        if self.setup.provision(self.port.currentData() or "", request):
            self.status.setText("Provisioning …")
            self.status.setStyleSheet("")

    def _provisioned(self, result: ProvisionResult) -> None:
        self.status.setText(
            f"Camera {result.device_name!r} is set up: it streams to {result.server_url}."
            f" Key fingerprint {result.fingerprint}."
        )
        self.status.setStyleSheet(ok_style())

    def _failed(self, message: str, guidance: str = "") -> None:
        self.status.setText(
            f"Not provisioned: {message}. Nothing was registered."
            + (f"\n{guidance}" if guidance else "")
        )
        self.status.setStyleSheet(error_style())

    def _follow(self, *_: object) -> None:
        idle = not self.setup.busy
        for widget in (self.provision_button, self.scan_button, self.port):
            widget.setEnabled(idle)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.setup.state is LinkState.VERIFIED and not self.setup.busy
