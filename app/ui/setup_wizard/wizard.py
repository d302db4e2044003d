"""The setup wizard: its pages in order, Back locked while a serial job runs."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QWidget, QWizard

from app.services.app_services import AppServices
from app.services.setup_service import SetupService
from app.ui.setup_wizard.common import ROOT, Page
from app.ui.setup_wizard.configure_page import ConfigurePage
from app.ui.setup_wizard.flash_page import FlashPage
from app.ui.setup_wizard.identify_page import IdentifyPage
from app.ui.setup_wizard.port_page import PortPage
from app.ui.setup_wizard.verify_page import VerifyPage

log = logging.getLogger(__name__)

VERIFY_TIMEOUT_S = 90.0


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
        chosen = self.port_page.port
        self.identify_page = IdentifyPage(setup, chosen)
        self.flash_page = FlashPage(setup, firmware_root, chosen)
        self.configure_page = ConfigurePage(services, setup, chosen)
        self.verify_page = VerifyPage(services, setup, verify_timeout)
        self.setPage(Page.PORT, self.port_page)
        self.setPage(Page.IDENTIFY, self.identify_page)
        self.setPage(Page.FLASH, self.flash_page)
        self.setPage(Page.CONFIGURE, self.configure_page)
        self.setPage(Page.VERIFY, self.verify_page)
        self.setStartId(Page.PORT)
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
