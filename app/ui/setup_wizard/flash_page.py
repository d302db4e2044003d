"""Page 3: write the firmware build (or a chosen .bin) with a progress bar and esptool's log."""

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

from app.serial.flasher import (
    DEFAULT_BAUD,
    FALLBACK_BAUD,
    FlashError,
    Identity,
    find_build,
    load_images,
)
from app.serial.link import RUNS_FIRMWARE, LinkState
from app.services.setup_service import SetupService
from app.ui.setup_wizard.common import ERROR_STYLE, OK_STYLE, ROOT, label


class FlashPage(QWizardPage):
    """Write the firmware build (or a chosen .bin) with a progress bar and esptool's log.

    Whether it is flashing or done is the service's link state; `port` gives the port chosen
    on the first page.
    """

    def __init__(
        self, setup: SetupService, firmware_root: Path, port: Callable[[], str | None]
    ) -> None:
        super().__init__()
        self.setup = setup
        self._chosen_port = port
        self.setTitle("Flash the firmware")
        self.setSubTitle("Write SecureCam's firmware to the board (about a minute).")
        build = find_build(firmware_root)
        self.path = QLineEdit(str(build) if build else "")
        self.path.setPlaceholderText(
            "a merged .bin, or firmware/.pio/build/esp32cam in a SecureCam checkout"
        )
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
        self.status = label()
        self.guidance = label(style=ERROR_STYLE)
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
        layout.addWidget(label("Firmware (PlatformIO build directory or merged .bin):"))
        layout.addLayout(source)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.guidance)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(self.skip)
        if build is None:
            self.status.setText(
                "No firmware build found. The wizard looks for one only in a SecureCam checkout"
                " (firmware/.pio/build/esp32cam): build it there (cd firmware && pio run -e"
                " esp32cam), or choose a merged .bin."
            )
        self.guidance.hide()
        self.browse_button.clicked.connect(self._browse)
        self.flash_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(setup.cancel)
        self.skip.toggled.connect(lambda *_: self.completeChanged.emit())
        setup.flashProgress.connect(self._progress)
        setup.flashLog.connect(self.log_view.appendPlainText)
        setup.flashFinished.connect(self._finished)
        setup.flashFailed.connect(self._failed)
        setup.stateChanged.connect(self._follow)
        setup.busyChanged.connect(self._follow)
        self._follow()

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
        path = Path(self.path.text().strip())
        self.guidance.hide()
        try:
            images = load_images(path)  # a quick local check: readable and complete
        except FlashError as exc:
            self._failed(exc.message, exc.guidance)
            return
        port = self._chosen_port() or ""
        if not self.setup.flash(port, path, int(self.baud.currentData())):
            return
        total = sum(len(i.data) for i in images)
        self.status.setText(f"Flashing {len(images)} image(s), {total // 1024} KiB, on {port} …")
        self.status.setStyleSheet("")
        self.progress.setValue(0)
        self.log_view.clear()

    def _follow(self, *_: object) -> None:
        """Controls for the link's state: Cancel only while flashing, the rest only idle."""
        flashing = self.setup.state is LinkState.FLASHING
        idle = not self.setup.busy
        self.cancel_button.setEnabled(flashing)
        for widget in (self.flash_button, self.browse_button, self.path, self.skip):
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
        self.status.setStyleSheet(OK_STYLE)

    def _failed(self, message: str, guidance: str) -> None:
        self.status.setText(message)
        self.status.setStyleSheet(ERROR_STYLE)
        self.guidance.setText(guidance)
        self.guidance.setVisible(bool(guidance))

    def isComplete(self) -> bool:
        if self.setup.busy:
            return False
        return self.setup.state in RUNS_FIRMWARE or self.skip.isChecked()
