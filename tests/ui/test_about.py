"""The Help menu and full screen, as a user meets them in the real window."""

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from app import __version__
from app.ui.about import library_licences


def menu_texts(window, title):
    (menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == title]
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def test_the_help_menu_offers_shortcuts_the_log_folder_and_about(window):
    assert menu_texts(window, "&Help") == [
        "&Keyboard shortcuts…",
        "Open &log folder",
        "&About SecureCam…",
    ]


def test_about_gives_the_version_the_log_folder_and_every_librarys_licence(window, services):
    dialog = window.show_about()
    text = dialog.summary.text()
    assert f"SecureCam {__version__}" in text
    assert str(services.log_dir) in text
    assert "PROTOCOL.md" in text
    rows = {
        dialog.table.item(r, 0).text(): dialog.table.item(r, 2).text()
        for r in range(dialog.table.rowCount())
    }
    assert "GPL-2.0-or-later" in rows["esptool"] and rows["pycryptodome"]
    assert all(licence for licence in rows.values())  # read from each one's own metadata


def test_about_and_shortcuts_open_with_nothing_in_their_tables_looking_selected(window, qtbot):
    for dialog in (window.show_about(), window.show_shortcuts()):
        qtbot.waitExposed(dialog)
        assert not dialog.table.hasFocus() and dialog.table.selectedItems() == []
        dialog.table.setCurrentCell(0, 0)  # a click: still nothing looks selected
        assert dialog.table.selectedItems() == []
        dialog.close()


def test_a_library_that_is_missing_is_listed_as_such():
    assert library_licences(["no-such-library-anywhere"]) == [
        ("no-such-library-anywhere", "not installed", "")
    ]


def test_the_shortcuts_dialog_lists_the_menus_own_shortcuts(window):
    dialog = window.show_shortcuts()
    rows = {
        dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text()
        for r in range(dialog.table.rowCount())
    }
    assert rows["Save snapshot"] == "Ctrl+S"
    assert rows["Full screen"] == "F11"
    assert rows["Keyboard shortcuts"] == "F1"


def test_f11_puts_the_window_full_screen_and_back(window, qtbot):
    window.full_screen_action.trigger()
    qtbot.waitUntil(window.isFullScreen)
    assert window.full_screen_action.isChecked()
    window.full_screen_action.trigger()
    qtbot.waitUntil(lambda: not window.isFullScreen())
    assert not window.full_screen_action.isChecked()


def test_open_log_folder_opens_the_folder_the_log_is_written_to(window, services, monkeypatch):
    opened = []
    # No file manager exists here: record what the system would have been asked to open.
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    assert window.open_log_folder()
    assert opened == [QUrl.fromLocalFile(str(services.log_dir))]
    assert services.log_dir.is_dir()


def test_without_a_file_manager_the_log_folder_is_named(window, services, monkeypatch):
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    assert not window.open_log_folder()
    (box,) = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert str(services.log_dir) in box.text()


def test_a_large_view_goes_full_screen_with_f11_and_esc_leaves_it_first(qtbot):
    from PySide6.QtCore import Qt

    from app.ui.wall import LargeView

    view = LargeView("porch")
    qtbot.addWidget(view)
    view.show()
    qtbot.keyClick(view, Qt.Key.Key_F11)
    qtbot.waitUntil(view.isFullScreen)
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not view.isFullScreen())
    assert view.isVisible()  # Esc left full screen; it did not close the view


def test_a_large_view_opens_as_large_as_the_window_it_comes_from(qtbot):
    from PySide6.QtWidgets import QMainWindow

    from app.ui.wall import LargeView

    window = QMainWindow()
    qtbot.addWidget(window)
    window.resize(1800, 1000)
    view = LargeView("porch", window)
    assert (view.width(), view.height()) == (1800, 1000)
    alone = LargeView("porch")  # no window: most of the screen
    qtbot.addWidget(alone)
    screen = alone.screen().availableGeometry()
    assert alone.width() >= screen.width() * 0.7 and alone.height() <= screen.height()
