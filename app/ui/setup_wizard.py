"""Set up an ESP32-CAM over USB: port, identify, flash, Wi-Fi and server, then see it stream.

The wizard talks to `SetupService` (serial work in worker threads) and `AppServices` (the
registry and the receiver) through methods and signals only. Nothing shown or logged here
holds a secret: the Wi-Fi password stays in its (masked) field and the device key is never
read, only its fingerprint is shown.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.protocol.hello import is_valid_device_id
from app.protocol.session import monotonic_us
from app.resources import BOOT_MODE_DIAGRAM, read_resource
from app.serial.flasher import (
    DEFAULT_BAUD,
    FALLBACK_BAUD,
    GUIDANCE_BOOT_MODE,
    FlashError,
    Identity,
    find_build,
    load_images,
)
from app.serial.improv_codec import Network
from app.serial.ports import NO_PORT_HELP, PortInfo
from app.serial.provisioner import ProvisionRequest, ProvisionResult
from app.services.app_services import AppServices
from app.services.decoder import DecodedFrame
from app.services.network import lan_addresses
from app.services.setup_service import SetupService
from app.ui.tile import CameraTile, TileInfo, state_label

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
VERIFY_TIMEOUT_S = 90.0
ERROR_STYLE = "color: #c62828;"
OK_STYLE = "color: #2e7d32; font-weight: bold;"
HINT_STYLE = "color: palette(placeholder-text);"

PORT_PAGE, IDENTIFY_PAGE, FLASH_PAGE, CONFIGURE_PAGE, VERIFY_PAGE = range(5)

VERIFY_HELP = (
    "No picture yet. Check:\n"
    "  • The Wi-Fi network is 2.4 GHz (the ESP32 cannot join 5 GHz networks) and the camera"
    " is in range.\n"
    "  • This computer's firewall lets incoming connections reach TCP port {port}.\n"
    "  • The server address {host} is this computer's address on the camera's network (not"
    " a VPN or another interface); go back and pick another one if not.\n"
    "  • The camera has power and was reset after flashing (IO0 jumper removed)."
)


def _label(text: str = "", style: str = "", *, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if style:
        label.setStyleSheet(style)
    return label


class PortPage(QWizardPage):
    """Pick the serial port; likely ESP32 adapters first, updated on hot-plug."""

    def __init__(self, setup: SetupService) -> None:
        super().__init__()
        self.setup = setup
        self.setTitle("Connect the camera")
        self.setSubTitle("Plug the ESP32-CAM (on its MB board or a USB-serial adapter) in.")
        self.list = QListWidget()
        self.refresh_button = QPushButton("&Refresh")
        self.help = _label(NO_PORT_HELP)
        self.help.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.skip_flash = QCheckBox(
            "The camera already runs SecureCam firmware: skip to Wi-Fi and server settings"
        )
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(_label("Serial ports (likely ESP32 adapters first):"), 1)
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
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def select(self, device: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == device:
                self.list.setCurrentRow(row)

    def isComplete(self) -> bool:
        return self.port() is not None

    def nextId(self) -> int:
        return CONFIGURE_PAGE if self.skip_flash.isChecked() else IDENTIFY_PAGE


class IdentifyPage(QWizardPage):
    """Ask the ROM loader who it is: chip, MAC, flash size; guidance on failure."""

    def __init__(self, setup: SetupService) -> None:
        super().__init__()
        self.setup = setup
        self.identity: Identity | None = None
        self.baud = DEFAULT_BAUD
        self.setTitle("Identify the board")
        self.setSubTitle(
            "Put the board in download mode (IO0 to GND, press RESET); the wizard then reads"
            " its chip, MAC address and flash size."
        )
        self.status = _label()
        self.chip = _label()
        self.mac = _label()
        self.flash_size = _label()
        self.guidance = _label(style=ERROR_STYLE)
        self.diagram = QSvgWidget()
        self.diagram.load(read_resource(BOOT_MODE_DIAGRAM))  # package data, not a checkout path
        renderer = self.diagram.renderer()
        renderer.setAspectRatioMode(Qt.AspectRatioMode.KeepAspectRatio)
        self.diagram.setMinimumSize(360, 200)
        self.diagram.setMaximumHeight(320)
        self.retry_button = QPushButton("&Retry")
        self.slow_button = QPushButton(f"Retry at &lower baud ({FALLBACK_BAUD})")
        form = QFormLayout()
        form.addRow("Chip:", self.chip)
        form.addRow("MAC address:", self.mac)
        form.addRow("Flash size:", self.flash_size)
        buttons = QHBoxLayout()
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.slow_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(form)
        layout.addWidget(self.guidance)
        layout.addWidget(self.diagram, 1)
        layout.addLayout(buttons)
        layout.addStretch(0)
        self.retry_button.clicked.connect(lambda: self.start(self.baud))
        self.slow_button.clicked.connect(lambda: self.start(FALLBACK_BAUD))
        setup.identified.connect(self._identified)
        setup.identifyFailed.connect(self._failed)
        self._show_error(False)

    def initializePage(self) -> None:
        self.start(DEFAULT_BAUD)

    def _port(self) -> str:
        return self.wizard().port_page.port() or ""

    def start(self, baud: int) -> None:
        """Identify the board on the chosen port at `baud`."""
        self.baud = baud
        self.identity = None
        for label in (self.chip, self.mac, self.flash_size):
            label.clear()
        self._show_error(False)
        if self.setup.identify(self._port(), baud):
            self.status.setText(f"Talking to the board on {self._port()} …")
            self.status.setStyleSheet("")
            self.retry_button.setEnabled(False)
            self.slow_button.setEnabled(False)
        self.completeChanged.emit()

    def _identified(self, identity: Identity) -> None:
        self.identity = identity
        self.status.setText("Found the board.")
        self.status.setStyleSheet(OK_STYLE)
        self.chip.setText(identity.description or identity.chip)
        self.mac.setText(identity.mac)
        self.flash_size.setText(identity.flash_size or "unknown")
        self.retry_button.setEnabled(True)
        self.slow_button.setEnabled(True)
        self.completeChanged.emit()

    def _failed(self, message: str, guidance: str) -> None:
        self.status.setText(message)
        self.status.setStyleSheet(ERROR_STYLE)
        self.guidance.setText(guidance)
        self._show_error(True, boot_mode=guidance == GUIDANCE_BOOT_MODE)
        self.retry_button.setEnabled(True)
        self.slow_button.setEnabled(True)
        self.completeChanged.emit()

    def _show_error(self, shown: bool, *, boot_mode: bool = False) -> None:
        self.guidance.setVisible(shown)
        self.diagram.setVisible(boot_mode)

    def isComplete(self) -> bool:
        return self.identity is not None and not self.setup.busy


class FlashPage(QWizardPage):
    """Write the firmware build (or a chosen .bin) with a progress bar and esptool's log."""

    def __init__(self, setup: SetupService, firmware_root: Path) -> None:
        super().__init__()
        self.setup = setup
        self.done = False
        self.flashing = False
        self.setTitle("Flash the firmware")
        self.setSubTitle("Write SecureCam's firmware to the board (about a minute).")
        build = find_build(firmware_root)
        self.path = QLineEdit(str(build) if build else "")
        self.path.setPlaceholderText("firmware/.pio/build/esp32cam or a merged .bin")
        self.browse_button = QPushButton("&Choose .bin…")
        self.baud = QComboBox()
        for rate in (DEFAULT_BAUD, 230400, FALLBACK_BAUD):
            self.baud.addItem(f"{rate} Bd", rate)
        self.flash_button = QPushButton("&Flash")
        self.cancel_button = QPushButton("Ca&ncel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(2000)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.status = _label()
        self.guidance = _label(style=ERROR_STYLE)
        self.skip = QCheckBox("S&kip flashing (the camera already runs SecureCam firmware)")
        source = QHBoxLayout()
        source.addWidget(self.path, 1)
        source.addWidget(self.browse_button)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Speed:"))
        controls.addWidget(self.baud)
        controls.addStretch(1)
        controls.addWidget(self.flash_button)
        controls.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(_label("Firmware (PlatformIO build directory or merged .bin):"))
        layout.addLayout(source)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.guidance)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(self.skip)
        if build is None:
            self.status.setText(
                "No firmware build found: build it (cd firmware && pio run -e esp32cam) or"
                " choose a merged .bin."
            )
        self.guidance.hide()
        self.cancel_button.setEnabled(False)
        self.browse_button.clicked.connect(self._browse)
        self.flash_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(setup.cancel)
        self.skip.toggled.connect(lambda *_: self.completeChanged.emit())
        setup.flashProgress.connect(self._progress)
        setup.flashLog.connect(self.log_view.appendPlainText)
        setup.flashFinished.connect(self._finished)
        setup.flashFailed.connect(self._failed)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Firmware image", str(ROOT), "Firmware images (*.bin);;All files (*)"
        )
        if path:
            self.path.setText(path)

    def start(self) -> None:
        """Check the image, then flash it on the chosen port."""
        path = Path(self.path.text().strip())
        self.guidance.hide()
        try:
            images = load_images(path)  # a quick local check: readable and complete
        except FlashError as exc:
            self._failed(exc.message, exc.guidance)
            return
        port = self.wizard().port_page.port() or ""
        if not self.setup.flash(port, path, int(self.baud.currentData())):
            return
        self.done = False
        self.flashing = True
        total = sum(len(i.data) for i in images)
        self.status.setText(f"Flashing {len(images)} image(s), {total // 1024} KiB, on {port} …")
        self.status.setStyleSheet("")
        self.progress.setValue(0)
        self.log_view.clear()
        self._set_running(True)

    def _set_running(self, running: bool) -> None:
        self.flash_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.browse_button.setEnabled(not running)
        self.path.setEnabled(not running)
        self.skip.setEnabled(not running)
        self.completeChanged.emit()

    def _progress(self, done: int, total: int) -> None:
        self.progress.setValue(100 * done // total if total else 0)

    def _finished(self, identity: Identity) -> None:
        self.flashing = False
        self.done = True
        self.progress.setValue(100)
        self.status.setText(
            f"Flashed and verified ({identity.chip}, {identity.mac}). If the board is wired"
            " for download mode, remove the IO0 jumper and press RESET now."
        )
        self.status.setStyleSheet(OK_STYLE)
        self._set_running(False)

    def _failed(self, message: str, guidance: str) -> None:
        self.flashing = False
        self.status.setText(message)
        self.status.setStyleSheet(ERROR_STYLE)
        self.guidance.setText(guidance)
        self.guidance.setVisible(bool(guidance))
        self._set_running(False)

    def isComplete(self) -> bool:
        return not self.flashing and (self.done or self.skip.isChecked())


class ConfigurePage(QWizardPage):
    """Wi-Fi (from the camera's own scan), server address and name; then provision."""

    def __init__(self, services: AppServices, setup: SetupService) -> None:
        super().__init__()
        self.services = services
        self.setup = setup
        self.result: ProvisionResult | None = None
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
        self.provision_button = QPushButton("&Provision")
        self.status = _label()
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
        setup.busyChanged.connect(self._busy)

    def initializePage(self) -> None:
        self._set_ports(self.setup.ports)
        chosen = self.wizard().port_page.port()
        if chosen is not None:
            self.port.setCurrentIndex(max(0, self.port.findData(chosen)))
        receiver = self.services.receiver
        self.host.clear()
        bound = receiver.host.strip()
        hosts = ([bound] if bound and bound not in ("0.0.0.0", "::") else []) + lan_addresses()
        for host in dict.fromkeys(hosts):
            self.host.addItem(host)
        self.server_port.setValue(receiver.port or 8888)
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
        self.status.setStyleSheet(ERROR_STYLE)

    def ssid_value(self) -> str:
        index = self.ssid.currentIndex()
        text = self.ssid.currentText()
        if index >= 0 and text == self.ssid.itemText(index):
            return str(self.ssid.itemData(index))
        return text.strip()

    def start(self) -> None:
        """Provision the camera with the settings shown."""
        name = self.name.text().strip()
        if not is_valid_device_id(name):
            self._failed("camera name: 1-32 letters, digits, '.', '_' or '-'")
            return
        if not self.ssid_value():
            self._failed("choose or type the Wi-Fi network")
            return
        self.result = None
        self.steps.clear()
        request = ProvisionRequest(
            name=name,
            ssid=self.ssid_value(),
            password=self.password.text(),
            server_host=self.host.currentText().strip(),
            server_port=self.server_port.value(),
        )
        started = self.setup.provision(self.port.currentData() or "", request)
        if started:
            self.status.setText("Provisioning …")
            self.status.setStyleSheet("")
        self.completeChanged.emit()

    def _provisioned(self, result: ProvisionResult) -> None:
        self.result = result
        self.status.setText(
            f"Camera {result.device_name!r} is set up: it streams to {result.server_url}."
            f" Key fingerprint {result.fingerprint}."
        )
        self.status.setStyleSheet(OK_STYLE)
        self.completeChanged.emit()

    def _failed(self, message: str, guidance: str = "") -> None:
        self.status.setText(
            f"Not provisioned: {message}. Nothing was registered."
            + (f"\n{guidance}" if guidance else "")
        )
        self.status.setStyleSheet(ERROR_STYLE)
        self.completeChanged.emit()

    def _busy(self, busy: bool) -> None:
        for widget in (self.provision_button, self.scan_button, self.port):
            widget.setEnabled(not busy)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.result is not None and not self.setup.busy


class VerifyPage(QWizardPage):
    """Wait for the new camera's first decrypted frame and show it live with its numbers."""

    def __init__(self, services: AppServices, timeout_s: float) -> None:
        super().__init__()
        self.services = services
        self.timeout_s = timeout_s
        self.device: str | None = None
        self.frames = 0
        self.setTitle("Check the picture")
        self.setSubTitle("The camera restarts, joins the Wi-Fi network and connects here.")
        self.tile = CameraTile("")
        self.tile.setMinimumSize(320, 240)
        self.status = _label()
        self.stats = _label()
        self.help = _label(style=ERROR_STYLE)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.tile, 1)
        layout.addWidget(self.stats)
        layout.addWidget(self.help)
        self.help.hide()
        self._timeout = QTimer(self)
        self._timeout.setSingleShot(True)
        self._timeout.timeout.connect(self._timed_out)
        self._refresh = QTimer(self)
        self._refresh.setInterval(500)
        self._refresh.timeout.connect(self.refresh)
        services.receiver.frameDecoded.connect(self._frame)
        services.receiver.deviceChanged.connect(self._changed)

    def initializePage(self) -> None:
        result = self.wizard().configure_page.result
        self.device = result.device_name if result else None
        self.tile.device = self.device or ""
        self.frames = 0
        self.help.hide()
        self.status.setText(f"Waiting for {self.device!r} to connect …")
        self.status.setStyleSheet("")
        self._timeout.start(int(self.timeout_s * 1000))
        self._refresh.start()
        self.refresh()

    def cleanupPage(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._timeout.stop()
        self._refresh.stop()

    def _frame(self, decoded: DecodedFrame) -> None:
        if self.device is None or decoded.frame.device != self.device:
            return
        self.frames += 1
        self.tile.show_frame(decoded)
        if self.frames == 1:
            self._timeout.stop()
            self.help.hide()
            self.status.setText(f"{self.device!r} is streaming, encrypted. All done.")
            self.status.setStyleSheet(OK_STYLE)
            self.refresh()

    def _changed(self, device: str) -> None:
        if device == self.device:
            self.refresh()

    def refresh(self) -> None:
        """Update the tile's overlay and the RSSI/latency line from the receiver's stats."""
        stats = self.services.receiver.stats(self.device) if self.device else None
        info = TileInfo.from_stats(stats, monotonic_us())
        self.tile.set_info(info)
        if stats is None:
            self.stats.setText("Not connected yet.")
            return
        rssi = stats.status.rssi_dbm if stats.status and stats.status.rssi_dbm else None
        parts = [
            f"state {state_label(info.state)}",
            f"Wi-Fi signal {rssi} dBm" if rssi is not None else "Wi-Fi signal unknown",
            f"latency {info.latency_ms:.0f} ms"
            if info.latency_ms is not None
            else "latency unknown",
            f"{stats.frames_received} frame(s)",
        ]
        if stats.reason and not stats.connected:
            parts.append(f"last problem: {stats.reason}")
        self.stats.setText(" · ".join(parts))

    def _timed_out(self) -> None:
        if self.frames:
            return
        result = self.wizard().configure_page
        self.status.setText(f"{self.device!r} did not connect within {self.timeout_s:g} s.")
        self.status.setStyleSheet(ERROR_STYLE)
        self.help.setText(
            VERIFY_HELP.format(port=self.services.receiver.port, host=result.host.currentText())
        )
        self.help.show()


class SetupWizard(QWizard):
    """Port → Identify → Flash → Wi-Fi and server → Verify; provisioning-only skips 2 and 3.

    `firmware_root` is where the firmware build is looked for (the project by default);
    `verify_timeout` is how long the last page waits for a first frame before it explains.
    """

    def __init__(
        self,
        services: AppServices,
        setup: SetupService,
        parent: QWidget | None = None,
        *,
        firmware_root: Path = ROOT,
        verify_timeout: float = VERIFY_TIMEOUT_S,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.setup = setup
        self.setWindowTitle("Set up an ESP32-CAM")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.port_page = PortPage(setup)
        self.identify_page = IdentifyPage(setup)
        self.flash_page = FlashPage(setup, firmware_root)
        self.configure_page = ConfigurePage(services, setup)
        self.verify_page = VerifyPage(services, verify_timeout)
        self.setPage(PORT_PAGE, self.port_page)
        self.setPage(IDENTIFY_PAGE, self.identify_page)
        self.setPage(FLASH_PAGE, self.flash_page)
        self.setPage(CONFIGURE_PAGE, self.configure_page)
        self.setPage(VERIFY_PAGE, self.verify_page)
        self.setStartId(PORT_PAGE)
        self.resize(720, 620)
        setup.busyChanged.connect(self._busy)

    def _busy(self, busy: bool) -> None:
        self.button(QWizard.WizardButton.BackButton).setEnabled(not busy)

    def done(self, result: int) -> None:
        """Closing cancels a running serial job and stops the port polling."""
        self.setup.cancel()
        self.setup.stop_watching()
        self.verify_page.stop()
        super().done(result)
