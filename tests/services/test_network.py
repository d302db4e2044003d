"""LAN addresses and camera URLs: no network traffic, loopback never offered as a LAN address."""

import ipaddress

import pytest
from PySide6.QtNetwork import QHostAddress, QNetworkInterface

from app.protocol.endpoints import camera_url
from app.services import network
from app.services.network import (
    LOOPBACK_NOTE,
    camera_url_note,
    camera_urls,
    lan_addresses,
    select_addresses,
)

UP = QNetworkInterface.InterfaceFlag.IsUp | QNetworkInterface.InterfaceFlag.IsRunning
LOOP = UP | QNetworkInterface.InterfaceFlag.IsLoopBack
DOWN = QNetworkInterface.InterfaceFlag.CanBroadcast


def test_lan_addresses_of_this_machine_are_real_non_loopback_ipv4_first():
    addresses = lan_addresses()
    parsed = [ipaddress.ip_address(a) for a in addresses]  # raises on scope ids or garbage
    assert not any(a.is_loopback for a in parsed)
    versions = [a.version for a in parsed]
    assert versions == sorted(versions)  # every IPv4 before any IPv6
    assert len(set(addresses)) == len(addresses)


def test_select_addresses_filters_and_orders():
    candidates = [
        (UP, QHostAddress("2001:db8::5"), False),
        (UP, QHostAddress("fe80::1"), False),  # IPv6 link-local: needs a scope, useless
        (UP, QHostAddress("2001:db8::77"), True),  # temporary privacy address
        (UP, QHostAddress("169.254.3.4"), False),  # failed DHCP: last of the IPv4
        (UP, QHostAddress("192.168.1.5"), False),
        (UP, QHostAddress("192.168.1.5"), False),  # duplicate
        (LOOP, QHostAddress("127.0.0.1"), False),
        (LOOP, QHostAddress("::1"), False),
        (DOWN, QHostAddress("10.0.0.9"), False),  # interface down
        (QNetworkInterface.InterfaceFlag.IsUp, QHostAddress("10.0.0.8"), False),  # not running
        (UP, QHostAddress("10.1.2.3"), False),
    ]
    assert select_addresses(candidates) == ["192.168.1.5", "10.1.2.3", "169.254.3.4", "2001:db8::5"]


@pytest.fixture
def lan(monkeypatch):
    addresses = ["192.168.1.20", "10.0.0.7", "2001:db8::5"]
    monkeypatch.setattr(network, "lan_addresses", lambda: list(addresses))
    return addresses


def test_any_ipv4_lists_every_ipv4_lan_address(lan):
    assert camera_urls(8765, "0.0.0.0") == [
        "ws://192.168.1.20:8765/camera",
        "ws://10.0.0.7:8765/camera",
    ]
    assert camera_urls(8765) == camera_urls(8765, "0.0.0.0")


def test_any_ipv6_and_both(lan):
    assert camera_urls(9000, "::") == ["ws://[2001:db8::5]:9000/camera"]
    assert camera_urls(9000, "") == [
        "ws://192.168.1.20:9000/camera",
        "ws://10.0.0.7:9000/camera",
        "ws://[2001:db8::5]:9000/camera",
    ]


def test_a_specific_host_is_the_only_url(lan):
    assert camera_urls(8888, "10.0.0.7") == ["ws://10.0.0.7:8888/camera"]
    assert camera_urls(8888, "fd00::2") == ["ws://[fd00::2]:8888/camera"]
    assert camera_urls(8888, "127.0.0.1") == ["ws://127.0.0.1:8888/camera"]


def test_no_lan_address_falls_back_to_loopback_with_a_note(monkeypatch):
    monkeypatch.setattr(network, "lan_addresses", lambda: [])
    assert camera_urls(8888, "0.0.0.0") == ["ws://127.0.0.1:8888/camera"]
    assert camera_urls(8888, "::") == ["ws://[::1]:8888/camera"]
    assert camera_url_note("ws://127.0.0.1:8888/camera") == LOOPBACK_NOTE
    assert camera_url_note("ws://[::1]:8888/camera") == LOOPBACK_NOTE
    assert camera_url_note("ws://localhost:8888/camera") == LOOPBACK_NOTE


def test_lan_urls_have_no_note():
    assert camera_url_note(camera_url("192.168.1.20", 8888)) is None
    assert camera_url_note(camera_url("2001:db8::5", 8888)) is None
