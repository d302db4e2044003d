"""Page 5: wait for the new camera's first decrypted frame and show it live with its numbers."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWizardPage

from app.protocol.clock import monotonic_us
from app.receiver.stats import DeviceState
from app.services.app_services import AppServices
from app.services.decoder import DecodedFrame
from app.services.setup_service import SetupService
from app.ui.setup_wizard.common import error_style, label, ok_style
from app.ui.tile import CameraTile, TileInfo, state_label

VERIFY_HELP = (
    "No picture yet. Check:\n"
    "  • The Wi-Fi network is 2.4 GHz (the ESP32 cannot join 5 GHz networks) and the camera"
    " is in range.\n"
    "  • This computer's firewall lets incoming connections reach TCP port {port}.\n"
    "  • The server address {host} is this computer's address on the camera's network (not"
    " a VPN or another interface); go back and pick another one if not.\n"
    "  • The camera has power and was reset after flashing (IO0 jumper removed)."
)


class VerifyPage(QWizardPage):
    """Wait for the new camera's first decrypted frame and show it live with its numbers.

    The camera is the one the service's `result` names (the provisioning that made the link
    VERIFIED); `timeout_s` is how long to wait for a first frame before explaining.
    """

    def __init__(self, services: AppServices, setup: SetupService, timeout_s: float) -> None:
        super().__init__()
        self.services = services
        self.setup = setup
        self.timeout_s = timeout_s
        self.frames = 0  # frames seen since the page was shown
        self.setTitle("Check the picture")
        self.setSubTitle("The camera restarts, joins the Wi-Fi network and connects here.")
        self.tile = CameraTile("")
        self.tile.setMinimumSize(320, 240)
        self.status = label()
        self.stats = label()
        self.help = label(style=error_style())
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

    @property
    def device(self) -> str | None:
        """The provisioned camera's name, None without a provisioning."""
        result = self.setup.result
        return result.device_name if result else None

    def initializePage(self) -> None:
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
        """Stop waiting and refreshing."""
        self._timeout.stop()
        self._refresh.stop()

    def _frame(self, decoded: DecodedFrame) -> None:
        device = self.device
        if device is None or decoded.frame.device != device:
            return
        self.frames += 1
        self.tile.show_frame(decoded)
        if self.frames == 1:
            self._timeout.stop()
            self.help.hide()
            self.status.setText(f"{device!r} is streaming, encrypted. All done.")
            self.status.setStyleSheet(ok_style())
            self.refresh()

    def _changed(self, device: str) -> None:
        if device == self.device:
            self.refresh()

    def refresh(self) -> None:
        """Update the tile's overlay and the RSSI/latency line from the receiver's stats."""
        device = self.device
        stats = self.services.receiver.stats(device) if device else None
        info = (
            TileInfo(state=DeviceState.CONNECTING)  # waiting for the camera's first session
            if stats is None
            else TileInfo.from_stats(stats, monotonic_us())
        )
        self.tile.set_info(info)
        if stats is None:
            self.stats.setText("Not connected yet.")
            return
        rssi = stats.status.rssi_dbm if stats.status and stats.status.rssi_dbm else None
        latency = info.latency_ms
        parts = [
            f"state {state_label(info.state)}",
            f"Wi-Fi signal {rssi} dBm" if rssi is not None else "Wi-Fi signal unknown",
            f"latency {latency:.0f} ms" if latency is not None else "latency unknown",
            f"{stats.frames_received} frame(s)",
        ]
        if stats.reason and not stats.connected:
            parts.append(f"last problem: {stats.reason}")
        self.stats.setText(" · ".join(parts))

    def _timed_out(self) -> None:
        if self.frames:
            return
        result = self.setup.result
        host = result.config.server_host if result else "?"
        self.status.setText(f"{self.device!r} did not connect within {self.timeout_s:g} s.")
        self.status.setStyleSheet(error_style())
        self.help.setText(VERIFY_HELP.format(port=self.services.receiver.port, host=host))
        self.help.show()
