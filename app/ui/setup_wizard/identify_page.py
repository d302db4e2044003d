"""Page 2: ask the ROM loader who it is (chip, MAC, flash size); guidance on failure."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWizardPage

from app.resources import BOOT_MODE_DIAGRAM, read_resource
from app.serial.flasher import DEFAULT_BAUD, FALLBACK_BAUD, GUIDANCE_BOOT_MODE, Identity
from app.services.setup_service import SetupService
from app.ui.setup_wizard.common import error_style, label, ok_style


class IdentifyPage(QWizardPage):
    """Ask the ROM loader who it is: chip, MAC, flash size; guidance on failure.

    What the board said is the service's `identity`: the labels show it whenever the link
    changes, and the page is complete while it is known and no job runs. `port` gives the
    port chosen on the first page.
    """

    def __init__(self, setup: SetupService, port: Callable[[], str | None]) -> None:
        super().__init__()
        self.setup = setup
        self._chosen_port = port
        self.baud = DEFAULT_BAUD  # what Retry uses: the last rate asked for
        self.setTitle("Identify the board")
        self.setSubTitle(
            "Put the board in download mode (IO0 to GND, press RESET); the wizard then reads"
            " its chip, MAC address and flash size."
        )
        self.status = label()
        self.chip = label()
        self.mac = label()
        self.flash_size = label()
        self.guidance = label(style=error_style())
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
        setup.stateChanged.connect(self._follow)
        setup.busyChanged.connect(self._follow)
        self._show_error(False)
        self._follow()

    def initializePage(self) -> None:
        self.start(DEFAULT_BAUD)

    def _port(self) -> str:
        return self._chosen_port() or ""

    def start(self, baud: int) -> None:
        """Identify the board on the chosen port at `baud`."""
        self.baud = baud
        self._show_error(False)
        if self.setup.identify(self._port(), baud):
            self.status.setText(f"Talking to the board on {self._port()} …")
            self.status.setStyleSheet("")

    def _follow(self, *_: object) -> None:
        """Show what the service knows about the board; buttons only while no job runs."""
        identity = self.setup.identity
        self.chip.setText((identity.description or identity.chip) if identity else "")
        self.mac.setText(identity.mac if identity else "")
        self.flash_size.setText((identity.flash_size or "unknown") if identity else "")
        idle = not self.setup.busy
        self.retry_button.setEnabled(idle)
        self.slow_button.setEnabled(idle)
        self.completeChanged.emit()

    def _identified(self, identity: Identity) -> None:
        self.status.setText("Found the board.")
        self.status.setStyleSheet(ok_style())

    def _failed(self, message: str, guidance: str) -> None:
        self.status.setText(message)
        self.status.setStyleSheet(error_style())
        self.guidance.setText(guidance)
        self._show_error(True, boot_mode=guidance == GUIDANCE_BOOT_MODE)

    def _show_error(self, shown: bool, *, boot_mode: bool = False) -> None:
        self.guidance.setVisible(shown)
        self.diagram.setVisible(boot_mode)

    def isComplete(self) -> bool:
        return self.setup.identity is not None and not self.setup.busy
