"""The first screen: three routes that read as a list at 1280×720 and when resized."""

import pytest
from PySide6.QtWidgets import QLabel

from app.ui.welcome import WelcomePanel


@pytest.mark.parametrize("size", [(1000, 560), (1280, 720), (1920, 1080), (700, 400)])
def test_each_route_hint_has_room_for_its_text_and_never_runs_into_the_next_button(qtbot, size):
    panel = WelcomePanel()
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    buttons = [panel.demo_button, panel.setup_button, panel.add_button]
    assert len({b.width() for b in buttons}) == 1  # one width: they read as one list
    content = panel.demo_button.parentWidget()
    hints = [
        w for w in content.findChildren(QLabel) if w.wordWrap() and w is not panel.problem_label
    ]
    assert len(hints) == 3
    for hint, following in zip(hints, [*buttons[1:], None], strict=True):
        assert hint.height() >= hint.heightForWidth(hint.width())  # wrapped text fits
        if following is not None:
            assert hint.geometry().bottom() < following.geometry().top()
