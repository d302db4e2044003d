"""Bad ports, hosts, serial ports and frame sizes on the command line: one line naming the value,
exit 2; the window's saved receiver port; error rules."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from app.cli import main
from app.cli_common import (
    CommandLineParser,
    frame_size,
    frame_size_names,
    host_port,
    listen_host,
    listen_port,
    reports_errors,
    saved_receiver_port,
    serial_port,
    tcp_port,
    ws_url,
)
from app.protocol.framesize import FrameSize
from tests.waiting import scaled

UNRESOLVABLE = "nosuch.invalid"  # RFC 6761: .invalid never resolves
NO_SERIAL = "/dev/securecam-test-no-such-port"
PROVISION = ["provision", "--port", "/dev/null", "--name", "c", "--wifi-ssid", "s"]


def type_error(check, text: str) -> str:
    with pytest.raises(argparse.ArgumentTypeError) as info:
        check(text)
    return str(info.value)


def test_tcp_ports():
    assert tcp_port("8888") == 8888 and tcp_port("65535") == 65535 and tcp_port(" 1 ") == 1
    assert listen_port("0") == 0  # any free port
    assert type_error(tcp_port, "99999") == "'99999' is not a TCP port (1-65535)"
    assert type_error(tcp_port, "0") == "'0' is not a TCP port (1-65535)"
    assert type_error(listen_port, "-1") == "'-1' is not a TCP port (0-65535)"
    assert type_error(listen_port, "abc") == "'abc' is not a TCP port number"
    assert type_error(listen_port, "80.5") == "'80.5' is not a TCP port number"


def test_hosts_resolve_while_parsing():
    for host in ("", "0.0.0.0", "::", "127.0.0.1", "localhost"):
        assert listen_host(host) == host
    assert type_error(listen_host, UNRESOLVABLE).startswith(
        f"cannot resolve host '{UNRESOLVABLE}' ("
    )
    assert "cannot resolve host 'a..b'" in type_error(listen_host, "a..b")


def test_receiver_urls():
    assert ws_url("ws://127.0.0.1:8888/camera") == "ws://127.0.0.1:8888/camera"
    assert ws_url("wss://localhost/camera") == "wss://localhost/camera"
    assert ws_url("ws://[::1]:8888/camera") == "ws://[::1]:8888/camera"
    assert type_error(ws_url, "ws://127.0.0.1:99999/camera") == (
        "'ws://127.0.0.1:99999/camera': '99999' is not a TCP port (1-65535)"
    )
    assert "'abc' is not a TCP port number" in type_error(ws_url, "ws://127.0.0.1:abc/camera")
    assert "is not a ws:// or wss:// URL" in type_error(ws_url, "http://127.0.0.1:8888/")
    assert "is not a ws:// or wss:// URL" in type_error(ws_url, "127.0.0.1:8888")
    assert f"cannot resolve host '{UNRESOLVABLE}'" in type_error(
        ws_url, f"ws://{UNRESOLVABLE}:8888/camera"
    )


def test_server_addresses():
    assert host_port("127.0.0.1") == "127.0.0.1"
    assert host_port("localhost:9000") == "localhost:9000"
    assert type_error(host_port, "127.0.0.1:99999") == "'99999' is not a TCP port (1-65535)"
    assert "with a DNS name or IPv4 address" in type_error(host_port, "[::1]:8888")
    # The camera resolves the server's name on its own network, so it is not resolved here.
    assert host_port(f"{UNRESOLVABLE}:8888") == f"{UNRESOLVABLE}:8888"


def test_serial_ports(tmp_path):
    assert serial_port("/dev/null") == "/dev/null"  # a character device
    assert serial_port("COM3") == "COM3"  # only opening it tells
    assert serial_port("rfc2217://localhost:4000") == "rfc2217://localhost:4000"
    assert type_error(serial_port, NO_SERIAL).startswith(
        f"serial port '{NO_SERIAL}' does not exist"
    )
    plain = tmp_path / "ttyUSB0"
    plain.write_text("")
    assert type_error(serial_port, str(plain)) == f"'{plain}' is not a serial port (not a device)"


def test_command_line_parser_errors_are_one_line(capsys):
    parser = CommandLineParser(prog="securecam")
    serve = parser.add_subparsers(dest="command").add_parser("serve")
    assert isinstance(serve, CommandLineParser)
    serve.add_argument("--port", type=listen_port)
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["serve", "--port", "99999"])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "securecam serve: error: argument --port: '99999' is not a TCP port (0-65535)\n"
    )


BAD_INPUT = [
    (["serve", "--port", "99999"], "99999"),
    (["serve", "--port", "-1"], "-1"),
    (["serve", "--port", "abc"], "abc"),
    (["serve", "--host", UNRESOLVABLE], UNRESOLVABLE),
    (["sim", "--device", "cam", "--url", f"ws://{UNRESOLVABLE}:8888/camera"], UNRESOLVABLE),
    (["sim", "--device", "cam", "--url", "ws://127.0.0.1:99999/camera"], "99999"),
    (["sim", "--device", "cam", "--url", "ws://127.0.0.1:abc/camera"], "abc"),
    (["provision", "--port", NO_SERIAL, "--name", "c", "--wifi-ssid", "s"], NO_SERIAL),
    (
        [*PROVISION, "--server", "127.0.0.1:99999"],
        "99999",
    ),
]


@pytest.mark.parametrize(("argv", "value"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_every_command_names_the_bad_value_in_one_line(argv, value, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == 2
    naming = [line for line in err.splitlines() if value in line]
    assert len(naming) == 1, err
    assert naming[0].startswith(f"securecam {argv[0]}: error: argument ")
    assert "Traceback" not in out + err


def test_the_installed_command_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--host", UNRESOLVABLE, "--port", "8888"],
        capture_output=True,
        text=True,
        timeout=scaled(120),
        env={**os.environ, "SECURECAM_HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    naming = [line for line in result.stderr.splitlines() if UNRESOLVABLE in line]
    assert naming == [
        line for line in naming if line.startswith("securecam serve: error: argument --host:")
    ]
    assert len(naming) == 1


def test_frame_sizes_by_any_case_name_and_a_bad_one_lists_every_name():
    assert frame_size("vga") is FrameSize.VGA
    assert frame_size(" UXGA ") is FrameSize.UXGA
    assert frame_size_names() == "qqvga, qvga, cif, hvga, vga, svga, xga, hd, sxga, uxga"
    assert type_error(frame_size, "huge") == (
        f"'huge' is not a frame size: choose one of {frame_size_names()}"
    )
    assert "is not a frame size" in type_error(frame_size, "5")  # names, not wire codes


def test_the_receiver_port_saved_by_the_window_is_read_without_qt(tmp_path):
    from app.services.settings import ReceiverSettings, Settings  # the window's own writer

    assert saved_receiver_port(tmp_path) is None  # nothing saved yet
    Settings(tmp_path).save_receiver(ReceiverSettings(host="192.168.1.5", port=9123))
    assert saved_receiver_port(tmp_path) == 9123


@pytest.mark.parametrize(
    "text",
    [
        "[receiver]\nport=0\n",  # "any free port": no camera can be sent there
        "[receiver]\nport=70000\n",
        "[receiver]\nport=abc\n",
        "[receiver]\nhost=0.0.0.0\n",
        "[share]\nport=9000\n",
        "port=9000\n",  # no section header: not an INI file
        "\xff\xfe",
    ],
)
def test_no_port_is_read_from_a_settings_file_without_a_valid_one(tmp_path, text):
    (tmp_path / "settings.ini").write_bytes(text.encode("latin-1"))
    assert saved_receiver_port(tmp_path) is None


def test_a_quoted_saved_port_is_read(tmp_path):
    (tmp_path / "settings.ini").write_text('[receiver]\nport="9000"\n')
    assert saved_receiver_port(tmp_path) == 9000


def test_error_rules_may_name_classes_of_modules_loaded_later(capsys):
    def fail(_args):
        raise json.JSONDecodeError("bad document", "", 0)

    def other(_args):
        raise KeyError("not named")

    handler = reports_errors(("json.decoder:JSONDecodeError", 3), ("no.such.module:Error", 4))
    assert handler(fail)(argparse.Namespace()) == 3
    assert capsys.readouterr().err.startswith("securecam: error: bad document")
    with pytest.raises(KeyError):  # a module never imported cannot have raised it
        handler(other)(argparse.Namespace())
