"""Registering a camera through the dialog: the registry is written, the key shown once."""

import logging

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication

from app.devices.registry import Registry
from app.services import network
from app.services.devices_service import DevicesService
from app.ui.add_device import NAME_PAGE, RESULT_PAGE, AddDeviceDialog


@pytest.fixture
def registry_dir(tmp_path):
    return tmp_path / "registry"


@pytest.fixture
def devices(registry_dir):
    return DevicesService(Registry(registry_dir))


@pytest.fixture(autouse=True)
def _lan(monkeypatch):
    monkeypatch.setattr(network, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.7"])


def open_dialog(qtbot, devices, port=8765, host="0.0.0.0"):
    dialog = AddDeviceDialog(devices, port, host)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_creating_writes_the_registry_and_shows_key_fingerprint_and_urls(
    qtbot, devices, registry_dir, caplog
):
    caplog.set_level(logging.DEBUG)
    dialog = open_dialog(qtbot, devices)
    assert not dialog.create_button.isEnabled()
    qtbot.keyClicks(dialog.name_edit, "porch")
    assert dialog.create_button.isEnabled()
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)

    stored = Registry(registry_dir).get("porch")  # a fresh reader sees it on disk
    assert dialog.created is not None and dialog.created.key == stored.key
    assert dialog.stack.currentIndex() == RESULT_PAGE
    assert dialog.key_edit.text() == stored.key.to_text()
    assert dialog.key_edit.isReadOnly()
    # what the system calls its fixed font (whether one is installed is the machine's business)
    fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    assert dialog.key_edit.font().family() == fixed.family()
    assert dialog.fingerprint_label.text() == stored.key.fingerprint
    assert "only now" in dialog.key_notice.text()
    assert "firmware" in dialog.key_notice.text()
    assert [e.text() for e in dialog.url_edits] == [
        "ws://192.168.1.20:8765/camera",
        "ws://10.0.0.7:8765/camera",
    ]
    assert dialog.url_notes == []

    # the registry logged the addition (so logs were captured) but never the key
    assert stored.key.fingerprint in caplog.text
    assert stored.key.to_text() not in caplog.text
    assert stored.key.to_text().upper() not in caplog.text


@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Enter])
def test_enter_on_the_name_page_shows_the_key_page(qtbot, devices, registry_dir, key):
    dialog = open_dialog(qtbot, devices)
    qtbot.keyClick(dialog.name_edit, key)  # no name yet: nothing happens, nothing closes
    assert dialog.isVisible() and dialog.stack.currentIndex() == NAME_PAGE
    qtbot.keyClicks(dialog.name_edit, "porch")
    qtbot.keyClick(dialog.name_edit, key)

    stored = Registry(registry_dir).get("porch")
    assert dialog.isVisible()  # the same key press did not also press Done
    assert dialog.stack.currentIndex() == RESULT_PAGE
    assert dialog.key_edit.isVisible()
    assert dialog.key_edit.text() == stored.key.to_text()
    # Enter again, now on the key page, is Done.
    qtbot.keyClick(dialog.done_button, Qt.Key.Key_Return)
    assert not dialog.isVisible()
    assert dialog.result() == AddDeviceDialog.DialogCode.Accepted


def test_copy_buttons_put_key_and_url_on_the_clipboard(qtbot, devices):
    dialog = open_dialog(qtbot, devices)
    dialog.name_edit.setText("porch")
    dialog.create_button.click()
    clipboard = QGuiApplication.clipboard()
    dialog.copy_key_button.click()
    assert clipboard.text() == dialog.created.key.to_text()
    assert dialog.copy_key_button.text() == "Copied"
    dialog.url_copy_buttons[1].click()
    assert clipboard.text() == "ws://10.0.0.7:8765/camera"
    clipboard.clear()


def test_closing_the_result_page_any_way_counts_as_done(qtbot, devices):
    dialog = open_dialog(qtbot, devices)
    dialog.name_edit.setText("porch")
    dialog.create_button.click()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == AddDeviceDialog.DialogCode.Accepted


def test_cancel_registers_nothing(qtbot, devices, registry_dir):
    dialog = open_dialog(qtbot, devices)
    dialog.name_edit.setText("porch")
    dialog.cancel_button.click()
    assert dialog.result() == AddDeviceDialog.DialogCode.Rejected
    assert dialog.created is None
    assert Registry(registry_dir).list() == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "Enter a name"),
        ("porch cam", "invalid device name"),
        ("-porch", "invalid device name"),
        ("x" * 33, "invalid device name"),
        ("kamera-ü", "invalid device name"),
    ],
)
def test_invalid_names_disable_create_with_the_reason(qtbot, devices, registry_dir, name, reason):
    dialog = open_dialog(qtbot, devices)
    dialog.name_edit.setText(name)
    assert not dialog.create_button.isEnabled()
    assert reason.lower() in dialog.name_status.text().lower()
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)  # Enter does not bypass the check
    assert dialog.created is None
    assert Registry(registry_dir).list() == []


def test_taken_names_disable_create_and_follow_changes(qtbot, devices, tmp_path):
    devices.add("porch")
    demo = Registry(tmp_path / "demo")
    demo.add("demo-1")
    devices.set_demo_registry(demo)
    dialog = open_dialog(qtbot, devices)

    dialog.name_edit.setText("porch")
    assert not dialog.create_button.isEnabled()
    assert "already exists" in dialog.name_status.text()
    dialog.name_edit.setText("demo-1")
    assert not dialog.create_button.isEnabled()
    assert "demo camera" in dialog.name_status.text()

    dialog.name_edit.setText("gate")
    assert dialog.create_button.isEnabled()
    devices.add("gate")  # added elsewhere while the dialog is open
    assert not dialog.create_button.isEnabled()
    assert "already exists" in dialog.name_status.text()


def test_a_registry_error_is_shown_in_the_dialog(qtbot, devices, registry_dir):
    dialog = open_dialog(qtbot, devices)
    dialog.name_edit.setText("porch")
    Registry(registry_dir).add("porch")  # another process, behind the service's back
    dialog.create_button.click()
    assert dialog.created is None
    assert dialog.stack.currentIndex() == NAME_PAGE
    assert dialog.error_label.isVisibleTo(dialog)
    assert "already exists" in dialog.error_label.text()


def test_a_corrupt_registry_is_reported_not_raised(qtbot, devices, registry_dir):
    registry_dir.mkdir()
    (registry_dir / "devices.json").write_text("{ not json")
    dialog = open_dialog(qtbot, devices)
    dialog.name_edit.setText("porch")
    dialog.create_button.click()
    assert dialog.created is None
    assert "corrupt" in dialog.error_label.text()


def test_a_receiver_on_loopback_gets_one_url_and_a_warning(qtbot, devices):
    dialog = open_dialog(qtbot, devices, port=9000, host="127.0.0.1")
    dialog.name_edit.setText("porch")
    dialog.create_button.click()
    assert [e.text() for e in dialog.url_edits] == ["ws://127.0.0.1:9000/camera"]
    assert len(dialog.url_notes) == 1
    assert "simulated camera" in dialog.url_notes[0].text()


def test_a_stopped_receiver_shows_no_url(qtbot, devices):
    dialog = open_dialog(qtbot, devices, port=0)
    dialog.name_edit.setText("porch")
    dialog.create_button.click()
    assert dialog.created is not None
    assert dialog.url_edits == []
