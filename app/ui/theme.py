"""Light and dark themes, and the colours that carry meaning in both.

`apply_theme(theme)` sets Qt's Fusion style with a light or dark palette (SYSTEM follows the
system's colour scheme, and keeps following it). Colours that say something (a live camera,
an error, a warning) come from `colour(meaning)`: one shade for light backgrounds, another
for dark ones, each readable on its window colour (tests/ui/test_theme.py checks the contrast).
Widgets whose text carries a meaning are `mark`ed once and recoloured on every theme change.
"""

from __future__ import annotations

import weakref
from enum import Enum

import shiboken6
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption, QWidget


class Theme(Enum):
    SYSTEM = "Follow the system"
    LIGHT = "Light"
    DARK = "Dark"


class Meaning(Enum):
    GOOD = "good"  # live, encrypted, on
    BAD = "bad"  # an error, rejected, insecure
    WARNING = "warning"  # something to look at


# (on a light window, on a dark window)
_SHADES = {
    Meaning.GOOD: ("#1b5e20", "#81c784"),
    Meaning.BAD: ("#c62828", "#ef9a9a"),
    Meaning.WARNING: ("#a15300", "#ffb74d"),
}
# Check box and radio button edges (on a light window, on a dark one). Fusion draws them a
# shade darker than the window: about 2:1 on the light one, invisible on the dark one. These
# are 3:1 or more against the window and list backgrounds (WCAG 1.4.11, non-text contrast).
_INDICATOR_EDGE = ("#767676", "#8c8c8c")
_marked: weakref.WeakKeyDictionary[QWidget, Meaning] = weakref.WeakKeyDictionary()
_current = Theme.SYSTEM
_style: QProxyStyle | None = None


class _Style(QProxyStyle):
    """Fusion, with check box and radio button edges that show on either palette."""

    _INDICATORS = (
        QStyle.PrimitiveElement.PE_IndicatorCheckBox,
        QStyle.PrimitiveElement.PE_IndicatorRadioButton,
    )

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        super().drawPrimitive(element, option, painter, widget)
        if element not in self._INDICATORS:
            return
        light, dark = _INDICATOR_EDGE
        on_dark = option.palette.color(QPalette.ColorRole.Window).lightness() < 128
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(dark if on_dark else light), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        edge = QRectF(option.rect).adjusted(0.5, 0.5, -0.5, -0.5)
        if element is QStyle.PrimitiveElement.PE_IndicatorRadioButton:
            painter.drawEllipse(edge)
        else:
            painter.drawRect(edge)
        painter.restore()


def is_dark() -> bool:
    """The application's window colour is dark (whatever made it so)."""
    return QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def colour(meaning: Meaning) -> QColor:
    light, dark = _SHADES[meaning]
    return QColor(dark if is_dark() else light)


def meaning_style(meaning: Meaning) -> str:
    """A style sheet colouring text in `meaning`'s colour for the theme in force now (for
    labels whose style is set again on every change of what they say)."""
    return f"color: {colour(meaning).name()};"


def mark(widget: QWidget, meaning: Meaning) -> None:
    """Draw `widget`'s text in `meaning`'s colour, now and after every theme change."""
    _marked[widget] = meaning
    _recolour(widget, meaning)


def current_theme() -> Theme:
    return _current


def apply_theme(theme: Theme) -> None:
    global _current
    _current = theme
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    global _style
    if _style is None or not shiboken6.isValid(_style):  # Qt deletes a style it replaced
        _style = _Style("Fusion")
    if app.style() is not _style:
        app.setStyle(_style)
    hints = QGuiApplication.styleHints()
    dark = theme is Theme.DARK or (
        theme is Theme.SYSTEM and hints.colorScheme() == Qt.ColorScheme.Dark
    )
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    for widget, meaning in list(_marked.items()):
        if shiboken6.isValid(widget):
            _recolour(widget, meaning)
        else:  # Qt deleted it; its Python wrapper lived on
            del _marked[widget]


def follow_system() -> None:
    """Re-apply SYSTEM when the system's colour scheme changes (call once at start)."""
    QGuiApplication.styleHints().colorSchemeChanged.connect(
        lambda _scheme: apply_theme(Theme.SYSTEM) if _current is Theme.SYSTEM else None
    )


def dark_palette() -> QPalette:
    palette = QPalette()
    window, base, text = QColor("#2b2b2b"), QColor("#1e1e1e"), QColor("#e8e8e8")
    for role, value in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, QColor("#262626")),
        (QPalette.ColorRole.ToolTipBase, QColor("#3a3a3a")),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.PlaceholderText, QColor("#9e9e9e")),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, QColor("#353535")),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.BrightText, QColor("#ff8a80")),
        (QPalette.ColorRole.Link, QColor("#82b1ff")),
        (QPalette.ColorRole.Highlight, QColor("#2f6fb3")),
        (QPalette.ColorRole.HighlightedText, QColor("#ffffff")),
        (QPalette.ColorRole.Mid, QColor("#555555")),
        (QPalette.ColorRole.Dark, QColor("#202020")),
        (QPalette.ColorRole.Light, QColor("#4a4a4a")),
    ):
        palette.setColor(role, value)
    disabled = QColor("#808080")
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""

    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
        )

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _recolour(widget: QWidget, meaning: Meaning) -> None:
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.WindowText, colour(meaning))
    palette.setColor(QPalette.ColorRole.Text, colour(meaning))
    widget.setPalette(palette)
