"""Compute the worked example of docs/PROTOCOL.md with the real protocol code.

Run `.venv/bin/python docs/protocol_example.py` and paste the output into PROTOCOL.md, section 9.
`tests/docs/test_protocol_doc.py` recomputes everything here and fails if the document drifts.

Nothing is mocked except the randomness and the clocks: the camera and receiver sessions are
the real `CameraSession` and `ReceiverSession`; only the Noise ephemeral keys are fixed (by
handing `ephemeral=` to the `HandshakeState` the sessions create) and both clocks are manual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from app.devices.registry import DeviceKey
from app.protocol import records
from app.protocol import session as session_module
from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.hello import Hello, Suite
from app.protocol.noise import CipherState, HandshakeState, KeyPair
from app.protocol.session import (
    ClockUpdated,
    ControlReceived,
    Credentials,
    FrameReceived,
    HandshakeComplete,
    PeerClosed,
    ReceiverSession,
    SessionConfirmed,
    StatusReceived,
)

DEVICE = "cam1"
PSK = bytes(range(32))
E_CAMERA_PRIVATE = bytes(range(0x20, 0x40))  # the camera's ephemeral X25519 private key
E_APP_PRIVATE = bytes(range(0x40, 0x60))  # the app's ephemeral X25519 private key
# 20 bytes that start like a JPEG (SOI, APP0 "JFIF") and end with EOI.
JPEG = bytes.fromhex("ffd8ffe000104a4649460001010000010001ffd9")

# Clocks, in microseconds: the camera's counts from its boot, the app's is any monotonic clock.
CAMERA_T_HELLO = 5_000_000
APP_T_HELLO = 1_000_000_000  # the app answers the hello and sends PING 1
CAMERA_T_STATUS = 5_010_000
CAMERA_T_PONG = 5_012_000  # the camera answers PING 1
APP_T_PONG = 1_000_020_000  # the app reads the PONG
CAMERA_T_CAPTURE = 5_030_000
CAMERA_T_SEND = 5_031_500
APP_T_FRAME = 1_000_045_000
APP_T_CONTROL = 1_000_050_000
CAMERA_T_CLOSE = 5_100_000

STATUS = records.Status(
    rssi_dbm=-55,
    frame_size=FrameSize.VGA,
    quality=12,
    fps_cap=25,
    width=640,
    height=480,
    free_heap=180_000,
    free_psram=3_900_000,
    uptime_s=5,
    firmware="securecam-fw/1.0.0",
)
CONTROL = records.Control(frame_size=FrameSize.SVGA, quality=10, fps_cap=15)
CLOSE = records.Close(CloseCode.NORMAL, "camera stopping")


@dataclass
class ManualClock:
    """A clock that says what it is told."""

    now: int

    def __call__(self) -> int:
        return self.now


@dataclass
class Example:
    """The example's labelled byte strings, in groups, plus a few decimal facts."""

    groups: dict[str, dict[str, bytes]] = field(default_factory=dict)
    facts: dict[str, int] = field(default_factory=dict)

    def add(self, group: str, label: str, value: bytes) -> None:
        if any(label in values for values in self.groups.values()):
            raise ValueError(f"duplicate label {label}")
        self.groups.setdefault(group, {})[label] = bytes(value)

    @property
    def vectors(self) -> dict[str, bytes]:
        return {label: value for values in self.groups.values() for label, value in values.items()}


def nonce(n: int) -> bytes:
    """The AES-GCM nonce for Noise counter n: 4 zero bytes and n as 64-bit big-endian."""
    return bytes(4) + n.to_bytes(8, "big")


@contextmanager
def fixed_ephemerals(created: list[HandshakeState]) -> Iterator[None]:
    """Make the sessions' HandshakeStates use the fixed ephemerals; collect them in `created`."""

    def factory(*args: Any, initiator: bool, **kwargs: Any) -> HandshakeState:
        ephemeral = E_CAMERA_PRIVATE if initiator else E_APP_PRIVATE
        state = HandshakeState(*args, initiator=initiator, ephemeral=ephemeral, **kwargs)
        created.append(state)
        return state

    with mock.patch.object(session_module, "HandshakeState", factory):
        yield


def _only(messages: list[bytes]) -> bytes:
    if len(messages) != 1:
        raise AssertionError(f"expected one message, got {len(messages)}")
    return messages[0]


def _opened(key: bytes, n: int, message: bytes) -> bytes:
    cipher = CipherState(key)
    cipher.n = n
    return cipher.decrypt_with_ad(b"", message)


def compute() -> Example:
    """Run one encrypted and one plain connection with fixed inputs; return every byte string."""
    ex = Example()
    key = DeviceKey(PSK)
    ex.add("keys", "psk", PSK)
    ex.add("keys", "psk_fingerprint", hashlib.sha256(b"securecam-fp-v1:" + PSK).digest()[:8])
    ex.add("keys", "e_camera_private", E_CAMERA_PRIVATE)
    ex.add("keys", "e_camera_public", KeyPair(E_CAMERA_PRIVATE).public)
    ex.add("keys", "e_app_private", E_APP_PRIVATE)
    ex.add("keys", "e_app_public", KeyPair(E_APP_PRIVATE).public)
    ex.add("keys", "ee_shared_secret", KeyPair(E_CAMERA_PRIVATE).dh(KeyPair(E_APP_PRIVATE).public))
    if key.fingerprint.replace("-", "") != ex.vectors["psk_fingerprint"].hex():
        raise AssertionError("fingerprint definition disagrees with DeviceKey")

    _encrypted(ex)
    _plain(ex)
    return ex


def _encrypted(ex: Example) -> None:
    cam_clock, app_clock = ManualClock(CAMERA_T_HELLO), ManualClock(APP_T_HELLO)
    credentials_for = {DEVICE: Credentials(DEVICE, PSK)}.get
    created: list[HandshakeState] = []
    with fixed_ephemerals(created):
        camera = session_module.CameraSession(DEVICE, PSK, Suite.NOISE, clock=cam_clock)
        camera_hs = created[0]
        h_prologue = camera_hs.handshake_hash
        camera.start()
        first = _only(camera.data_to_send())
        h_msg1 = camera_hs.handshake_hash
        receiver = ReceiverSession(credentials_for, clock=app_clock)
        events = receiver.receive(first, APP_T_HELLO)
    assert events == [HandshakeComplete(DEVICE, Suite.NOISE)]
    app_hs = created[1]
    msg2, ping_message = receiver.data_to_send()  # the app pings right after its answer

    hello = Hello(Suite.NOISE, DEVICE).encode()
    assert first.startswith(hello)
    ex.add("handshake", "hello", hello)
    ex.add("handshake", "h_prologue", h_prologue)
    ex.add("handshake", "noise_msg1", first[len(hello) :])
    ex.add("handshake", "first_message", first)
    ex.add("handshake", "h_msg1", h_msg1)
    ex.add("handshake", "noise_msg2", msg2)

    cam_clock.now = CAMERA_T_STATUS
    assert camera.receive(msg2) == [HandshakeComplete(DEVICE, Suite.NOISE)]
    assert camera_hs.handshake_hash == app_hs.handshake_hash
    ex.add("handshake", "handshake_hash", camera_hs.handshake_hash)
    # The keys, read for the example only (no API hands them out).
    to_app, to_camera = (state._aead and state._aead._key for state in camera_hs.split())
    assert to_app is not None and to_camera is not None
    ex.add("handshake", "k_camera_to_app", to_app)
    ex.add("handshake", "k_app_to_camera", to_camera)

    # Camera to app, nonce 0: STATUS, the first record, which confirms the session.
    camera.send_status(STATUS)
    status_message = _only(camera.data_to_send())
    _transport(ex, "status", records.encode(STATUS), to_app, 0, status_message)
    events = receiver.receive(status_message, APP_T_HELLO + 15_000)
    assert events == [SessionConfirmed(DEVICE, Suite.NOISE), StatusReceived(STATUS)]

    # App to camera, nonce 0: PING 1, sent together with message 2.
    ping = records.Ping(1, APP_T_HELLO)
    _transport(ex, "ping", records.encode(ping), to_camera, 0, ping_message)

    # Camera to app, nonce 1: the PONG.
    cam_clock.now = CAMERA_T_PONG
    assert camera.receive(ping_message) == []
    pong_message = _only(camera.data_to_send())
    pong = records.Pong(1, APP_T_HELLO, CAMERA_T_PONG)
    _transport(ex, "pong", records.encode(pong), to_app, 1, pong_message)
    app_clock.now = APP_T_PONG
    events = receiver.receive(pong_message, APP_T_PONG)
    offset = CAMERA_T_PONG - (APP_T_HELLO + APP_T_PONG) // 2
    assert events == [ClockUpdated(offset, APP_T_PONG - APP_T_HELLO)]
    ex.facts.update(clock_offset_us=offset, clock_rtt_us=APP_T_PONG - APP_T_HELLO)

    # Camera to app, nonce 2: one frame in one FRAME_CHUNK.
    cam_clock.now = CAMERA_T_SEND
    camera.send_frame(JPEG, 1, CAMERA_T_CAPTURE)
    chunk_message = _only(camera.data_to_send())
    chunk = records.FrameChunk(1, CAMERA_T_CAPTURE, CAMERA_T_SEND, len(JPEG), 0, 1, JPEG)
    ex.add("transport", "jpeg", JPEG)
    _transport(ex, "frame_chunk", records.encode(chunk), to_app, 2, chunk_message)
    app_clock.now = APP_T_FRAME
    (event,) = receiver.receive(chunk_message, APP_T_FRAME)
    assert isinstance(event, FrameReceived) and event.frame.jpeg == JPEG
    timeline = event.frame.timeline
    assert timeline.clock_offset_us == offset
    ex.facts.update(
        frame_capture_app_us=timeline.capture_us or 0,
        frame_sent_app_us=timeline.sent_us or 0,
    )

    # App to camera, nonce 1: CONTROL.
    app_clock.now = APP_T_CONTROL
    receiver.send_control(CONTROL)
    control_message = _only(receiver.data_to_send())
    _transport(ex, "control", records.encode(CONTROL), to_camera, 1, control_message)
    assert camera.receive(control_message) == [ControlReceived(CONTROL)]

    # Camera to app, nonce 3: CLOSE (then the WebSocket close frame 1000).
    cam_clock.now = CAMERA_T_CLOSE
    camera.close(CLOSE.code, CLOSE.reason)
    close_message = _only(camera.data_to_send())
    _transport(ex, "close", records.encode(CLOSE), to_app, 3, close_message)
    assert receiver.receive(close_message) == [PeerClosed(CLOSE.code, CLOSE.reason)]


def _transport(ex: Example, name: str, plaintext: bytes, key: bytes, n: int, msg: bytes) -> None:
    if _opened(key, n, msg) != plaintext:
        raise AssertionError(f"{name}: the message does not decrypt to the plaintext shown")
    ex.add("transport", f"{name}_plaintext", plaintext)
    ex.add("transport", f"{name}_nonce", nonce(n))
    ex.add("transport", f"{name}_message", msg)


def _plain(ex: Example) -> None:
    cam_clock, app_clock = ManualClock(CAMERA_T_HELLO), ManualClock(APP_T_HELLO)
    credentials = Credentials(DEVICE, PSK, allow_plain=True)
    camera = session_module.CameraSession(DEVICE, None, Suite.PLAIN, clock=cam_clock)
    receiver = ReceiverSession({DEVICE: credentials}.get, clock=app_clock)
    camera.start()
    hello = _only(camera.data_to_send())
    assert receiver.receive(hello, APP_T_HELLO) == [HandshakeComplete(DEVICE, Suite.PLAIN)]
    answer, ping = receiver.data_to_send()
    assert answer == b""  # the plain suite's answer: one empty binary message
    assert camera.receive(answer) == [HandshakeComplete(DEVICE, Suite.PLAIN)]
    cam_clock.now = CAMERA_T_SEND
    camera.send_frame(JPEG, 1, CAMERA_T_CAPTURE)
    chunk = _only(camera.data_to_send())
    (event,) = receiver.receive(chunk, APP_T_FRAME)[1:]  # after SessionConfirmed
    assert isinstance(event, FrameReceived) and event.frame.jpeg == JPEG
    ex.add("plain", "plain_hello", hello)
    ex.add("plain", "plain_ping", ping)
    ex.add("plain", "plain_frame_chunk", chunk)


GROUP_TITLES = {
    "keys": "Keys and ephemerals",
    "handshake": "Handshake",
    "transport": "Transport records",
    "plain": "Plain suite",
}


def render(ex: Example) -> str:
    """The example as Markdown fences of `label: hex` lines, one fence per group."""
    out: list[str] = []
    for group, values in ex.groups.items():
        out.append(f"<!-- {GROUP_TITLES[group]} -->")
        out.append("```text")
        out.extend(f"{label}: {value.hex()}" for label, value in values.items())
        out.append("```")
        out.append("")
    out.append("Decimal facts:")
    out.extend(f"- {name} = {value:,}" for name, value in ex.facts.items())
    return "\n".join(out)


def main() -> None:
    print(render(compute()))


if __name__ == "__main__":
    main()
