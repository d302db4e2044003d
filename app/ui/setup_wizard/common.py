"""What the setup wizard's pages share: their ids, where a firmware build is looked for,
and how a label looks."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app.ui.theme import Meaning, meaning_style

# The checkout, where the wizard looks for a firmware build (firmware/.pio/build/esp32cam).
ROOT = Path(__file__).resolve().parents[3]


def error_style() -> str:
    return meaning_style(Meaning.BAD)


def ok_style() -> str:
    return meaning_style(Meaning.GOOD) + " font-weight: bold;"


class Page(IntEnum):
    """The wizard's pages, in order (QWizard page ids)."""

    PORT = 0
    IDENTIFY = 1
    FLASH = 2
    CONFIGURE = 3
    VERIFY = 4


def label(text: str = "", style: str = "", *, wrap: bool = True) -> QLabel:
    """A plain-text, selectable label."""
    widget = QLabel(text)
    widget.setWordWrap(wrap)
    widget.setTextFormat(Qt.TextFormat.PlainText)
    widget.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if style:
        widget.setStyleSheet(style)
    return widget
