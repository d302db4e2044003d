"""The receiver settings dialog: every field round-trips, bad values cannot be accepted."""

from dataclasses import fields

import pytest

from app.services.settings import ReceiverSettings
from app.ui.settings_dialog import (
    MAX_FRAME_MIB_RANGE,
    SettingsDialog,
    host_hint,
    host_problem,
)

CUSTOM = ReceiverSettings(
    host="192.168.1.20",
    port=9443,
    max_connections=12,
    max_frame_mib=1.5,
    handshake_timeout_s=2.5,
    idle_timeout_s=30.0,
    demo_count=3,
)


@pytest.fixture
def dialog(qtbot):
    dialog = SettingsDialog(CUSTOM)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_every_setting_is_edited():
    # A new ReceiverSettings field must get a widget here: this fails until it does.
    assert {f.name for f in fields(ReceiverSettings)} == {
        "host",
        "port",
        "max_connections",
        "max_frame_mib",
        "handshake_timeout_s",
        "idle_timeout_s",
        "demo_count",
    }


def test_round_trip_of_custom_settings(dialog):
    assert dialog.ok_button.isEnabled()
    assert dialog.result_settings() == CUSTOM


def test_edits_come_back(dialog):
    dialog.host_combo.setEditText(" 127.0.0.1 ")
    dialog.port_spin.setValue(8000)
    dialog.demo_spin.setValue(2)
    result = dialog.result_settings()
    assert (result.host, result.port, result.demo_count) == ("127.0.0.1", 8000, 2)
    assert "This computer only" in dialog.host_hint.text()


@pytest.mark.parametrize("host", ["", "   ", "my host", "999.1.1.1", "-bad.example", "a..b"])
def test_bad_hosts_disable_ok_with_the_reason(dialog, host):
    dialog.host_combo.setEditText(host)
    assert not dialog.ok_button.isEnabled()
    assert dialog.problem_label.text()
    assert dialog.problem_label.isVisibleTo(dialog)
    dialog.accept()  # Enter cannot slip past the check
    assert dialog.result() != SettingsDialog.DialogCode.Accepted


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "127.0.0.1", "fd00::2", "localhost", "cam.lan"])
def test_good_hosts(host):
    assert host_problem(host) is None
    assert host_hint(host)


def test_out_of_range_values_are_clamped(qtbot):
    wild = ReceiverSettings(
        host="0.0.0.0",
        port=0,
        max_connections=0,
        max_frame_mib=100.0,
        handshake_timeout_s=0.0,
        idle_timeout_s=0.5,
        demo_count=500,
    )
    dialog = SettingsDialog(wild)
    qtbot.addWidget(dialog)
    result = dialog.result_settings()
    assert result.port == 1
    assert result.max_connections == 1
    assert result.max_frame_mib == MAX_FRAME_MIB_RANGE[1] < 4.0  # 64 chunks of < 64 KiB
    assert result.handshake_timeout_s == 0.5
    assert result.idle_timeout_s > result.limits().ping_interval_s
    assert result.demo_count == 16
    result.limits()  # a valid Limits


def test_low_ports_warn_but_are_allowed(dialog):
    dialog.port_spin.setValue(80)
    assert dialog.ok_button.isEnabled()
    assert "administrator" in dialog.port_hint.text()
    dialog.port_spin.setValue(8888)
    assert not dialog.port_hint.isVisibleTo(dialog)


def test_restore_defaults(dialog):
    dialog.defaults_button.click()
    assert dialog.result_settings() == ReceiverSettings()


def test_accept_with_valid_settings(dialog):
    dialog.ok_button.click()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
