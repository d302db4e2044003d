"""`securecam provision` and app.serial.provisioner against securecam-console on a pty.

The console is the firmware's provisioning code built for the host: these tests provision it
end to end, then check the registry, the console's read-back fingerprint and its config file,
and that nothing is left registered (and the port is closed) when a step fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.devices.registry import DeviceKey, Registry
from app.paths import config_dir
from app.protocol.framesize import FrameSize
from app.serial import provision_cli
from app.serial.camera_settings import CameraSettings
from app.serial.improv import open_port
from app.serial.improv_codec import Network, State
from app.serial.provisioner import (
    ProvisionCancelled,
    ProvisionRequest,
    Step,
    provision,
    scan_networks,
)
from app.services.settings import ReceiverSettings, Settings
from tests.firmware.console_host import PASSWORD, SSID, HostConsole
from tests.serial.listing import list_adapters
from tests.waiting import scaled

ROOT = Path(__file__).resolve().parents[2]
NETWORKS = "HomeNet:-42:YES,Cafe Free:-71:NO,HomeNet:-30:YES"


class Console(HostConsole):
    """The host console with this file's scan list."""

    def __init__(self, binary: Path, config: Path) -> None:
        super().__init__(binary, config, networks=NETWORKS)


@pytest.fixture
def console(firmware_build: Path, tmp_path: Path) -> Iterator[Console]:
    binary = Path(os.environ.get("SECURECAM_CONSOLE", firmware_build / "securecam-console"))
    started = Console(binary, tmp_path / "camera.cfg")
    yield started
    if started.proc.poll() is None:
        started.stop()


@pytest.fixture
def silent_pty() -> Iterator[str]:
    """A pty nobody answers on: the master is held open but never read or written."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    yield path
    os.close(master)


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "wifi-password"
    path.write_text(PASSWORD + "\n")
    return path


def registry() -> Registry:
    return Registry(config_dir())


def provision_args(port: str, *extra: str) -> list[str]:
    """The arguments every provisioning here shares: device cam-lab1 on the console's network."""
    return ["--port", port, "--name", "cam-lab1", "--wifi-ssid", SSID, *extra]


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="securecam")
    provision_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["provision", *argv])
    return args.handler(args)


def assert_secret_absent(key: DeviceKey, *texts: str) -> None:
    for text in texts:
        assert key.to_text() not in text.lower()
        assert key.raw.hex(":") not in text.lower()
        assert repr(key.raw) not in text


def fds_open_on(path: str) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == path:
                found.append(fd)
        except OSError:
            continue
    return found


def test_cli_provisions_console(console, password_file, capsys, caplog):
    caplog.set_level("DEBUG")
    rc = run_cli(
        *provision_args(
            console.path,
            "--wifi-password-file",
            str(password_file),
            "--server",
            "192.168.1.50:9000",
            "--frame-size",
            "svga",
            "--quality",
            "10",
            "--fps",
            "15",
        )
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    device = registry().get("cam-lab1")
    assert device.key.fingerprint in out
    assert "ws://192.168.1.50:9000/camera" in out

    # After the reboot the console rejoins the network and reports the same fingerprint.
    with open_port(console.path) as camera:
        assert camera.wait_ready() == State.PROVISIONED
        config = camera.get_config()
    assert config.key_fingerprint == device.key.fingerprint
    assert (config.server_host, config.server_port, config.device_name) == (
        "192.168.1.50",
        9000,
        "cam-lab1",
    )
    assert config.camera == CameraSettings(FrameSize.SVGA, jpeg_quality=10, fps_cap=15)

    stored = console.stored()
    assert stored["psk"] == device.key.raw
    assert stored["wifi_ssid"] == SSID.encode()
    assert stored["wifi_pass"] == PASSWORD.encode()
    assert stored["server_host"] == b"192.168.1.50"
    assert stored["server_port"] == (9000).to_bytes(2, "big")
    assert stored["device_name"] == b"cam-lab1"

    assert_secret_absent(device.key, out, err, caplog.text, console.stop().decode())
    assert PASSWORD not in out + err + caplog.text


def test_cli_without_port_provisions_the_only_adapter_to_the_port_the_window_saved(
    console, password_file, capsys, monkeypatch
):
    # pyserial lists the console's pty as a CP210x adapter beside a PC's own serial port, as a
    # machine with one ESP32-CAM-MB plugged in does; the window saved its receiver port.
    list_adapters(monkeypatch, console.path)
    Settings(config_dir()).save_receiver(ReceiverSettings(port=9123))
    rc = run_cli(
        "--name",
        "cam-lab1",
        "--wifi-ssid",
        SSID,
        "--wifi-password-file",
        str(password_file),
        "--server",
        "192.168.1.50",
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert f"on {console.path} (the only ESP32 adapter found)" in out
    assert "ws://192.168.1.50:9123/camera" in out
    assert console.stored()["server_port"] == (9123).to_bytes(2, "big")
    assert registry().get("cam-lab1").key.raw == console.stored()["psk"]


def test_wrong_wifi_password_leaves_registry_unchanged(console, tmp_path, capsys, caplog):
    caplog.set_level("DEBUG")
    keep = registry().add("other-cam")
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    rc = run_cli(
        *provision_args(
            console.path, "--wifi-password-file", str(wrong), "--server", "192.168.1.50"
        )
    )
    out, err = capsys.readouterr()
    assert rc == 1
    assert err.startswith("securecam: error: ")
    assert "Wi-Fi" in err and "2.4 GHz" in err and "password" in err
    assert [d.name for d in registry().list()] == ["other-cam"]
    assert registry().get("other-cam").key == keep.key
    assert "psk" not in console.stored()  # the camera got no key either
    assert "not the password" not in out + err + caplog.text


def test_duplicate_name_refused_before_touching_the_board(silent_pty, capsys):
    existing = registry().add("cam-lab1")
    master_fds_before = fds_open_on(silent_pty)
    rc = run_cli(*provision_args(silent_pty, "--server", "192.168.1.50"))
    _, err = capsys.readouterr()
    assert rc == 1
    assert "already registered" in err and "--replace" in err
    assert registry().get("cam-lab1").key == existing.key
    assert fds_open_on(silent_pty) == master_fds_before == []


def test_no_console_times_out_and_closes_the_port(silent_pty, capsys):
    # 1.5 s is expected to run out (nothing answers): no need to stretch it.
    rc = run_cli(*provision_args(silent_pty, "--server", "192.168.1.50", "--timeout", "1.5"))
    _, err = capsys.readouterr()
    assert rc == 1
    assert "no SecureCam console answered" in err
    assert registry().list() == []
    assert fds_open_on(silent_pty) == []


def test_bad_server_refused(capsys):
    with pytest.raises(SystemExit) as info:
        run_cli("--port", "/dev/null", "--name", "cam", "--wifi-ssid", SSID, "--server", "a:0")
    assert info.value.code == 2
    assert "'0' is not a TCP port (1-65535)" in capsys.readouterr().err


def test_api_scan_replace_and_cancel(console):
    reg = registry()
    assert scan_networks(console.path) == [
        Network("HomeNet", -30, True),
        Network("Cafe Free", -71, False),
    ]
    steps: list[Step] = []
    request = ProvisionRequest("cam-lab1", SSID, PASSWORD, "cam-server.lan")
    first = provision(
        console.path, request, registry=reg, on_step=lambda step, _msg: steps.append(step)
    )
    assert steps[0] == Step.CHECK and steps[-1] == Step.DONE
    assert Step.ROLLBACK not in steps
    assert first.fingerprint == reg.get("cam-lab1").key.fingerprint
    assert first.config.key_fingerprint == first.fingerprint
    assert first.server_url == "ws://cam-server.lan:8888/camera"
    assert (first.replaced, first.rebooted) == (False, True)

    # Replacing, cancelled after the new key was registered: the old entry comes back.
    cancel = threading.Event()

    def cancel_after_register(step: Step, _msg: str) -> None:
        if step == Step.REGISTER:
            cancel.set()

    with pytest.raises(ProvisionCancelled):
        provision(
            console.path,
            request,
            registry=reg,
            replace=True,
            on_step=cancel_after_register,
            cancel=cancel,
        )
    assert reg.get("cam-lab1").key.fingerprint == first.fingerprint

    second = provision(console.path, request, registry=reg, replace=True)
    assert second.replaced
    assert second.fingerprint != first.fingerprint
    assert reg.get("cam-lab1").key.fingerprint == second.fingerprint
    assert console.stored()["psk"] == reg.get("cam-lab1").key.raw


def test_python_m_app_provision(console, password_file, tmp_path):
    """The real command line, once `provision` is wired into app/cli.py."""
    from app.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    if "provision" not in commands:
        pytest.skip("`provision` is not wired into app/cli.py yet")
    home = tmp_path / "home"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "--config-dir",
            str(home),
            "provision",
            *provision_args(
                console.path, "--wifi-password-file", str(password_file), "--server", "192.168.1.50"
            ),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    device = Registry(home).get("cam-lab1")
    assert device.key.fingerprint in run.stdout
    assert console.stored()["psk"] == device.key.raw
    assert_secret_absent(device.key, run.stdout, run.stderr)
