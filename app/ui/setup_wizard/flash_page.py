"""Page 3: write the firmware build (or a chosen .bin) with a progress bar and esptool's log;
build the firmware first (PlatformIO) when a checkout has no build yet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from app.errors import UserError
from app.serial.link import RUNS_FIRMWARE, LinkState
from app.services.firmware_build_service import BUILD_ENV, Kind, Outcome
from app.services.setup_service import FLASH_BAUDS, Identity, SetupService
from app.ui.setup_wizard.common import ROOT, error_style, label, ok_style


class FlashPage(QWizardPage):
    """Write the firmware build (or a chosen .bin) with a progress bar and esptool's log.

    Whether it is flashing or done is the service's link state; `port` gives the port chosen
    on the first page. When `firmware_root` is a checkout without a build, "Build firmware"
    runs PlatformIO through `setup.firmware` (output in the log, its stage in the progress
    bar, Cancel ends it) and picks the new build up when it succeeds. Where builds are and
    what an image holds it asks the services: the page imports no serial module.
    """

    def __init__(
        self, setup: SetupService, firmware_root: Path, port: Callable[[], str | None]
    ) -> None:
        super().__init__()
        self.setup = setup
        self.firmware = setup.firmware
        self.firmware_root = firmware_root
        self._chosen_port = port
        self.setTitle("Flash the firmware")
        self.setSubTitle("Write SecureCam's firmware to the board (about a minute).")
        build = self.firmware.find_build(firmware_root)
        self.path = QLineEdit(str(build) if build else "")
        self.path.setPlaceholderText(
            "a merged .bin, or firmware/.pio/build/esp32cam in a SecureCam checkout"
        )
        self.browse_button = QPushButton("&Choose .bin…")
        self.build_button = QPushButton("&Build firmware")
        self.install_button = QPushButton("&Install PlatformIO")
        self.baud = QComboBox()
        for rate in FLASH_BAUDS:
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
        self.status = label()
        self.guidance = label(style=error_style())
        self.skip = QCheckBox("S&kip flashing (the camera already runs SecureCam firmware)")
        source = QHBoxLayout()
        source.addWidget(self.path, 1)
        source.addWidget(self.browse_button)
        source.addWidget(self.build_button)
        source.addWidget(self.install_button)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Speed:"))
        controls.addWidget(self.baud)
        controls.addStretch(1)
        controls.addWidget(self.flash_button)
        controls.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(label("Firmware (PlatformIO build directory or merged .bin):"))
        layout.addLayout(source)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.guidance)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(self.skip)
        self.guidance.hide()
        self.build_button.hide()
        self.install_button.hide()
        if build is None:
            self._offer_build()
        self.browse_button.clicked.connect(self._browse)
        self.build_button.clicked.connect(self.build)
        self.install_button.clicked.connect(self.install)
        self.flash_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(setup.cancel)
        self.skip.toggled.connect(lambda *_: self.completeChanged.emit())
        setup.flashProgress.connect(self._progress)
        setup.flashLog.connect(self.log_view.appendPlainText)
        setup.flashFinished.connect(self._finished)
        setup.flashFailed.connect(self._failed)
        setup.stateChanged.connect(self._follow)
        setup.busyChanged.connect(self._follow)
        self.firmware.started.connect(self._build_started)
        self.firmware.line.connect(self.log_view.appendPlainText)
        self.firmware.step.connect(self._build_step)
        self.firmware.finished.connect(self._build_finished)
        self.firmware.refused.connect(self.log_view.appendPlainText)
        self.firmware.busyChanged.connect(self._follow)
        self._follow()

    # -- building ----------------------------------------------------------------------------

    def _offer_build(self) -> None:
        """No build found: offer to build one (in a checkout), else say what to do."""
        build_dir = self.firmware.build_dir(self.firmware_root)
        if build_dir is None:
            self.status.setText(
                "No firmware build found. The wizard looks for one only in a SecureCam checkout"
                f" (firmware/.pio/build/{BUILD_ENV}): build it there (cd firmware && pio run -e"
                f" {BUILD_ENV}), or choose a merged .bin."
            )
            return
        self.build_button.show()
        if self.firmware.platformio() is not None:
            self.status.setText(
                f"No firmware build found in {build_dir}. Press"
                " Build firmware to build it with PlatformIO (a few minutes; the first build"
                " downloads the ESP32 toolchain), or choose a merged .bin."
            )
            return
        self.status.setText(
            f"No firmware build found. {self.firmware.install_hint()}\n"
            "Then press Build firmware, or choose a merged .bin."
        )
        self.install_button.setVisible(self.firmware.can_install())

    def build(self) -> None:
        """Build the firmware with PlatformIO in the checkout (`setup.firmware`)."""
        self.guidance.hide()
        self.firmware.build(self.firmware_root)

    def install(self) -> None:
        """Install PlatformIO into the app's Python environment."""
        self.guidance.hide()
        self.firmware.install()

    def _build_started(self, kind: str) -> None:
        self.log_view.clear()
        self.status.setStyleSheet("")
        if kind == Kind.INSTALL.value:
            self.status.setText("Installing PlatformIO (pip install platformio) …")
            self.progress.setRange(0, 0)  # pip gives no overall progress: busy
        else:
            self.status.setText(f"Building the firmware (pio run -e {BUILD_ENV}) …")
            self.progress.setRange(0, 100)
            self.progress.setValue(0)

    def _build_step(self, step: int, steps: int, text: str) -> None:
        self.progress.setRange(0, steps)
        self.progress.setValue(step - 1)
        self.status.setText(f"Building the firmware, step {step} of {steps}: {text} …")

    def _build_finished(self, outcome: Outcome) -> None:
        self.progress.setRange(0, 100)
        if outcome.ok:
            self.progress.setValue(100)
            self.status.setText(
                f"{outcome.message}. Press Flash to write it."
                if outcome.build is not None
                else f"{outcome.message} {outcome.guidance}"
            )
            self.status.setStyleSheet(ok_style())
            self.guidance.hide()
            if outcome.build is not None:
                self.path.setText(str(outcome.build))
                self.build_button.hide()
            self.install_button.hide()
            return
        self.progress.setValue(0)
        self._failed(outcome.message, outcome.guidance)
        if outcome.kind is Kind.BUILD and self.firmware.find_build(self.firmware_root) is None:
            self.path.clear()  # the failed build left no build to flash
        self.install_button.setVisible(
            self.firmware.platformio() is None and self.firmware.can_install()
        )

    # -- flashing ----------------------------------------------------------------------------

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Firmware image",
            str(ROOT if (ROOT / "firmware").is_dir() else Path.home()),  # installed: no checkout
            "Firmware images (*.bin);;All files (*)",
        )
        if path:
            self.path.setText(path)

    def start(self) -> None:
        """Check the image, then flash it on the chosen port."""
        self.guidance.hide()
        try:  # a quick local check: readable and complete
            chosen = self.setup.flash_input(self.path.text(), self.firmware_root)
        except UserError as exc:
            self._failed(exc.message, exc.guidance)
            return
        port = self._chosen_port() or ""
        if not self.setup.flash(port, chosen.path, int(self.baud.currentData())):
            return
        self.status.setText(
            f"Flashing {chosen.images} image(s), {chosen.size // 1024} KiB, on {port} …"
        )
        self.status.setStyleSheet("")
        self.progress.setValue(0)
        self.log_view.clear()

    def _follow(self, *_: object) -> None:
        """Controls for the link's state: Cancel only while flashing, the rest only idle."""
        flashing = self.setup.state is LinkState.FLASHING
        building = self.firmware.busy
        idle = not self.setup.busy and not building
        self.cancel_button.setEnabled(flashing or building)
        for widget in (
            self.flash_button,
            self.browse_button,
            self.build_button,
            self.install_button,
            self.path,
            self.skip,
        ):
            widget.setEnabled(idle)
        self.completeChanged.emit()

    def _progress(self, done: int, total: int) -> None:
        self.progress.setValue(100 * done // total if total else 0)

    def _finished(self, identity: Identity) -> None:
        self.progress.setValue(100)
        self.status.setText(
            f"Flashed and verified ({identity.chip}, {identity.mac}). If the board is wired"
            " for download mode, remove the IO0 jumper and press RESET now."
        )
        self.status.setStyleSheet(ok_style())

    def _failed(self, message: str, guidance: str) -> None:
        self.status.setText(message)
        self.status.setStyleSheet(error_style())
        self.guidance.setText(guidance)
        self.guidance.setVisible(bool(guidance))

    def isComplete(self) -> bool:
        if self.setup.busy or self.firmware.busy:
            return False
        return self.setup.state in RUNS_FIRMWARE or self.skip.isChecked()
