"""No window or dialog cuts its text at 1280×800: every visible label and button is walked, in
the light and the dark theme, with real content (live, offline and rejected cameras, log
lines, viewers), and no two sibling texts overlap. The setup wizard's pages are walked in
tests/ui/test_setup_wizard.py, the latency dock's tabs in tests/ui/latency/test_clipping.py,
the tile's painted text in tests/ui/test_tile.py."""

from __future__ import annotations

import traceback

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabBar,
    QWidget,
)

from app.devices.registry import Registry
from app.protocol.framesize import FrameSize
from app.services.share_service import ShareState
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource
from app.ui import errors
from app.ui.share_panel import SecretDialog
from tests.helpers import demo_tile_painted, run
from tests.ui.clipping import clipped_text, in_both_themes, settle
from tests.waiting import wait_until

SCREEN = (1280, 800)
LONG_NAME = "garage-door-north-side"  # a long device name, as users give them


def open_dialogs() -> list[QDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]


def walk_dialog(dialog: QDialog, what: str) -> list[str]:
    """The dialog's cut text in both themes, and whether it fits a 1280×800 screen."""
    settle()
    found = [f"{what}: {problem}" for problem in in_both_themes(dialog)]
    frame = dialog.frameGeometry()
    if frame.width() > SCREEN[0] or frame.height() > SCREEN[1]:
        found.append(f"{what}: {frame.width()}×{frame.height()} does not fit a 1280×800 screen")
    return found


def close_all() -> None:
    for dialog in open_dialogs():
        dialog.close()
    settle()


# -- the walk itself finds what it should ---------------------------------------------------


def shown_in(qtbot, *widgets: QWidget, size: tuple[int, int] = (300, 100)) -> QWidget:
    root = QWidget()
    qtbot.addWidget(root)
    for widget in widgets:
        widget.setParent(root)
    root.resize(*size)
    root.show()
    qtbot.waitExposed(root)
    return root


def test_the_walk_finds_a_button_too_narrow_for_its_text(qtbot):
    button = QPushButton("A label far too long for forty pixels")
    root = shown_in(qtbot, button)
    button.setGeometry(0, 0, 40, 20)
    hint = button.sizeHint()
    assert clipped_text(root) == [
        f"QPushButton 'A label far too long for forty pixels': {hint.width()}×{hint.height()} "
        "needed, 40×20 given"
    ]


def test_the_walk_finds_a_wrapped_label_too_short_or_too_narrow_for_a_word(qtbot):
    short = QLabel("many words that wrap onto several lines in a narrow label")
    narrow = QLabel("a https://example.com/a/very/long/unbreakable/address word")
    for label in (short, narrow):
        label.setWordWrap(True)
    root = shown_in(qtbot, short, narrow, size=(400, 200))
    short.setGeometry(0, 0, 80, 20)
    narrow.setGeometry(0, 100, 120, 100)
    found = clipped_text(root)
    assert len(found) == 2
    assert "px high needed, 20 given" in found[0]
    assert "its word 'https://example.com/a/very/long/unbreakable/address' needs" in found[1]


def test_the_walk_finds_siblings_that_overlap(qtbot):
    left, right = QLabel("left"), QLabel("right")
    root = shown_in(qtbot, left, right)
    left.setGeometry(0, 0, 100, 30)
    right.setGeometry(90, 0, 100, 30)
    assert clipped_text(root) == ["QLabel 'left' and QLabel 'right' overlap by 10×30"]


def test_the_walk_finds_text_its_parent_cuts_off(qtbot):
    box = QWidget()
    label = QLabel("sticks out", box)
    root = shown_in(qtbot, box)
    box.setGeometry(0, 0, 60, 30)
    label.setGeometry(20, 0, 80, 30)
    assert clipped_text(root) == [
        "QLabel 'sticks out': QLabel at 20,0 80×30 sticks out of its QWidget (60×30)"
    ]


def test_the_walk_finds_elided_combo_box_line_edit_and_tab_texts(qtbot):
    combo = QComboBox()
    combo.addItem("a choice much too long for its box")
    edit = QLineEdit("https://192.168.100.200:8443/some/long/path")
    edit.setReadOnly(True)
    tabs = QTabBar()
    tabs.setElideMode(Qt.TextElideMode.ElideRight)
    tabs.setUsesScrollButtons(False)
    for text in ("Live latency", "Stages", "Comparison"):
        tabs.addTab(text)
    holder = QWidget()
    row = QHBoxLayout(holder)
    for widget in (combo, edit, tabs):
        widget.setMinimumWidth(10)
        row.addWidget(widget)
    root = shown_in(qtbot, holder, size=(260, 60))
    holder.setGeometry(root.rect())
    settle()
    found = "\n".join(clipped_text(root))
    assert "QComboBox 'a choice much too long for its box'" in found
    assert "QLineEdit 'https://192.168.100.200:8443/some/long/path'" in found
    assert "QTabBar 'Live latency | Stages | Comparison': tab" in found


# -- the window ------------------------------------------------------------------------------


def test_the_first_screen_cuts_no_text(window, qtbot):
    window.resize(*SCREEN)
    qtbot.waitExposed(window)
    assert in_both_themes(window) == []


def add_cameras(services, *names: str) -> None:
    registry = Registry(services.config_dir)
    for name in names:
        registry.add(name)
    services.devices.devicesChanged.emit()


async def wrong_key(services, name: str) -> None:
    """A camera named `name` connects once with a wrong key and is turned away."""
    url = f"ws://127.0.0.1:{services.receiver.port}/camera"
    source = PrerenderedSource.synthetic(FrameSize.QQVGA, count=2)
    camera = SimulatedCamera(url, name, b"\x01" * 32, source, reconnect=False)
    await camera.run()
    assert camera.stats.last_close is not None


def test_the_wall_and_every_dock_with_live_offline_and_rejected_cameras_cut_no_text(
    qloop, services, window, qtbot
):
    """The demo camera live, a camera that never came, one the receiver turned away
    (rejected, with a long reason), one with failed attempts; every dock shown in turn with
    each device selected, the log with a long line, the large view of a live and a rejected
    camera."""
    window.resize(*SCREEN)
    add_cameras(services, LONG_NAME, "porch", "shed")
    found: list[str] = []

    async def scenario():
        await services.start()
        await demo_tile_painted(window)
        await wrong_key(services, "porch")  # a failed attempt
        await wait_until(lambda: window.wall.tiles["porch"].attempts_badge is not None)
        # What the receiver records when it closes a confirmed session it no longer trusts.
        reason = "replay: a record's counter went backwards (a replayed or reordered frame)"
        services.receiver._receiver.device_stats("shed").was_rejected(reason)
        window.refresh_tiles()
        window.refresh_status()
        logging_line = f"{LONG_NAME}: a long warning line that goes on " + "and on " * 30
        window.log_dock.append_record(logging_line, 30)
        found.extend(f"wall: {p}" for p in in_both_themes(window))
        panel = window.devices_panel
        for name in ("demo-1", LONG_NAME, "porch", "shed"):
            assert panel.select(name)
            settle()
            found.extend(f"devices, {name} selected: {p}" for p in in_both_themes(panel))
        for dock in (window.latency_dock, window.log_dock, window.share_panel):
            dock.show()
            dock.raise_()
            settle()
            found.extend(f"{dock.windowTitle()}: {p}" for p in in_both_themes(dock))
        for name in ("demo-1", "shed"):
            view = window.wall.open_large(name)
            settle()
            found.extend(walk_dialog(view, f"large view of {name}"))
            view.close()
        await services.shutdown()

    run(qloop, scenario())
    assert not found, "\n".join(found)


def test_the_share_panel_with_viewers_and_its_dialogs_cut_no_text(qloop, services, window, qtbot):
    """Share on, three viewers listed (one long-named, one with a player token), then Add
    viewer (empty, with a problem), Cameras, the password and token dialogs, a confirmation
    and an error."""
    window.resize(*SCREEN)
    panel = window.share_panel
    add_cameras(services, "porch", LONG_NAME)
    found: list[str] = []

    async def scenario():
        panel.show()
        panel.raise_()
        panel.switch.click()
        await wait_until(lambda: services.share.state is ShareState.ON, 10)
        for name, cameras in (("alice", ["porch"]), ("bob-the-builder-long", None)):
            await services.share.add_viewer(name, cameras or services.share.cameras(), None)
        services.share.new_token("alice")
        panel.render_viewers()
        settle()
        found.extend(f"Share: {p}" for p in in_both_themes(panel))
        sideways = panel.widget().horizontalScrollBar()  # the panel's own scroll area
        assert sideways.maximum() == 0, f"the Share panel scrolls {sideways.maximum()} px sideways"

        dialog = panel.open_add_dialog()
        found.extend(walk_dialog(dialog, "Add viewer"))
        dialog.name_edit.setText("alice")  # taken: the problem is shown
        dialog.chooser.set_checked([])
        found.extend(walk_dialog(dialog, "Add viewer, a problem"))
        dialog.name_edit.setText("carol")
        dialog.chooser.set_checked(["porch"])
        dialog.submit()
        secret = await wait_until(lambda: panel.secret_dialog, 10)
        found.extend(walk_dialog(secret, "password"))
        secret.done_button.click()

        assert panel.select_viewer("alice")
        panel.new_token_for_selected()  # alice has one: asks first
        confirm = panel.confirm_box
        found.extend(walk_dialog(confirm, "replace token"))
        confirm.button(confirm.StandardButton.Yes).click()
        secret = await wait_until(lambda: panel.secret_dialog, 10)
        found.extend(walk_dialog(secret, "player token"))
        secret.done_button.click()
        await wait_until(lambda: not window.findChildren(SecretDialog))

        cameras = panel.open_cameras_dialog()
        found.extend(walk_dialog(cameras, "Cameras"))
        cameras.chooser.set_checked([])
        found.extend(walk_dialog(cameras, "Cameras, none ticked"))
        cameras.close()

        panel._show_error("Could not remove the viewer", "viewers.json: Permission denied")
        found.extend(walk_dialog(panel.error_box, "Share error"))
        panel.error_box.close()
        await services.share.stop()

    run(qloop, scenario())
    assert not found, "\n".join(found)


def test_no_dialog_cuts_its_text(qloop, services, window, qtbot, tmp_path):
    """Every dialog the menus, the tile menu and the sidebar open, and the messages a user
    can meet: a receiver not listening, a snapshot with no camera, a failed recording, an
    unexpected error with its traceback."""
    window.resize(*SCREEN)
    found: list[str] = []

    def opened(what: str, open_it) -> None:
        open_it()
        settle()
        dialogs = open_dialogs()
        assert dialogs, what
        for dialog in dialogs:
            found.extend(walk_dialog(dialog, what))
        close_all()

    kept = []  # the error dialog has no parent here: Python owns it

    def unexpected_error() -> None:
        try:
            raise ValueError("a value the code did not expect: 42")
        except ValueError as exc:
            details = "".join(traceback.format_exception(exc))
        text = "ValueError: a value the code did not expect: 42"
        kept.append(errors.show_error_dialog(errors.DIALOG_TITLE, text, details))

    async def scenario():
        await services.start()
        await demo_tile_painted(window)
        for what, open_it in (
            ("Settings", window.open_settings),
            ("Add device", window.open_add_device),
            ("Setup", window.open_setup),
            ("About", window.show_about),
            ("Shortcuts", window.show_shortcuts),
            ("Details", lambda: window.show_details("demo-1")),
            ("Receiver not listening", window.show_listen_problem),
            ("Snapshot of nothing", lambda: window.save_snapshot_dialog("nobody")),
            ("Recording stopped", lambda: window._recording_failed("No space left on device")),
            ("Unexpected error", unexpected_error),
        ):
            opened(what, open_it)
        # Add device, on its second page: the new camera's key and how to use it.
        window.open_add_device()
        dialog = window._add_dialog
        dialog.name_edit.setText(LONG_NAME)
        dialog.create_button.click()
        settle()
        found.extend(walk_dialog(dialog, "Add device, created"))
        close_all()
        await services.shutdown()

    try:
        run(qloop, scenario())
    finally:
        close_all()  # a modal dialog left open would block the teardown
    assert not found, "\n".join(found)


@pytest.mark.parametrize("size", [(1280, 720), (960, 640)])
def test_the_welcome_panel_cuts_no_text_in_a_smaller_window(window, qtbot, size):
    window.resize(*size)
    qtbot.waitExposed(window)
    assert clipped_text(window.welcome) == []
