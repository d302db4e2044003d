"""`securecam provision`'s command line without a camera: finding the board without --port and
the receiver port without one in --server (end to end against the console:
tests/firmware/test_provision_cli.py)."""

from __future__ import annotations

import argparse

import pytest

from app.devices.registry import Registry
from app.paths import config_dir
from app.protocol.endpoints import DEFAULT_PORT
from app.serial import ports, provision_cli
from app.serial.provisioner import DEFAULT_TIMEOUTS
from tests.serial.listing import CH340, list_adapters

NEEDED = ["--name", "cam1", "--wifi-ssid", "HomeNet", "--server", "192.168.1.50"]


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="securecam")
    provision_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["provision", *argv])
    return args.handler(args)


def test_port_is_optional():
    parser = argparse.ArgumentParser(prog="securecam")
    provision_cli.add_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["provision", *NEEDED]).port is None


def test_without_port_or_adapter_it_says_what_to_check_and_registers_nothing(monkeypatch, capsys):
    list_adapters(monkeypatch, chip=CH340)
    assert run_cli(*NEEDED) == 1
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == "securecam: error: no ESP32 serial adapter found; pass --port"
    assert ports.NO_PORT_HELP in err
    assert "Provisioning" not in out
    assert Registry(config_dir()).list() == []


def test_without_port_and_several_adapters_it_names_them(monkeypatch, capsys):
    list_adapters(monkeypatch, "/dev/ttyUSB0", "/dev/ttyUSB1", chip=CH340)
    assert run_cli(*NEEDED) == 1
    assert capsys.readouterr().err == (
        "securecam: error: several adapters found (/dev/ttyUSB0, /dev/ttyUSB1); "
        "pick one with --port\n"
    )
    assert Registry(config_dir()).list() == []


def test_the_server_port_defaults_to_the_given_one_else_the_saved_one():
    assert provision_cli.parse_server("cam-server.lan") == ("cam-server.lan", DEFAULT_PORT)
    assert provision_cli.parse_server("cam-server.lan", 9123) == ("cam-server.lan", 9123)
    assert provision_cli.parse_server("cam-server.lan:9000", 9123) == ("cam-server.lan", 9000)


def test_the_console_timeout_default_is_the_provisioners():
    assert DEFAULT_TIMEOUTS.console == provision_cli.CONSOLE_TIMEOUT_S
    parser = argparse.ArgumentParser(prog="securecam")
    provision_cli.add_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["provision", *NEEDED]).timeout == DEFAULT_TIMEOUTS.console


@pytest.mark.parametrize("port", ["COM3", "/dev/null"])
def test_a_given_port_is_used_without_looking_for_adapters(monkeypatch, capsys, port):
    def no_listing():
        raise AssertionError("listed the ports although --port was given")

    monkeypatch.setattr(ports._list_ports, "comports", no_listing)
    Registry(config_dir()).add("cam1")  # taken: provisioning stops before opening the port
    assert run_cli("--port", port, *NEEDED) == 1
    out, err = capsys.readouterr()
    assert f"Provisioning camera 'cam1' on {port}:" in out
    assert "already registered" in err
