"""Port discovery: adapter table, ordering, hot-plug diffs."""

from __future__ import annotations

from types import SimpleNamespace

from app.serial import ports
from app.serial.ports import NO_PORT_HELP, PortInfo, PortWatcher, port_info


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
