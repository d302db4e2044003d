"""The first-run panel: three ways to get a first picture."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.ui.theme import Meaning, mark

_INTRO = (
    "Live video from ESP32-CAM modules, encrypted and authenticated end to end.<br>"
    "No camera is registered yet. Pick one way to start:"
)
_INTRO_NO_REGISTRY = (
    "Live video from ESP32-CAM modules, encrypted and authenticated end to end.<br>"
    "No camera is listed until it can be read: the Devices panel says why."
)


ROUTE_WIDTH = 320
HINT_WIDTH = 440


class WelcomePanel(QWidget):
    """Shown while no device is listed and no demo runs.

    `set_problem(text)` says why no device is listed when that is not a first run.
    """

    demoRequested = Signal()
    setupRequested = Signal()
    addRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # In a short window the routes scroll instead of squeezing their wrapped hints.
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        content = QWidget()
        scroll.setWidget(content)
        layout = QVBoxLayout(content)
        layout.addStretch(1)
        title = QLabel("<h1>Welcome to SecureCam</h1>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setFixedWidth(560)  # a fixed width gives wrapped text its height
        self.problem_label.setStyleSheet("font-weight: bold;")
        mark(self.problem_label, Meaning.BAD)
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label.hide()
        layout.addWidget(self.problem_label, 0, Qt.AlignmentFlag.AlignHCenter)
        self.intro = QLabel(_INTRO)
        self.intro.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.intro)
        self.demo_button = self._route(
            layout, "Start demo camera", "A simulated camera on this computer, streaming at once."
        )
        self.setup_button = self._route(
            layout,
            "Set up an ESP32-CAM…",
            "Flash and provision a board over USB serial, then see its first frame.",
        )
        self.add_button = self._route(
            layout,
            "Add a camera manually",
            "Register a camera, get its key and the address it must connect to.",
        )
        self.demo_button.clicked.connect(self.demoRequested)
        self.setup_button.clicked.connect(self.setupRequested)
        self.add_button.clicked.connect(self.addRequested)
        layout.addStretch(2)

    def set_problem(self, text: str | None) -> None:
        """Show `text` (None: no problem, a plain first run) above the three routes.

        Only its headline, up to the first colon, is shown; the whole text is the tooltip
        (the Devices panel and the dialog show it in full).
        """
        headline = (text or "").split(":", 1)[0].rstrip(".")
        self.problem_label.setText(f"{headline}." if text else "")
        self.problem_label.setToolTip(text or "")
        self.problem_label.setVisible(text is not None)
        self.intro.setText(_INTRO if text is None else _INTRO_NO_REGISTRY)

    @staticmethod
    def _route(layout: QVBoxLayout, text: str, hint: str) -> QPushButton:
        button = QPushButton(text)
        button.setMinimumHeight(44)
        button.setFixedWidth(ROUTE_WIDTH)  # three routes of one width read as one list
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        label = QLabel(hint)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setFixedWidth(HINT_WIDTH)  # a fixed width gives wrapped text its height
        # Secondary by size, not by a pale grey: `palette(mid)` was barely readable on the
        # window's grey, and the text colour stays legible in light and dark themes.
        label.setStyleSheet("color: palette(window-text); margin-bottom: 14px;")
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * 0.92)
        label.setFont(font)
        layout.addWidget(label, 0, Qt.AlignmentFlag.AlignHCenter)
        return button
