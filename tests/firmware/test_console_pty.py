"""securecam-console on a pseudo-terminal, provisioned with the desktop's Improv client.

The console is the firmware's provisioning code built for the host (fake Wi-Fi, file-backed
store); pyserial opens its pty at 115200 like a real camera's USB port. Everything read from
the port is recorded so the test can prove the key never comes back out.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.devices.registry import DeviceKey
from app.protocol.framesize import FrameSize
from app.serial.camera_settings import CameraSettings
from app.serial.improv import ImprovClient, open_port
from app.serial.improv_codec import (
    BadChecksum,
    Command,
    ConfigUpdate,
    ErrorCode,
    ImprovErrorState,
    Network,
    Packet,
    PacketReader,
    PacketType,
    State,
    encode_rpc,
    parse_result,
)
from tests.firmware.console_host import PASSWORD, SSID, HostConsole
from tests.waiting import scaled

NETWORKS = "HomeNet:-42:YES,Cafe Free:-71:NO,Lab:5G:-60:YES"  # an SSID may contain ':'
KEY = DeviceKey(bytes(range(32)))
SERVER_URL = "ws://192.168.1.50:8888/camera"


class RecordingPort:
    """A pass-through port that keeps every byte read from the device."""

    def __init__(self, port: object) -> None:
        self._port = port
        self.received = bytearray()

    @property
    def in_waiting(self) -> int:
        return self._port.in_waiting

    def read(self, size: int = 1) -> bytes:
        data = self._port.read(size)
        self.received += data
        return data

    def write(self, data: bytes) -> int | None:
        return self._port.write(data)

    def flush(self) -> None:
        self._port.flush()

    def close(self) -> None:
        self._port.close()


class Console(HostConsole):
    """The host console with this file's scan list."""

    def __init__(self, binary: Path, config: Path, *extra: str) -> None:
        super().__init__(binary, config, *extra, networks=NETWORKS)

    def connect(self) -> tuple[ImprovClient, RecordingPort]:
        client = open_port(self.path, baudrate=115200, timeout=scaled(5.0))
        recorder = RecordingPort(client.port)
        client.port = recorder
        return client, recorder


@pytest.fixture
def console_binary(firmware_build: Path) -> Path:
    # A sanitizer build can be tested the same way: SECURECAM_CONSOLE=/path/to/binary.
    return Path(os.environ.get("SECURECAM_CONSOLE", firmware_build / "securecam-console"))


@pytest.fixture
def consoles(console_binary: Path, tmp_path: Path) -> Iterator[list[Console]]:
    started: list[Console] = []
    yield started
    for console in started:
        if console.proc.poll() is None:
            console.stop()


def assert_no_key(data: bytes) -> None:
    text = data.decode("latin-1").lower()
    assert KEY.raw not in data
    assert KEY.raw[8:24] not in data
    assert KEY.to_text() not in text


def test_provision_over_pty(console_binary: Path, consoles: list[Console], tmp_path: Path):
    config = tmp_path / "camera.cfg"
    console = Console(console_binary, config)
    consoles.append(console)
    client, port = console.connect()

    assert client.wait_ready() == State.READY
    info = client.device_info()
    assert (info.firmware, info.version, info.name) == ("securecam-fw", "0.1.0", "")
    assert client.scan() == [
        Network("HomeNet", -42, True),
        Network("Cafe Free", -71, False),
        Network("Lab:5G", -60, True),
    ]

    # The extension carries what Improv cannot: server, identity, key, camera defaults.
    camera = CameraSettings(FrameSize.SVGA, jpeg_quality=10, fps_cap=15)
    client.set_config(
        ConfigUpdate(
            server_host="192.168.1.50",
            server_port=8888,
            device_name="cam-lab1",
            key=KEY,
            camera=camera,
        )
    )
    assert client.provision_wifi(SSID, PASSWORD) == SERVER_URL
    assert client.state == State.PROVISIONED
    assert client.request_state() == (State.PROVISIONED, SERVER_URL)
    assert client.device_info().name == "cam-lab1"

    cfg = client.get_config()
    assert cfg.key_fingerprint == KEY.fingerprint == "e4a5-37e2-d346-a02b"
    assert (cfg.wifi_ssid, cfg.wifi_password_set) == (SSID, True)
    assert (cfg.server_host, cfg.server_port, cfg.server_url) == ("192.168.1.50", 8888, SERVER_URL)
    assert (cfg.device_name, cfg.camera) == ("cam-lab1", camera)

    # A corrupted packet is answered with "invalid RPC" and the console carries on.
    bad = bytearray(encode_rpc(Command.GET_STATE))
    bad[-2] ^= 0xFF  # the checksum (the last byte is the newline)
    port.write(bytes(bad))
    with pytest.raises(ImprovErrorState) as invalid:
        client.request_state()
    assert invalid.value.code == ErrorCode.INVALID_RPC
    assert client.wait_ready() == State.PROVISIONED

    # Reboot: the boot log comes back, the camera rejoins the stored network, and the
    # configuration (reloaded from the file) is unchanged.
    received_before = len(port.received)
    client.reboot()
    assert client.wait_ready() == State.PROVISIONED
    assert b"rst:0xc (SW_CPU_RESET)" in port.received[received_before:]
    assert any("IMPROV serial console" in line for line in client.reader.lines)
    assert client.get_config() == cfg

    # Wrong password: Improv's "unable to connect", and the stored network is kept.
    with pytest.raises(ImprovErrorState) as failed:
        client.provision_wifi(SSID, "not the password")
    assert failed.value.code == ErrorCode.UNABLE_TO_CONNECT
    assert client.state == State.READY
    assert client.get_config() == cfg

    assert client.bad_checksums == 0
    client.close()
    console.stop()
    assert_no_key(bytes(port.received))
    assert_no_key(console.stderr)
    assert PASSWORD.encode() not in port.received
    assert PASSWORD.encode() not in console.stderr

    # A new process on the same file: the configuration persisted on disk.
    assert config.stat().st_mode & 0o777 == 0o600
    again = Console(console_binary, config)
    consoles.append(again)
    client, port = again.connect()
    assert client.wait_ready() == State.PROVISIONED
    assert client.get_config() == cfg
    client.close()


def test_raw_improv_framing_through_noise(console_binary: Path, consoles: list[Console], tmp_path):
    """What a standard Improv tool sees: packets, each followed by a newline, among log lines."""
    console = Console(console_binary, tmp_path / "camera.cfg")
    consoles.append(console)
    client, port = console.connect()
    assert client.wait_ready() == State.READY
    start = len(port.received)
    port.write(b"garbage before IMPRO" + encode_rpc(Command.GET_INFO))
    reader = PacketReader()
    packets: list[Packet | BadChecksum] = []
    deadline = time.monotonic() + scaled(5)
    # Until the answer (a slow machine may still owe an answer to a retried state request).
    # Each read blocks for up to the port's own short timeout, so this loop does not spin.
    while not any(isinstance(p, Packet) and p.type == PacketType.RPC_RESULT for p in packets):
        assert time.monotonic() < deadline, packets
        packets += reader.feed(port.read(max(1, port.in_waiting)))
    assert not any(isinstance(p, BadChecksum) for p in packets)
    assert packets[-2] == Packet(PacketType.ERROR_STATE, b"\x00")
    assert parse_result(packets[-1]) == (
        Command.GET_INFO,
        [b"securecam-fw", b"0.1.0", b"host-simulator", b""],
    )
    assert bytes(port.received[start:]).endswith(b"\n")
    # A command from outside SecureCam's range is unknown to the device, as Improv requires.
    port.write(encode_rpc(0x42))
    with pytest.raises(ImprovErrorState) as unknown:
        client.request_state()
    assert unknown.value.code == ErrorCode.UNKNOWN_RPC
    client.close()


def doc_transcript() -> list[tuple[str, bytes]]:
    """("> " or "< ", packet) for every hex line in docs/PROVISIONING.md's text fences."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "PROVISIONING.md"
    lines = []
    for block in re.findall(r"^```text\n(.*?)^```", doc.read_text(), re.DOTALL | re.MULTILINE):
        for line in block.splitlines():
            if line[:2] in ("> ", "< "):
                lines.append((line[0], bytes.fromhex(line[2:].replace(" ", ""))))
    return lines


def test_doc_example_session(console_binary: Path, tmp_path: Path):
    """The session in docs/PROVISIONING.md section 6 is what the console really answers."""
    transcript = doc_transcript()
    sent = b"".join(raw + b"\n" for direction, raw in transcript if direction == ">")
    expected = [PacketReader().feed(raw)[0] for direction, raw in transcript if direction == "<"]
    assert sent and expected
    run = subprocess.run(
        [
            str(console_binary),
            "--config",
            str(tmp_path / "camera.cfg"),
            "--networks",
            "HomeNet:-42:YES,Cafe Free:-71:NO",
            "--wifi",
            "HomeNet:correct horse battery",
        ],
        input=sent,
        capture_output=True,
        timeout=scaled(30),
        check=True,
    )
    assert PacketReader().feed(run.stdout) == expected
