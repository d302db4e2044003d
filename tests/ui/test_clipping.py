"""No window or dialog cuts its text at 1280×800: every visible label and button is walked."""

import pytest
from PySide6.QtWidgets import QApplication, QDialog, QPushButton

from tests.helpers import demo_tile_painted, run
from tests.ui.clipping import clipped_text

SCREEN = (1280, 800)


def open_dialogs(window) -> list[QDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]


def test_the_walk_finds_a_button_too_narrow_for_its_text(window, qtbot):
    button = QPushButton("A label far too long for forty pixels", window)
    button.setGeometry(0, 0, 40, 20)
    button.show()
    assert clipped_text(window) == [
        f"'A label far too long for forty pixels': {button.sizeHint().width()}×"
        f"{button.sizeHint().height()} needed, 40×20 given"
    ]


def test_the_first_screen_cuts_no_text(window, qtbot):
    window.resize(*SCREEN)
    qtbot.waitExposed(window)
    assert clipped_text(window) == []


def test_the_wall_with_a_live_demo_camera_cuts_no_text(qloop, services, window, qtbot):
    window.resize(*SCREEN)

    async def scenario():
        await services.start()
        await demo_tile_painted(window)
        window.refresh_tiles()
        window.refresh_status()
        found = clipped_text(window)
        await services.shutdown()
        return found

    assert run(qloop, scenario()) == []


@pytest.mark.parametrize(
    "opening",
    ["open_settings", "open_add_device", "open_setup", "show_about", "show_shortcuts", "details"],
)
def test_no_dialog_cuts_its_text(qloop, services, window, qtbot, opening):
    window.resize(*SCREEN)
    run(qloop, services.start())
    if opening == "details":
        window.show_details("porch")
    else:
        getattr(window, opening)()
    (dialog,) = open_dialogs(window)
    qtbot.waitExposed(dialog)
    assert clipped_text(dialog) == []
    dialog.close()


def test_no_dock_or_latency_tab_cuts_its_text(qloop, services, window, qtbot):
    from PySide6.QtWidgets import QTabWidget

    window.resize(*SCREEN)
    qtbot.waitExposed(window)
    run(qloop, services.start())
    for dock in (window.devices_panel, window.latency_dock, window.log_dock, window.share_panel):
        dock.show()
        dock.raise_()
        QApplication.processEvents()
        assert clipped_text(dock) == [], dock.windowTitle()
        for tabs in dock.findChildren(QTabWidget):
            for index in range(tabs.count()):
                tabs.setCurrentIndex(index)
                QApplication.processEvents()
                assert clipped_text(dock) == [], f"{dock.windowTitle()}: {tabs.tabText(index)}"
