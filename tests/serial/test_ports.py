"""Port discovery: adapter table, ordering, hot-plug diffs, the one board to use without --port."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.serial import ports
from app.serial.ports import (
    NO_PORT_HELP,
    NoBoardPort,
    PortInfo,
    PortWatcher,
    pick_port,
    port_info,
)


def _fake(device, vid=None, pid=None, description="n/a"):
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=description)


def test_likely_adapters_first(monkeypatch):
    fake = [
        _fake("/dev/ttyS0"),
        _fake("/dev/ttyACM0", 0x2341, 0x0043, "Arduino Uno"),
        _fake("/dev/ttyUSB1", 0x1A86, 0x7523, "USB Serial"),
        _fake("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102 USB to UART"),
    ]
    monkeypatch.setattr(ports._list_ports, "comports", lambda: fake)
    listed = ports.list_ports()
    assert [p.device for p in listed] == [
        "/dev/ttyUSB0",
        "/dev/ttyUSB1",
        "/dev/ttyACM0",
        "/dev/ttyS0",
    ]
    assert listed[0].adapter == "Silicon Labs CP210x" and listed[0].likely
    assert listed[1].adapter == "WCH CH340"
    assert listed[2].adapter is None and not listed[2].likely
    assert "CP210x" in listed[0].label


def test_adapter_table():
    for vid, pid in [(0x1A86, 0x55D4), (0x0403, 0x6001), (0x0403, 0x6015), (0x303A, 0x1001)]:
        assert port_info("x", "", vid, pid).likely
    assert not port_info("x", "", None, None).likely


def test_watcher_reports_added_and_removed():
    listing: list[PortInfo] = [port_info("/dev/ttyS0", "", None, None)]
    watcher = PortWatcher(lambda: list(listing))
    added, removed = watcher.poll()
    assert [p.device for p in added] == ["/dev/ttyS0"] and removed == []
    assert watcher.poll() == ([], [])
    listing.append(port_info("/dev/ttyUSB0", "", 0x10C4, 0xEA60))
    added, removed = watcher.poll()
    assert [p.device for p in added] == ["/dev/ttyUSB0"] and removed == []
    assert watcher.ports[0].device == "/dev/ttyUSB0"
    listing.pop()
    added, removed = watcher.poll()
    assert added == [] and [p.device for p in removed] == ["/dev/ttyUSB0"]


def test_help_mentions_drivers_and_wiring():
    for word in ("CP210x", "CH340", "ESP32-CAM-MB", "U0R", "U0T", "IO0", "GND", "5V", "dialout"):
        assert word in NO_PORT_HELP


def test_real_listing_does_not_crash():
    assert isinstance(ports.list_ports(), list)


def _port(device, likely):
    return port_info(device, "", 0x10C4, 0xEA60) if likely else port_info(device, "", None, None)


def test_pick_port_takes_the_one_likely_adapter_beside_other_ports():
    listed = [_port("/dev/ttyS0", False), _port("/dev/ttyUSB0", True), _port("/dev/ttyS1", False)]
    assert pick_port(listed) == "/dev/ttyUSB0"


def test_pick_port_without_a_likely_adapter_says_what_to_check():
    with pytest.raises(NoBoardPort) as info:
        pick_port([_port("/dev/ttyS0", False)])
    assert info.value.message == "no ESP32 serial adapter found; pass --port"
    assert info.value.guidance == NO_PORT_HELP


def test_pick_port_with_several_likely_adapters_names_them_and_guesses_none():
    with pytest.raises(NoBoardPort) as info:
        pick_port([_port("/dev/ttyUSB0", True), _port("/dev/ttyACM0", True)])
    assert str(info.value) == (
        "several adapters found (/dev/ttyUSB0, /dev/ttyACM0); pick one with --port"
    )
