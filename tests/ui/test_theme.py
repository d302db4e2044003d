"""Light and dark themes: meaning colours readable on both, switched at once, remembered."""

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QLabel,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
)

from app.ui.theme import Meaning, Theme, apply_theme, colour, contrast, is_dark, mark

AA_TEXT = 4.5  # WCAG 2 AA for normal text
NON_TEXT = 3.0  # WCAG 2.1 1.4.11: the edges of controls


@pytest.fixture(autouse=True)
def back_to_light(qapp):
    yield
    apply_theme(Theme.LIGHT)


@pytest.mark.parametrize("theme", [Theme.LIGHT, Theme.DARK])
@pytest.mark.parametrize("meaning", list(Meaning))
def test_every_meaning_colour_is_readable_on_the_window_and_on_lists(qapp, theme, meaning):
    apply_theme(theme)
    palette = QApplication.palette()
    for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base):
        assert contrast(colour(meaning), palette.color(role)) >= AA_TEXT, (theme, role)


def test_the_dark_theme_is_dark_and_its_text_readable(qapp):
    apply_theme(Theme.DARK)
    palette = QApplication.palette()
    assert is_dark()
    assert (
        contrast(
            palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
        )
        >= 7
    )
    apply_theme(Theme.LIGHT)
    assert not is_dark()


def test_a_marked_label_takes_its_meanings_colour_for_each_theme(qtbot):
    label = QLabel("rejected")
    qtbot.addWidget(label)
    mark(label, Meaning.BAD)
    apply_theme(Theme.LIGHT)
    light = label.palette().color(QPalette.ColorRole.WindowText)
    apply_theme(Theme.DARK)
    dark = label.palette().color(QPalette.ColorRole.WindowText)
    assert light != dark and dark == colour(Meaning.BAD)


def test_the_theme_chosen_in_the_view_menu_applies_at_once_and_is_remembered(
    services, window, qtbot
):
    window.theme_actions[Theme.DARK].trigger()
    assert is_dark() and window.theme_actions[Theme.DARK].isChecked()
    assert services.settings.theme() == "Dark"
    window.theme_actions[Theme.LIGHT].trigger()
    assert not is_dark() and services.settings.theme() == "Light"


@pytest.mark.parametrize("theme", [Theme.LIGHT, Theme.DARK])
@pytest.mark.parametrize(
    ("kind", "indicator"),
    [
        (QCheckBox, QStyle.SubElement.SE_CheckBoxIndicator),
        (QRadioButton, QStyle.SubElement.SE_RadioButtonIndicator),
    ],
    ids=["check-box", "radio-button"],
)
def test_an_unchecked_box_shows_its_edge_against_the_window(qtbot, theme, kind, indicator):
    apply_theme(theme)
    box = kind("Skip flashing")
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    image = box.grab().toImage()
    ratio = image.devicePixelRatio()
    option = QStyleOptionButton()
    box.initStyleOption(option)
    rect = box.style().subElementRect(indicator, option, box)
    window = QApplication.palette().color(QPalette.ColorRole.Window)
    edge = max(
        contrast(QColor(image.pixel(int(x * ratio), int(y * ratio))), window)
        for x in range(rect.left(), rect.right() + 1)
        for y in range(rect.top(), rect.bottom() + 1)
    )
    assert edge >= NON_TEXT
