"""The devices dock: states from the receiver, and management that asks before it acts."""

import logging

import pytest
from PySide6.QtCore import Qt

from app.devices.registry import Registry
from app.protocol.hello import Suite
from app.receiver.stats import DeviceState, DeviceStats
from app.services.devices_service import DeviceEntry, DevicesService
from app.services.receiver_service import ReceiverService
from app.ui.devices_panel import (
    STATE_COLUMN,
    SUITE_COLUMN,
    DevicesPanel,
    state_text,
    suite_text,
)
from tests.waiting import scaled_ms


@pytest.fixture
def registry_dir(tmp_path):
    return tmp_path / "registry"


@pytest.fixture
def devices(registry_dir):
    service = DevicesService(Registry(registry_dir))
    service.add("porch")
    service.add("garage")
    return service


@pytest.fixture
def demo_registry(tmp_path, devices):
    demo = Registry(tmp_path / "demo")
    demo.add("demo-1")
    devices.set_demo_registry(demo)
    return demo


@pytest.fixture
def receiver(devices):
    receiver = ReceiverService(devices.lookup)  # not started: stats() is None
    yield receiver
    receiver.close()


@pytest.fixture
def panel(qtbot, devices, receiver):
    panel = DevicesPanel(devices, receiver)
    qtbot.addWidget(panel)
    panel.show()
    return panel


class Dialogs:
    """Stands in for the panel's dialogs: scripted answers, recorded questions."""

    def __init__(self, monkeypatch, panel, *, confirm=True, name=None):
        self.confirm, self.name = confirm, name
        self.questions, self.errors = [], []
        monkeypatch.setattr(panel, "_confirm", self._confirm)
        monkeypatch.setattr(panel, "_ask_name", lambda current: self.name)
        monkeypatch.setattr(panel, "_show_error", lambda t, text: self.errors.append(text))

    def _confirm(self, title, text, *, warning=False):
        self.questions.append((title, text, warning))
        return self.confirm


def entry(allow_plain=False):
    return DeviceEntry("porch", "0000-0000-0000-0000", allow_plain, demo=False)


def test_state_and_suite_texts():
    assert state_text(None) == "offline"
    assert state_text(DeviceStats("porch")) == "offline"
    assert state_text(DeviceStats("porch", state=DeviceState.CONNECTING)) == "connecting"
    assert state_text(DeviceStats("porch", state=DeviceState.LIVE, suite=Suite.NOISE)) == "live"
    rejected = DeviceStats("porch", state=DeviceState.REJECTED, reason="bad_psk: wrong key")
    assert state_text(rejected) == "rejected: bad_psk: wrong key"
    assert state_text(DeviceStats("porch", state=DeviceState.REJECTED)) == "rejected"

    live_noise = DeviceStats("porch", state=DeviceState.LIVE, suite=Suite.NOISE)
    live_plain = DeviceStats("porch", state=DeviceState.LIVE, suite=Suite.PLAIN)
    assert suite_text(entry(), None) == "encrypted only"
    assert suite_text(entry(allow_plain=True), None) == "plain allowed (insecure)"
    assert suite_text(entry(allow_plain=True), live_noise) == "encrypted"
    assert suite_text(entry(allow_plain=True), live_plain) == "plain (INSECURE)"


def test_lists_devices_with_demo_marked(qtbot, devices, demo_registry, panel):
    assert panel.row_texts("garage") == ["garage", "offline", "encrypted only"]
    assert panel.row_texts("demo-1")[0] == "demo-1 (demo)"
    assert panel.tree.topLevelItemCount() == 3
    devices.add("gate")
    assert panel.row_texts("gate") == ["gate", "offline", "encrypted only"]


def test_state_follows_the_receiver(monkeypatch, devices, receiver, panel):
    stats = {"porch": DeviceStats("porch", state=DeviceState.CONNECTING)}
    monkeypatch.setattr(receiver, "stats", stats.get)
    receiver.deviceChanged.emit("porch")
    assert panel.row_texts("porch")[1] == "connecting"

    stats["porch"] = DeviceStats("porch", suite=Suite.NOISE, state=DeviceState.LIVE)
    receiver.deviceChanged.emit("porch")
    assert panel.row_texts("porch")[1:] == ["live", "encrypted"]

    stats["porch"] = DeviceStats("porch", state=DeviceState.REJECTED, reason="bad_psk: no")
    receiver.deviceChanged.emit("porch")
    assert panel.row_texts("porch")[1] == "rejected"  # in a word: the reason in its tooltip
    assert panel._item("porch").toolTip(STATE_COLUMN) == "rejected: bad_psk: no"
    receiver.deviceChanged.emit("stranger")  # unknown names are ignored

    devices.add("gate")  # devicesChanged re-renders every state
    assert panel.row_texts("porch")[1] == "rejected"


def test_the_detail_line_shows_the_selected_device_in_full(
    monkeypatch, registry_dir, receiver, panel
):
    reason = "bad_psk: the handshake failed: wrong key or tampered message"
    stats = {"porch": DeviceStats("porch", state=DeviceState.REJECTED, reason=reason)}
    monkeypatch.setattr(receiver, "stats", stats.get)
    panel.select("porch")
    fingerprint = Registry(registry_dir).get("porch").key.fingerprint
    assert f"porch: rejected: {reason}" in panel.detail_label.text()
    assert fingerprint in panel.detail_label.text()

    stats["porch"] = DeviceStats(
        "porch", suite=Suite.NOISE, state=DeviceState.LIVE, peer="10.0.0.9:5"
    )
    receiver.deviceChanged.emit("porch")
    assert "porch: live" in panel.detail_label.text()
    assert "encrypted, from 10.0.0.9:5" in panel.detail_label.text()


def test_failed_attempts_show_apart_from_the_state(monkeypatch, receiver, panel):
    stats = {"porch": DeviceStats("porch", failed_attempts=2)}
    monkeypatch.setattr(receiver, "stats", stats.get)
    receiver.deviceChanged.emit("porch")
    panel.select("porch")
    assert panel.row_texts("porch")[1] == "offline"
    assert "2 failed attempts" in panel.detail_label.text()
    assert "porch: offline" in panel.detail_label.text()
    assert "2 failed attempts" in panel._item("porch").toolTip(STATE_COLUMN)

    stats["porch"] = DeviceStats("porch")
    receiver.deviceChanged.emit("porch")
    assert "failed attempt" not in panel.detail_label.text()


def test_an_unreadable_registry_is_shown_above_the_list(qtbot, tmp_path, receiver):
    directory = tmp_path / "broken"
    directory.mkdir()
    (directory / "devices.json").write_text("not json")
    broken = DevicesService(Registry(directory))
    panel = DevicesPanel(broken, receiver)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.problem_label.isVisible()
    assert "cannot be read" in panel.problem_label.text()
    assert str(directory / "devices.json") in panel.problem_label.text()
    assert panel.tree.topLevelItemCount() == 0

    (directory / "devices.json").unlink()
    broken.add("porch")  # readable again: the problem goes away
    assert not panel.problem_label.isVisible()
    assert panel.row_texts("porch") is not None


def test_no_key_in_the_panel(devices, registry_dir, panel, caplog):
    caplog.set_level(logging.DEBUG)
    keys = [d.key.to_text() for d in Registry(registry_dir).list()]
    panel.select("porch")
    panel.refresh()
    shown = []
    for i in range(panel.tree.topLevelItemCount()):
        item = panel.tree.topLevelItem(i)
        for column in range(panel.tree.columnCount()):
            shown += [item.text(column), item.toolTip(column), str(item.data(column, 256))]
    shown.append(panel.detail_label.text())
    text = " ".join(shown)
    assert "porch" in text
    for key in keys:
        assert key not in text
        assert key not in caplog.text


def test_selection_and_activation_signals(qtbot, panel):
    with qtbot.waitSignal(panel.deviceSelected, timeout=scaled_ms(1000)) as selected:
        panel.select("porch")
    assert selected.args == ["porch"]
    item = panel.tree.currentItem()
    center = panel.tree.visualItemRect(item).center()
    qtbot.waitExposed(panel)
    with qtbot.waitSignal(panel.deviceActivated, timeout=scaled_ms(1000)) as activated:
        # a real double click is press, release, double-click event, release
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=center)
        qtbot.mouseDClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=center)
    assert activated.args == ["porch"]


def test_remove_asks_first(qtbot, monkeypatch, registry_dir, panel):
    dialogs = Dialogs(monkeypatch, panel, confirm=False)
    panel.select("porch")
    panel.remove_button.click()
    assert len(dialogs.questions) == 1 and "porch" in dialogs.questions[0][1]
    assert Registry(registry_dir).lookup("porch") is not None

    dialogs.confirm = True
    with qtbot.waitSignal(panel.deviceRemoved, timeout=scaled_ms(1000)) as removed:
        panel.remove_button.click()
    assert removed.args == ["porch"]
    assert Registry(registry_dir).lookup("porch") is None
    assert panel.row_texts("porch") is None
    assert panel.selected_name() is None
    assert not panel.remove_button.isEnabled()


def test_rename_keeps_the_key_and_validates(qtbot, monkeypatch, registry_dir, panel):
    before = Registry(registry_dir).get("porch").key
    dialogs = Dialogs(monkeypatch, panel, name="bad name")
    panel.select("porch")
    panel.rename_button.click()
    assert dialogs.errors and "invalid device name" in dialogs.errors[0]
    assert Registry(registry_dir).lookup("porch") is not None

    dialogs.name = "garage"
    panel.rename_button.click()
    assert "already exists" in dialogs.errors[-1]

    dialogs.name = None  # cancelled
    panel.rename_button.click()
    assert Registry(registry_dir).lookup("porch") is not None

    dialogs.name = " porch2 "
    with qtbot.waitSignal(panel.deviceRenamed, timeout=scaled_ms(1000)) as renamed:
        panel.rename_button.click()
    assert renamed.args == ["porch", "porch2"]
    fresh = Registry(registry_dir)
    assert fresh.lookup("porch") is None
    assert fresh.get("porch2").key == before
    assert panel.selected_name() == "porch2"


def test_demo_devices_cannot_be_removed_or_renamed(monkeypatch, demo_registry, panel):
    dialogs = Dialogs(monkeypatch, panel, name="renamed")
    panel.select("porch")
    assert panel.remove_button.isEnabled() and panel.rename_button.isEnabled()
    panel.select("demo-1")
    assert not panel.remove_button.isEnabled()
    assert not panel.rename_button.isEnabled()
    panel.remove_selected()
    panel.rename_selected()
    assert dialogs.questions == []
    assert demo_registry.lookup("demo-1") is not None


def test_allow_plain_needs_explicit_confirmation(qtbot, monkeypatch, registry_dir, panel):
    dialogs = Dialogs(monkeypatch, panel, confirm=False)
    panel.select("porch")
    assert not panel.plain_check.isChecked()

    qtbot.mouseClick(panel.plain_check, Qt.MouseButton.LeftButton)
    _title, text, warning = dialogs.questions[0]
    assert warning
    assert "neither encrypted nor authenticated" in text
    assert "anyone on the network" in text
    assert "latency" in text
    assert not panel.plain_check.isChecked()
    assert Registry(registry_dir).get("porch").allow_plain is False

    dialogs.confirm = True
    qtbot.mouseClick(panel.plain_check, Qt.MouseButton.LeftButton)
    assert Registry(registry_dir).get("porch").allow_plain is True
    assert panel.plain_check.isChecked()
    assert panel.row_texts("porch")[2] == "plain allowed"  # in the warning colour
    assert panel._item("porch").toolTip(SUITE_COLUMN) == "plain allowed (insecure)"

    # turning it off again needs no confirmation
    dialogs.confirm = False
    qtbot.mouseClick(panel.plain_check, Qt.MouseButton.LeftButton)
    assert len(dialogs.questions) == 2
    assert Registry(registry_dir).get("porch").allow_plain is False
    assert not panel.plain_check.isChecked()


def test_the_checkbox_follows_the_selection(monkeypatch, devices, panel):
    devices.set_allow_plain("garage", True)
    panel.select("garage")
    assert panel.plain_check.isChecked()
    panel.select("porch")
    assert not panel.plain_check.isChecked()
    panel.tree.clearSelection()
    assert not panel.plain_check.isEnabled()


def test_allow_plain_on_a_demo_device_changes_the_demo_registry(
    qtbot, monkeypatch, demo_registry, registry_dir, panel
):
    dialogs = Dialogs(monkeypatch, panel, confirm=True)
    demo_registry.set_allow_plain("demo-1", False)
    panel.refresh()
    panel.select("demo-1")
    qtbot.mouseClick(panel.plain_check, Qt.MouseButton.LeftButton)
    assert len(dialogs.questions) == 1
    assert demo_registry.get("demo-1").allow_plain is True
    assert Registry(registry_dir).lookup("demo-1") is None
