"""What pyserial lists: the given devices as USB serial adapters, beside a PC's own port."""

from types import SimpleNamespace

from app.serial import ports

CP2102 = (0x10C4, 0xEA60, "CP2102")
CH340 = (0x1A86, 0x7523, "USB Serial")


def list_adapters(monkeypatch, *likely: str, chip=CP2102) -> None:
    """pyserial lists each of `likely` as a `chip` adapter, and /dev/ttyS0 as no adapter."""
    vid, pid, description = chip
    found = [SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None, description="n/a")]
    found += [
        SimpleNamespace(device=device, vid=vid, pid=pid, description=description)
        for device in likely
    ]
    monkeypatch.setattr(ports._list_ports, "comports", lambda: found)
