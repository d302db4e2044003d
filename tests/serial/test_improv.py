"""The blocking Improv client against a scripted device (the codec: test_improv_codec.py)."""

from __future__ import annotations

import pytest

from app.serial.camera_settings import CameraSettings
from app.serial.improv import ImprovClient
from app.serial.improv_codec import (
    Command,
    ConfigUpdate,
    DeviceInfo,
    ErrorCode,
    ExtensionError,
    ImprovErrorState,
    ImprovProtocolError,
    ImprovTimeout,
    Network,
    PacketReader,
    State,
    encode_config,
    encode_extension,
    encode_wifi_settings,
)
from tests.serial.test_improv_codec import (
    BOOT_LOG,
    CONFIG_STRINGS,
    KEY,
    error,
    result,
    state,
)

# -- the client against a scripted device ------------------------------------------------


class ScriptedPort:
    """Answers each command with canned bytes, delivered a few at a time amid log noise."""

    def __init__(self, answers: dict[int, list[bytes]], *, chunk: int = 3) -> None:
        self.answers = answers
        self.chunk = chunk
        self.written: list[bytes] = []
        self._out = bytearray(BOOT_LOG)
        self.in_waiting = 0
        self.now = 0.0  # simulated time passes only while the port is silent

    def write(self, data: bytes) -> int:
        self.written.append(data)
        for packet in PacketReader().feed(data):
            queue = self.answers.get(packet.data[0])
            if queue:
                self._out += b"I (1234) wifi: log line between packets\r\n" + queue.pop(0)
        return len(data)

    def read(self, size: int = 1) -> bytes:
        data = bytes(self._out[: max(size, self.chunk)])
        del self._out[: len(data)]
        if not data:
            self.now += 0.05  # a read timeout
        return data


def client_for(answers: dict[int, list[bytes]]) -> tuple[ImprovClient, ScriptedPort]:
    port = ScriptedPort(answers)
    return ImprovClient(port, timeout=1.0, clock=lambda: port.now), port


OK_NONE = error(ErrorCode.NONE)
URL = "ws://192.168.1.50:8888/camera"


def test_client_state_info_scan():
    client, _ = client_for(
        {
            Command.GET_STATE: [
                OK_NONE + state(State.READY),
                OK_NONE + state(State.PROVISIONED) + result(Command.GET_STATE, URL),
            ],
            Command.GET_INFO: [OK_NONE + result(3, "securecam-fw", "1.0.0", "esp32", "cam1")],
            Command.SCAN: [
                OK_NONE
                + result(4, "HomeNet", "-42", "YES")
                + result(4, "Cafe", "-71", "NO")
                + result(4)
            ],
        }
    )
    assert client.request_state() == (State.READY, None)
    assert client.request_state() == (State.PROVISIONED, URL)
    assert client.state == State.PROVISIONED
    assert client.device_info() == DeviceInfo("securecam-fw", "1.0.0", "esp32", "cam1")
    assert client.scan() == [Network("HomeNet", -42, True), Network("Cafe", -71, False)]
    assert any("wifi: log line" in line for line in client.reader.lines)


def test_client_provision_wifi():
    progress = OK_NONE + state(State.PROVISIONING)
    client, port = client_for(
        {
            Command.WIFI_SETTINGS: [
                progress + state(State.READY) + error(ErrorCode.UNABLE_TO_CONNECT),
                progress + state(State.PROVISIONED) + result(1, URL),
                progress + state(State.PROVISIONED) + result(1),
            ]
        }
    )
    with pytest.raises(ImprovErrorState) as failed:
        client.provision_wifi("HomeNet", "wrong")
    assert failed.value.code == ErrorCode.UNABLE_TO_CONNECT
    assert client.state == State.READY
    assert client.provision_wifi("HomeNet", "right") == URL
    assert client.state == State.PROVISIONED
    assert client.provision_wifi("HomeNet", "right") is None  # no server configured yet
    assert port.written[0] == encode_wifi_settings("HomeNet", "wrong")


def test_client_extension():
    client, port = client_for(
        {
            Command.SC_GET_CONFIG: [OK_NONE + result(0xE0, "OK", *CONFIG_STRINGS)],
            Command.SC_SET_CONFIG: [
                OK_NONE + result(0xE1, "OK"),
                OK_NONE + result(0xE1, "ERR", "invalid_value", "server_port: 1-65535"),
                OK_NONE + result(0xE1, "maybe"),
            ],
            Command.SC_REBOOT: [OK_NONE + result(0xE2, "OK")],
            Command.SC_ERASE_CONFIG: [error(ErrorCode.UNKNOWN_RPC)],
        }
    )
    assert client.get_config().key_fingerprint == KEY.fingerprint
    client.set_config(ConfigUpdate(key=KEY, device_name="cam-lab1"))
    assert port.written[-1] == encode_extension(
        Command.SC_SET_CONFIG, encode_config(ConfigUpdate(key=KEY, device_name="cam-lab1"))
    )
    with pytest.raises(ExtensionError) as refused:
        client.set_config(ConfigUpdate(server_port=1))
    assert (refused.value.code, refused.value.detail) == ("invalid_value", "server_port: 1-65535")
    with pytest.raises(ImprovProtocolError):
        client.set_config(ConfigUpdate(camera=CameraSettings(fps_cap=1)))
    written = len(port.written)
    with pytest.raises(ValueError):  # refused before anything is sent
        client.set_config(ConfigUpdate(camera=CameraSettings(jpeg_quality=3)))
    assert len(port.written) == written
    client.reboot()
    assert client.state is None
    with pytest.raises(ImprovErrorState) as unknown:  # a device without the extension
        client.erase_config()
    assert unknown.value.code == ErrorCode.UNKNOWN_RPC


def test_client_ignores_stale_results_and_bad_packets():
    corrupted = bytearray(result(Command.GET_INFO, "junk"))
    corrupted[-2] ^= 0xFF
    client, _ = client_for(
        {
            Command.GET_INFO: [
                bytes(corrupted)
                + result(Command.SCAN)  # a leftover from an earlier command
                + OK_NONE
                + result(3, "fw", "1", "hw", "name")
            ]
        }
    )
    assert client.device_info().firmware == "fw"
    assert client.bad_checksums == 1


def test_client_timeouts_and_wait_ready():
    client, port = client_for({})
    with pytest.raises(ImprovTimeout):
        client.device_info()
    with pytest.raises(ImprovTimeout):
        client.wait_ready(timeout=3.0)
    # Booting: the first requests go unanswered, a later one is.
    late = {Command.GET_STATE: [b"", b"", OK_NONE + state(State.READY)]}
    client, port = client_for(late)
    assert client.wait_ready(timeout=10.0, interval=0.5) == State.READY
    assert len(port.written) == 3
