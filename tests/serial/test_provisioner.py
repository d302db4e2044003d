"""app.serial.provisioner against a scripted camera, for failures the host console cannot show.

The end-to-end runs against the real console are in tests/firmware/test_provision_cli.py;
here a small fake answers the Improv commands the way docs/PROVISIONING.md describes, with
one thing wrong per test: a wrong key fingerprint, a refused configuration, a registry that
cannot be undone, an interrupt.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import pytest

from app.devices.registry import DeviceKey, Registry, RegistryError
from app.errors import UserError
from app.paths import config_dir
from app.protocol.framesize import FrameSize
from app.serial import provisioner
from app.serial.camera_settings import CameraSettings
from app.serial.improv import ImprovClient
from app.serial.improv_codec import (
    EXTENSION_PREFIX,
    Command,
    PacketReader,
    PacketType,
    encode_packet,
    encode_strings,
)
from app.serial.provisioner import (
    ConsoleTimeout,
    NameTaken,
    ProvisionError,
    ProvisionRequest,
    ProvisionTimeouts,
    Step,
    VerificationError,
    WifiConnectError,
    provision,
)
from tests.waiting import scaled

SSID = "HomeNet"
PASSWORD = "hunter22"


class FakeCamera:
    """A pyserial-like port answering like the SecureCam console (with knobs to break it)."""

    def __init__(
        self,
        *,
        wifi_ok: bool = True,
        wrong_fingerprint: bool = False,
        refuse_config: bool = False,
        silent: bool = False,
        misreport: bytes = b"",
    ) -> None:
        self.wifi_ok = wifi_ok
        self.misreport = misreport  # a `name=value` item SC_GET_CONFIG reports instead
        self.wrong_fingerprint = wrong_fingerprint
        self.refuse_config = refuse_config
        self.silent = silent
        self.reader = PacketReader()
        self.out = bytearray(b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n")
        self.written = bytearray()
        self.fields: dict[int, bytes] = {}
        self.ssid = b""
        self.closed = False
        self.port = "/dev/fake"

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def read(self, size: int = 1) -> bytes:
        if not self.out:
            time.sleep(0.002)  # like a port's read timeout: a real read blocks, it does not spin
            return b""
        data = bytes(self.out[:size])
        del self.out[:size]
        return data

    def write(self, data: bytes) -> int:
        self.written += data
        for packet in self.reader.feed(data):
            if not self.silent and packet.type == PacketType.RPC_COMMAND:
                self._answer(packet.data[0], packet.data[2:])
        return len(data)

    def close(self) -> None:
        self.closed = True

    def _emit(self, packet_type: int, data: bytes) -> None:
        self.out += encode_packet(packet_type, data)

    def _result(self, command: int, strings: list[bytes]) -> None:
        body = encode_strings(strings)
        self._emit(PacketType.RPC_RESULT, bytes([command, len(body)]) + body)

    def _answer(self, command: int, payload: bytes) -> None:
        self._emit(PacketType.ERROR_STATE, b"\x00")
        if command == Command.GET_STATE:
            self._emit(PacketType.CURRENT_STATE, b"\x02")
        elif command == Command.GET_INFO:
            self._result(command, [b"securecam-fw", b"0.1.0", b"fake", b""])
        elif command == Command.WIFI_SETTINGS:
            self._emit(PacketType.CURRENT_STATE, b"\x03")
            if self.wifi_ok:
                self.ssid = payload[1 : 1 + payload[0]]
                self._emit(PacketType.CURRENT_STATE, b"\x04")
                self._result(command, [])
            else:
                self._emit(PacketType.CURRENT_STATE, b"\x02")
                self._emit(PacketType.ERROR_STATE, b"\x03")
        elif command == Command.SC_SET_CONFIG:
            assert payload.startswith(EXTENSION_PREFIX)
            if self.refuse_config:
                self._result(command, [b"ERR", b"store_failed", b"flash write failed"])
                return
            body = payload[len(EXTENSION_PREFIX) :]
            while body:
                self.fields[body[0]] = body[2 : 2 + body[1]]
                body = body[2 + body[1] :]
            self._result(command, [b"OK"])
        elif command == Command.SC_GET_CONFIG:
            key = self.fields.get(4)
            fp = DeviceKey(key).fingerprint if key else ""
            if self.wrong_fingerprint:
                fp = DeviceKey(bytes(32)).fingerprint
            f = self.fields
            items = [
                b"ssid=" + self.ssid,
                b"pass=set",
                b"host=" + f.get(1, b""),
                b"port=%d" % int.from_bytes(f.get(2, b"\x22\xb8"), "big"),
                b"name=" + f.get(3, b""),
                b"key_fp=" + fp.encode(),
                b"frame_size=%d" % f.get(5, b"\x05")[0],
                b"quality=%d" % f.get(6, b"\x0c")[0],
                b"fps_cap=%d" % f.get(7, b"\x19")[0],
            ]
            wrong = self.misreport.partition(b"=")[0] + b"="
            items = [self.misreport if item.startswith(wrong) else item for item in items]
            self._result(command, [b"OK", *items])

        elif command == Command.SC_REBOOT:
            self._result(command, [b"OK"])


@pytest.fixture
def registry() -> Registry:
    return Registry(config_dir())


REQUEST = ProvisionRequest(name="cam1", ssid=SSID, password=PASSWORD, server_host="192.168.1.50")


def run(
    port: object,
    registry: Registry,
    *,
    on_step: provisioner.StepCallback | None = None,
    console_timeout: float | None = None,
    **changes: object,
) -> provisioner.ProvisionResult:
    """Provision the fake with REQUEST, `changes` made to it."""
    # Limits the fake, which answers at once, never reaches unless the machine stalls.
    timeouts = ProvisionTimeouts(console=console_timeout or scaled(1.0), command=scaled(1.0))
    return provision(
        port,  # type: ignore[arg-type]
        dataclasses.replace(REQUEST, **changes),  # type: ignore[arg-type]
        registry=registry,
        on_step=on_step,
        timeouts=timeouts,
    )


def test_success_with_an_open_port_leaves_it_open(registry, caplog):
    caplog.set_level(logging.DEBUG)
    camera = FakeCamera()
    messages: list[str] = []
    result = run(camera, registry, on_step=lambda _s, m: messages.append(m))
    key = registry.get("cam1").key
    assert result.fingerprint == key.fingerprint == result.config.key_fingerprint
    assert camera.fields[4] == key.raw
    assert not camera.closed  # not ours to close
    text = caplog.text + "\n".join(messages)
    assert key.to_text() not in text and key.fingerprint in text


def test_path_is_opened_exclusively_and_always_closed(registry, monkeypatch):
    import serial

    opened: list[FakeCamera] = []

    class FakeSerial(FakeCamera):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(wifi_ok=False)
            assert kwargs.get("exclusive") is True
            opened.append(self)

        def open(self) -> None:
            assert self.baudrate == 115200 and (self.dtr, self.rts) == (False, False)

    monkeypatch.setattr(serial, "Serial", FakeSerial)
    with pytest.raises(WifiConnectError):
        run("/dev/ttyFAKE", registry)
    assert [camera.closed for camera in opened] == [True]
    assert registry.list() == []


def test_fingerprint_mismatch_is_rolled_back(registry, caplog):
    caplog.set_level(logging.DEBUG)
    steps: list[Step] = []
    camera = FakeCamera(wrong_fingerprint=True)
    with pytest.raises(VerificationError, match="does not match") as failed:
        run(camera, registry, on_step=lambda s, _m: steps.append(s))
    assert registry.list() == []
    assert steps[-1] == Step.ROLLBACK
    assert not failed.value.rollback_failed
    sent = DeviceKey(camera.fields[4])
    assert sent.to_text() not in str(failed.value) + caplog.text


def test_camera_settings_are_sent_and_read_back(registry):
    camera = FakeCamera()
    result = run(camera, registry, camera=CameraSettings(FrameSize.SVGA, 10, 15))
    assert (camera.fields[5], camera.fields[6], camera.fields[7]) == (b"\x06", b"\x0a", b"\x0f")
    assert result.config.camera == CameraSettings(FrameSize.SVGA, 10, 15)
    registry.remove("cam1")
    with pytest.raises(VerificationError, match="the camera reports JPEG quality 30, not 10"):
        run(FakeCamera(misreport=b"quality=30"), registry, camera=CameraSettings(jpeg_quality=10))
    assert registry.list() == []


def test_refused_configuration_is_rolled_back(registry):
    with pytest.raises(ProvisionError, match="store_failed"):
        run(FakeCamera(refuse_config=True), registry)
    assert registry.list() == []


def test_the_request_never_shows_the_password():
    assert PASSWORD not in repr(REQUEST) and PASSWORD not in str(REQUEST)


def test_wifi_failure_names_the_likely_causes(registry):
    with pytest.raises(WifiConnectError) as failed:
        run(FakeCamera(wifi_ok=False), registry)
    assert "HomeNet" in failed.value.message and "2.4 GHz" in failed.value.guidance
    assert isinstance(failed.value, UserError)  # shown to the user as it is
    assert PASSWORD not in str(failed.value)
    assert registry.list() == []


def test_failed_rollback_is_reported(registry, monkeypatch):
    def broken_remove(name: str) -> None:
        raise RegistryError("cannot write device registry: disk full")

    monkeypatch.setattr(registry, "remove", broken_remove)
    with pytest.raises(WifiConnectError) as failed:
        run(FakeCamera(wifi_ok=False), registry)
    assert failed.value.rollback_failed
    assert "securecam device show cam1" in str(failed.value)
    assert registry.get("cam1").key.to_text() not in str(failed.value)


def test_interrupt_rolls_back_and_propagates(registry):
    def interrupt(step: Step, _msg: str) -> None:
        if step == Step.CONFIGURE:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(FakeCamera(), registry, on_step=interrupt)
    assert registry.list() == []


def test_silent_device_times_out(registry):
    camera = FakeCamera(silent=True)
    with pytest.raises(ConsoleTimeout, match="other output"):
        run(camera, registry, console_timeout=0.3)  # expected to run out: no need to stretch it
    assert registry.list() == []


def test_invalid_settings_rejected_before_the_port_is_used(registry):
    camera = FakeCamera()
    with pytest.raises(ProvisionError, match="server host"):
        run(camera, registry, server_host="not a host")
    with pytest.raises(ProvisionError, match="JPEG quality: 4-63"):
        run(camera, registry, camera=CameraSettings(jpeg_quality=64))
    with pytest.raises(ProvisionError, match="device name"):
        run(camera, registry, name="-bad")
    with pytest.raises(ProvisionError, match="SSID"):
        run(camera, registry, ssid="")
    assert camera.written == b""
    registry.add("cam1")
    with pytest.raises(NameTaken, match="already registered"):
        run(ImprovClient(camera), registry)
    assert camera.written == b""
