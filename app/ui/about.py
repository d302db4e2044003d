"""Help menu dialogs: About (version, where the log is, where the protocol is described, the
libraries and their licences) and the keyboard shortcuts of the window's own actions."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import __version__

# The packages the app runs on (pyproject.toml's dependencies), named as their distributions.
LIBRARIES = (
    "PySide6-Essentials",
    "qasync",
    "pyqtgraph",
    "numpy",
    "pycryptodome",
    "websockets",
    "simplejpeg",
    "Pillow",
    "pyserial",
    "esptool",
    "cryptography",
    "PyJWT",
    "aiohttp",
    "platformdirs",
)
PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"


def library_licences(names: Iterable[str] = LIBRARIES) -> list[tuple[str, str, str]]:
    """(name, version, licence) of each installed library, from its own metadata."""
    rows = []
    for name in names:
        try:
            meta = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed", ""))
            continue
        rows.append((name, meta["Version"], _licence(meta)))
    return rows


def _licence(meta: metadata.PackageMetadata) -> str:
    expression = meta["License-Expression"]
    if expression:
        return str(expression)
    classifiers = [
        c.rsplit("::", 1)[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::") and c.count("::") >= 2
    ]
    if classifiers:
        return ", ".join(dict.fromkeys(classifiers))
    text = str(meta["License"] or "").strip()
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= 60 else re.split(r"[.\n]", first)[0][:60] + "…"


class AboutDialog(QDialog):
    def __init__(self, log_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About SecureCam")
        layout = QVBoxLayout(self)
        doc = (
            f'<a href="{PROTOCOL_DOC.as_uri()}">{html.escape(str(PROTOCOL_DOC))}</a>'
            if PROTOCOL_DOC.exists()
            else "docs/PROTOCOL.md in SecureCam's source"
        )
        self.summary = QLabel(
            f"<h2>SecureCam {html.escape(__version__)}</h2>"
            "<p>Encrypted, authenticated live video from ESP32-CAM modules "
            "(Noise_NNpsk0_25519_AESGCM_SHA256).</p>"
            f"<p><b>Protocol:</b> {doc}<br>"
            f"<b>Log folder:</b> {html.escape(str(log_dir))}</p>"
            "<p>The benchmark's photos are credited in app/resources/photos/README.md. "
            "The libraries SecureCam runs on, and their licences:</p>"
        )
        self.summary.setWordWrap(True)
        self.summary.setOpenExternalLinks(True)
        layout.addWidget(self.summary)
        rows = library_licences()
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Library", "Version", "Licence"])
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        _read_only(self.table)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, 560)


class ShortcutsDialog(QDialog):
    """Every action of `actions` that has a shortcut, as the menus show it."""

    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = sorted(
            {
                (action.text().replace("&", "").rstrip("…"), action.shortcut().toString())
                for action in actions
                if not action.shortcut().isEmpty()
            }
        )
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        for row, (text, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(text))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        _read_only(self.table)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(420, 360)


def _read_only(table: QTableWidget) -> None:
    """A table to read: nothing in it looks selected or focused (the Close button has the
    focus), and the wheel still scrolls it."""
    table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
