"""Hostile peers against the receiver, over real loopback WebSockets.

Every attack must end in a clear rejection: the hostile connection is closed with the specific
close code and reason, the receiver logs exactly one WARNING naming the peer and/or device and
the reason (and never any key material), and listeners get one ConnectionRejected. Meanwhile a
genuine encrypted camera ("good") streams through the whole attack and is not disturbed at all:
its frames keep arriving, bit-exact and in sequence, and its session is never replaced.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.protocol import records
from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.hello import Hello, Suite
from app.protocol.limits import Limits
from app.protocol.noise import NNPSK0, CipherState, HandshakeState
from app.protocol.session import CameraSession, Credentials, Event, PeerClosed
from app.receiver.events import (
    ConnectionRejected,
    DeviceConnected,
    DeviceDisconnected,
    FrameArrived,
    ReceiverEvent,
)
from app.receiver.server import Receiver
from app.receiver.stats import DeviceState
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource
from tests.receiver import rawws
from tests.receiver.rawws import RawPeer, upgrade_request
from tests.waiting import scaled, wait_until

pytestmark = pytest.mark.timeout(scaled(30))
T = TypeVar("T")

# Short handshake timeout keeps the timeout tests fast; the idle timeout is long enough that a
# hand-driven camera pausing between steps is never timed out by accident.
FAST = Limits(handshake_timeout_s=0.5, idle_timeout_s=5.0)
GOOD_FPS = 50
GOOD_CHUNK = 8192  # several chunks per VGA frame, so the good camera exercises reassembly
WAIT = 5.0  # seconds, unscaled: for wait_until, which scales it itself
WAIT_S = scaled(WAIT)
STATUS = records.Status(
    rssi_dbm=-60,
    frame_size=FrameSize.QVGA,
    quality=12,
    fps_cap=25,
    width=320,
    height=240,
    free_heap=100_000,
    free_psram=0,
    uptime_s=1,
    firmware="hostile-test",
)


@cache
def good_frames() -> tuple[bytes, ...]:
    return PrerenderedSource.synthetic(FrameSize.VGA, count=10).frames


def peer_name(ws: ClientConnection) -> str:
    """How the receiver names this client in its logs and events."""
    host, port = ws.local_address[:2]
    return f"{host}:{port}"


async def open_socket(url: str) -> ClientConnection:
    return await connect(
        url,
        compression=None,
        proxy=None,
        max_size=None,
        ping_interval=None,
        open_timeout=WAIT_S,
        close_timeout=scaled(1),
    )


# --------------------------------------------------------------------------- hostile clients


@dataclass
class Closed:
    """How a connection ended, seen from the client, and what it received before."""

    code: int
    reason: str
    messages: list[bytes | str]
    events: list[Event]


async def closed(ws: ClientConnection, session: CameraSession | None = None) -> Closed:
    """Read until the receiver closes the connection; feed binary messages to `session`."""
    messages: list[bytes | str] = []
    events: list[Event] = []
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                message = await ws.recv()
                messages.append(message)
                if session is not None and isinstance(message, bytes):
                    events.extend(session.receive(message))
    except TimeoutError:
        pytest.fail(f"the receiver did not close the connection within {WAIT_S} s")
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, f"closed without a close frame: {exc!r}"
        assert ws.close_code == exc.rcvd.code
        assert ws.close_reason == exc.rcvd.reason
        return Closed(exc.rcvd.code, exc.rcvd.reason, messages, events)
    raise AssertionError("unreachable")


class HandCamera:
    """A real CameraSession over a real WebSocket, driven one step at a time.

    Every message it sends is recorded verbatim in `sent`.
    """

    def __init__(self, ws: ClientConnection, session: CameraSession) -> None:
        self.ws = ws
        self.session = session
        self.sent: list[bytes | str] = []

    @property
    def peer(self) -> str:
        return peer_name(self.ws)

    async def send(self, message: bytes | str) -> None:
        self.sent.append(message)
        await self.ws.send(message)

    async def flush(self) -> None:
        for message in self.session.data_to_send():
            await self.send(message)

    async def hello(self) -> None:
        """Send the hello and Noise message 1 (one WebSocket message)."""
        self.session.start()
        await self.flush()

    async def handshake(self) -> bytes:
        """Hello + message 1, then read the receiver's answer; returns the answer."""
        await self.hello()
        answer = await asyncio.wait_for(self.ws.recv(), WAIT_S)
        assert isinstance(answer, bytes)
        self.session.receive(answer)
        return answer

    async def confirm(self) -> bytes:
        """Handshake, then the first record (a STATUS), which confirms the session."""
        answer = await self.handshake()
        self.session.send_status(STATUS)
        await self.flush()
        return answer

    async def send_frame(self, jpeg: bytes, seq: int) -> None:
        self.session.send_frame(jpeg, seq, capture_us=seq * 1000, chunk_data=GOOD_CHUNK)
        await self.flush()


class CraftedCamera:
    """Holds a device's key and seals whatever records it is told to, in the order told.

    Built on the Noise primitives directly, so it can send chunk sequences that CameraSession
    would never produce.
    """

    def __init__(self, ws: ClientConnection, device: str, psk: bytes) -> None:
        self.ws = ws
        self.hello = Hello(Suite.NOISE, device).encode()
        self._noise = HandshakeState(NNPSK0, initiator=True, prologue=self.hello, psk=psk)
        self._tx: CipherState | None = None

    @property
    def peer(self) -> str:
        return peer_name(self.ws)

    async def confirm(self) -> None:
        await self.ws.send(self.hello + self._noise.write_message())
        answer = await asyncio.wait_for(self.ws.recv(), WAIT_S)
        assert isinstance(answer, bytes)
        self._noise.read_message(answer)
        self._tx, _ = self._noise.split()
        await self.send_record(records.encode(STATUS))

    async def send_record(self, record: bytes) -> None:
        assert self._tx is not None, "confirm() first"
        await self.ws.send(self._tx.encrypt_with_ad(b"", record))

    async def send_chunk(
        self, seq: int, total_len: int, index: int, count: int, data: bytes
    ) -> None:
        chunk = records.FrameChunk(seq, seq * 1000, seq * 1000 + 5, total_len, index, count, data)
        await self.send_record(records.encode(chunk))


# --------------------------------------------------------------------------- the arena


@dataclass
class Arena:
    """A receiver, a good camera streaming into it, and everything they reported."""

    receiver: Receiver
    keys: dict[str, bytes]
    caplog: pytest.LogCaptureFixture
    devices: dict[str, Credentials]  # the registry the receiver looks up; tests may edit it
    events: list[ReceiverEvent] = field(default_factory=list)
    sockets: list[ClientConnection] = field(default_factory=list)
    raw_peers: list[RawPeer] = field(default_factory=list)
    secrets: list[bytes] = field(default_factory=list)
    good: SimulatedCamera | None = None
    good_task: asyncio.Task[object] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.receiver.port}/camera"

    # -- waiting ---------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        await wait_until(predicate, WAIT, interval=0.005, message=what)

    async def good_advances(self, frames: int = 3) -> None:
        """The good camera delivers `frames` more frames."""
        stats = self.receiver.device_stats("good")
        target = stats.frames_received + frames
        await self.wait_for(
            lambda: stats.frames_received >= target,
            f"the good camera to reach {target} frames (it has {stats.frames_received})",
        )

    # -- hostile connections ---------------------------------------------------------------

    async def connect(self, path: str = "/camera") -> ClientConnection:
        """Open a hostile socket; the good camera must keep streaming while it is open."""
        ws = await open_socket(self.url.replace("/camera", path))
        self.sockets.append(ws)
        await self.good_advances(2)
        return ws

    async def raw(self, *, receive_buffer: int | None = None, source: str | None = None) -> RawPeer:
        """A hand-made WebSocket peer (tests/receiver/rawws.py), closed at the end."""
        peer = await RawPeer.connect(
            self.receiver.port, receive_buffer=receive_buffer, source=source
        )
        self.raw_peers.append(peer)
        return peer

    async def hand(
        self, device: str, psk: bytes | None = None, suite: Suite = Suite.NOISE
    ) -> HandCamera:
        if psk is None and suite is Suite.NOISE:
            psk = self.keys[device]
        return HandCamera(await self.connect(), CameraSession(device, psk, suite))

    async def crafted(self, device: str) -> CraftedCamera:
        return CraftedCamera(await self.connect(), device, self.keys[device])

    # -- what happened ---------------------------------------------------------------------

    def of_type(self, kind: type[T]) -> list[T]:
        return [event for event in self.events if isinstance(event, kind)]

    def frames_of(self, device: str) -> list[bytes]:
        return [e.frame.jpeg for e in self.of_type(FrameArrived) if e.frame.device == device]

    def warnings(self) -> list[logging.LogRecord]:
        return [
            record
            for record in self.caplog.records
            if record.name == "app.receiver.server" and record.levelno == logging.WARNING
        ]

    # -- assertions ------------------------------------------------------------------------

    def assert_no_key_material(self, *extra_texts: str) -> None:
        texts = [self.caplog.text, *extra_texts]
        texts += [record.getMessage() for record in self.caplog.records]
        texts += [e.reason for e in self.of_type(ConnectionRejected)]
        texts += [e.reason for e in self.of_type(DeviceDisconnected)]
        for secret in [*self.keys.values(), *self.secrets]:
            forms = {
                secret.hex(),
                secret.hex().upper(),
                secret.hex(":"),
                secret.decode("latin-1"),
                repr(secret)[2:-1],
                base64.b64encode(secret).decode(),
            }
            for text in texts:
                for form in forms:
                    assert form not in text, "key material leaked into a log or reason"

    def assert_good_unaffected(self) -> None:
        """Still the same live session, every frame delivered bit-exact and in order."""
        good, receiver = self.good, self.receiver
        assert good is not None and self.good_task is not None
        assert not self.good_task.done(), f"the good camera stopped: {good.stats.last_close}"
        assert good.connected.is_set()
        assert good.stats.connects == 1 and good.stats.last_close is None
        stats = receiver.device_stats("good")
        assert receiver.is_live("good")
        assert stats.state is DeviceState.LIVE and stats.reason is None
        assert stats.sessions == 1
        assert stats.frames_rejected == 0
        frames = [e.frame for e in self.of_type(FrameArrived) if e.frame.device == "good"]
        assert stats.frames_received == len(frames) > 0
        assert [f.seq for f in frames] == list(range(1, len(frames) + 1)), "good frames lost"
        expected = good_frames()
        for frame in frames:
            assert frame.jpeg == expected[(frame.seq - 1) % len(expected)], f"frame {frame.seq}"
        assert [e.device for e in self.of_type(DeviceConnected)].count("good") == 1
        assert not [e for e in self.of_type(DeviceDisconnected) if e.device == "good"]
        assert not [e for e in self.of_type(ConnectionRejected) if e.device == "good"]
        for record in self.caplog.records:
            assert record.levelno < logging.ERROR, f"unexpected error log: {record.getMessage()}"
            if record.name == "app.sim.camera":
                assert record.levelno < logging.WARNING, record.getMessage()

    async def assert_rejected(
        self,
        hostile: ClientConnection,
        result: Closed,
        code: CloseCode,
        reason: str,
        device: str | None = None,
        *,
        detail: str | None = None,
    ) -> ConnectionRejected:
        """The one rejection every attack must produce, and the good camera untouched.

        `reason` is what the peer is told; `detail` (default: the same) what the log says.
        """
        assert result.code == code, f"closed with {result.code} {result.reason!r}"
        assert reason in result.reason, f"close reason {result.reason!r}"
        reason = reason if detail is None else detail
        await self.wait_for(lambda: bool(self.of_type(ConnectionRejected)), "ConnectionRejected")
        await self.good_advances()  # after the attack
        peer = peer_name(hostile)

        rejections = self.of_type(ConnectionRejected)
        assert len(rejections) == 1, rejections
        rejected = rejections[0]
        assert (rejected.peer, rejected.device, rejected.code) == (peer, device, code)
        assert reason in rejected.reason

        warnings = self.warnings()
        assert len(warnings) == 1, [w.getMessage() for w in warnings]
        line = warnings[0].getMessage()
        assert peer in line
        if device is not None:
            assert f"device {device}" in line
        assert reason in line

        self.assert_no_key_material(result.reason)
        self.assert_good_unaffected()
        return rejected

    async def shutdown(self) -> None:
        for peer in self.raw_peers:
            peer.close()
        for ws in self.sockets:
            await ws.close()
        if self.good is not None and self.good_task is not None:
            self.good.stop()
            await asyncio.wait_for(self.good_task, WAIT_S)
        await self.receiver.stop()


StartArena = Callable[..., Awaitable[Arena]]


@pytest.fixture
async def start_arena(caplog: pytest.LogCaptureFixture) -> AsyncIterator[StartArena]:
    """Start a receiver with `limits` and a good camera streaming into it."""
    caplog.set_level(logging.INFO, logger="app")
    arenas: list[Arena] = []

    async def start(limits: Limits = FAST) -> Arena:
        keys = {name: os.urandom(32) for name in ("good", "cam1", "plain-ok")}
        devices = {
            "good": Credentials("good", keys["good"]),
            "cam1": Credentials("cam1", keys["cam1"]),
            "plain-ok": Credentials("plain-ok", keys["plain-ok"], allow_plain=True),
        }
        receiver = Receiver(devices.get, host="127.0.0.1", port=0, limits=limits)
        arena = Arena(receiver, keys, caplog, devices)
        receiver.add_listener(arena.events.append)
        await receiver.start()
        arenas.append(arena)
        source = PrerenderedSource(good_frames(), FrameSize.VGA.width, FrameSize.VGA.height)
        arena.good = SimulatedCamera(
            arena.url,
            "good",
            keys["good"],
            source,
            fps=GOOD_FPS,
            reconnect=False,
            chunk_data=GOOD_CHUNK,
        )
        arena.good_task = asyncio.ensure_future(arena.good.run())
        await arena.good_advances(3)
        return arena

    yield start
    for arena in arenas:
        await arena.shutdown()


@pytest.fixture
async def arena(start_arena: StartArena) -> Arena:
    return await start_arena()


# --------------------------------------------------------------------------- the hello


async def test_garbage_first_message_is_rejected_as_bad_hello(arena):
    ws = await arena.connect()
    await ws.send(b"\x16\x03\x01\x02\x00 this is not a SecureCam hello")
    result = await closed(ws)
    await arena.assert_rejected(ws, result, CloseCode.BAD_HELLO, "not a SecureCam hello")


async def test_text_message_is_rejected_as_unsupported_data(arena):
    ws = await arena.connect()
    await ws.send("SCAM hello, in text")
    result = await closed(ws)
    await arena.assert_rejected(
        ws, result, CloseCode.UNSUPPORTED_DATA, "text messages are not part of the protocol"
    )


async def test_unknown_device_is_told_only_that_authentication_failed(arena):
    stranger = os.urandom(32)
    arena.secrets.append(stranger)
    cam = await arena.hand("stranger", psk=stranger)
    await cam.hello()
    result = await closed(cam.ws)
    await arena.assert_rejected(
        cam.ws,
        result,
        CloseCode.AUTH_FAILED,
        "authentication failed",
        detail="unknown device 'stranger'",  # the log still says which it was
    )
    assert "stranger" not in arena.receiver.stats


async def test_wrong_key_is_rejected_as_auth_failed_without_leaking_either_key(arena):
    wrong = os.urandom(32)
    arena.secrets.append(wrong)
    cam = await arena.hand("cam1", psk=wrong)
    await cam.hello()
    result = await closed(cam.ws)
    assert result.messages == []  # no handshake answer for a peer that failed authentication
    await arena.assert_rejected(
        cam.ws,
        result,
        CloseCode.AUTH_FAILED,
        "authentication failed",
        device="cam1",
        detail="handshake failed for 'cam1'",
    )
    assert [e.device for e in arena.of_type(DeviceConnected)] == ["good"]
    # An unauthenticated peer leaves no trace on the device, only a counted attempt.
    stats = arena.receiver.device_stats("cam1")
    assert (stats.state, stats.reason, stats.failed_attempts) == (DeviceState.OFFLINE, None, 1)


@pytest.mark.parametrize("suite", [Suite.NOISE, Suite.PLAIN])
async def test_an_unknown_device_looks_exactly_like_a_registered_one_to_the_peer(arena, suite):
    """No enumeration: the same close code, reason and messages for a name nobody registered."""
    seen = []
    for device in ("cam1", "nobody-has-this-name"):
        psk = os.urandom(32) if suite is Suite.NOISE else None
        cam = await arena.hand(device, psk=psk, suite=suite)
        await cam.hello()
        result = await closed(cam.ws)
        seen.append((result.code, result.reason, result.messages))
    assert seen[0] == seen[1]
    expected = CloseCode.AUTH_FAILED if suite is Suite.NOISE else CloseCode.PLAIN_NOT_ALLOWED
    assert seen[0][0] == expected
    assert "nobody-has-this-name" not in arena.receiver.stats
    arena.assert_good_unaffected()


async def test_plain_suite_is_rejected_for_a_device_that_does_not_allow_it(arena):
    cam = await arena.hand("cam1", psk=None, suite=Suite.PLAIN)
    await cam.hello()
    result = await closed(cam.ws)
    await arena.assert_rejected(
        cam.ws,
        result,
        CloseCode.PLAIN_NOT_ALLOWED,
        "plain suite not allowed",
        device="cam1",
        detail="plain suite not allowed for 'cam1'",
    )


async def test_plain_suite_is_accepted_for_a_device_that_allows_it(arena):
    cam = await arena.hand("plain-ok", psk=None, suite=Suite.PLAIN)
    assert await cam.confirm() == b""  # the plain handshake answer is an empty message
    jpeg = good_frames()[3]
    await cam.send_frame(jpeg, 1)
    await arena.wait_for(lambda: arena.frames_of("plain-ok"), "the plain frame")
    assert arena.frames_of("plain-ok") == [jpeg]
    assert DeviceConnected("plain-ok", Suite.PLAIN, cam.peer) in arena.events
    stats = arena.receiver.device_stats("plain-ok")
    assert stats.state is DeviceState.LIVE and stats.suite is Suite.PLAIN

    cam.session.close(CloseCode.NORMAL, "done")
    await cam.flush()
    await cam.ws.close()
    await arena.wait_for(
        lambda: DeviceDisconnected("plain-ok", CloseCode.NORMAL, "done") in arena.events,
        "plain-ok to disconnect",
    )
    await arena.good_advances()
    assert not arena.of_type(ConnectionRejected)
    # A plain session is accepted, but loudly: one warning, and not a rejection.
    warnings = [w.getMessage() for w in arena.warnings()]
    assert len(warnings) == 1 and "plain-ok" in warnings[0] and "PLAIN, INSECURE" in warnings[0]
    arena.assert_no_key_material()
    arena.assert_good_unaffected()


async def test_protocol_version_2_hello_is_rejected_as_unsupported(arena):
    hello = Hello(Suite.NOISE, "cam1", version=2).encode()
    noise = HandshakeState(NNPSK0, initiator=True, prologue=hello, psk=arena.keys["cam1"])
    ws = await arena.connect()
    await ws.send(hello + noise.write_message())
    result = await closed(ws)
    await arena.assert_rejected(
        ws, result, CloseCode.UNSUPPORTED_VERSION, "protocol version 2 unsupported"
    )


# --------------------------------------------------------------------------- transport


async def test_garbage_after_a_successful_handshake_fails_decryption(arena):
    cam = await arena.hand("cam1")
    await cam.handshake()
    await cam.send(os.urandom(64))
    result = await closed(cam.ws)
    await arena.assert_rejected(
        cam.ws, result, CloseCode.DECRYPT_FAILED, "failed authentication", device="cam1"
    )
    assert not [e for e in arena.of_type(DeviceConnected) if e.device == "cam1"]
    assert not arena.frames_of("cam1")


async def test_tampered_frame_ciphertext_fails_decryption(arena):
    cam = await arena.hand("cam1")
    await cam.confirm()
    first, second = good_frames()[:2]
    await cam.send_frame(first, 1)
    await arena.wait_for(lambda: arena.frames_of("cam1"), "the genuine frame")

    cam.session.send_frame(second, 2, capture_us=2000, chunk_data=GOOD_CHUNK)
    messages = cam.session.data_to_send()
    assert len(messages) > 1
    tampered = bytearray(messages[0])
    tampered[len(tampered) // 2] ^= 0x10  # one bit, in the middle of the ciphertext
    await cam.send(bytes(tampered))
    result = await closed(cam.ws)
    await arena.assert_rejected(
        cam.ws, result, CloseCode.DECRYPT_FAILED, "failed authentication", device="cam1"
    )
    assert arena.frames_of("cam1") == [first]
    stats = arena.receiver.device_stats("cam1")
    assert stats.frames_rejected == 1 and stats.frames_received == 1
    assert stats.state is DeviceState.REJECTED


async def test_replayed_session_is_rejected_and_does_not_replace_the_live_device(arena):
    original = await arena.hand("cam1")
    original_answer = await original.confirm()
    jpegs = good_frames()[4:7]
    for seq, jpeg in enumerate(jpegs[:2], start=1):
        await original.send_frame(jpeg, seq)
    await arena.wait_for(lambda: len(arena.frames_of("cam1")) == 2, "the original's frames")
    recording = list(original.sent)  # hello + message 1, STATUS, every frame chunk
    assert len(recording) >= 4

    replay = await arena.connect()
    await replay.send(recording[0])
    answer = await asyncio.wait_for(replay.recv(), WAIT_S)
    # The handshake itself cannot be told from a genuine one: the answer arrives (fresh keys)...
    assert isinstance(answer, bytes) and len(answer) == 48 and answer != original_answer
    try:
        for message in recording[1:]:
            await replay.send(message)
    except ConnectionClosed:
        pass  # the receiver hung up after the first transport message
    result = await closed(replay)
    # ...but the first transport message was sealed with the old session's keys.
    await arena.assert_rejected(
        replay, result, CloseCode.DECRYPT_FAILED, "failed authentication", device="cam1"
    )
    assert all(isinstance(m, bytes) for m in result.messages)  # pings only, no plaintext

    # Nothing from the replay was delivered, and the genuine session is still the live one.
    assert len(arena.frames_of("cam1")) == 2
    receiver = arena.receiver
    stats = receiver.device_stats("cam1")
    assert receiver.is_live("cam1")
    assert stats.state is DeviceState.LIVE and stats.reason is None and stats.sessions == 1
    assert stats.peer == original.peer
    assert original.ws.close_code is None
    assert not [e for e in arena.of_type(DeviceDisconnected) if e.device == "cam1"]
    # An intruder that never proved it holds the key cannot touch the device's counters.
    assert stats.frames_rejected == 0

    await original.send_frame(jpegs[2], 3)
    await arena.wait_for(lambda: len(arena.frames_of("cam1")) == 3, "the original's next frame")
    assert arena.frames_of("cam1") == list(jpegs)
    assert stats.frames_received == 3


async def test_second_genuine_session_of_a_device_replaces_the_first(arena):
    first = await arena.hand("cam1")
    await first.confirm()
    await arena.wait_for(lambda: arena.receiver.is_live("cam1"), "cam1 to go live")
    second = await arena.hand("cam1")
    await second.confirm()

    result = await closed(first.ws, first.session)
    assert result.code == CloseCode.REPLACED
    assert "replaced by a newer session" in result.reason
    # The receiver also said why inside the authenticated channel.
    assert PeerClosed(CloseCode.REPLACED, "replaced by a newer session") in result.events

    jpeg = good_frames()[8]
    await second.send_frame(jpeg, 1)
    await arena.wait_for(lambda: arena.frames_of("cam1"), "the new session's frame")
    assert arena.frames_of("cam1") == [jpeg]
    stats = arena.receiver.device_stats("cam1")
    assert stats.state is DeviceState.LIVE and stats.sessions == 2 and stats.peer == second.peer
    assert second.ws.close_code is None
    connected = [e for e in arena.of_type(DeviceConnected) if e.device == "cam1"]
    assert [e.peer for e in connected] == [first.peer, second.peer]
    await arena.good_advances()
    assert not arena.of_type(ConnectionRejected)
    assert not arena.warnings()
    arena.assert_no_key_material()
    arena.assert_good_unaffected()


# --------------------------------------------------------------------------- frames


async def frame_attack(arena: Arena, chunks: list[tuple[int, int, int, int, bytes]]) -> Closed:
    """A genuine frame first, then `chunks` (seq, total_len, index, count, data) in order."""
    cam = await arena.crafted("cam1")
    await cam.confirm()
    await cam.send_chunk(1, 8, 0, 1, b"genuine!")
    await arena.wait_for(lambda: arena.frames_of("cam1"), "the genuine frame")
    for i, chunk in enumerate(chunks):
        if i == len(chunks) - 1:
            await arena.good_advances(2)  # the receiver holds a partial frame meanwhile
        await cam.send_chunk(*chunk)
    return await closed(cam.ws)


async def assert_frame_rejected(arena: Arena, result: Closed, code: CloseCode, reason: str) -> None:
    await arena.assert_rejected(arena.sockets[-1], result, code, reason, device="cam1")
    assert arena.frames_of("cam1") == [b"genuine!"]
    stats = arena.receiver.device_stats("cam1")
    assert stats.frames_received == 1 and stats.frames_rejected == 1
    assert stats.state is DeviceState.REJECTED and stats.reason is not None
    assert stats.reason.startswith(code.name.lower())


async def test_truncated_frame_followed_by_a_new_frame_is_a_chunk_sequence_error(arena):
    result = await frame_attack(arena, [(2, 30, 0, 3, b"a" * 10), (3, 10, 0, 1, b"b" * 10)])
    await assert_frame_rejected(
        arena, result, CloseCode.CHUNK_SEQUENCE, "frame 2 truncated after 1 of 3 chunks"
    )


async def test_out_of_order_chunk_is_a_chunk_sequence_error(arena):
    result = await frame_attack(arena, [(2, 30, 0, 3, b"a" * 10), (2, 30, 2, 3, b"c" * 10)])
    await assert_frame_rejected(
        arena, result, CloseCode.CHUNK_SEQUENCE, "frame 2: chunk 2 arrived, expected 1"
    )


async def test_frame_declaring_more_than_max_frame_bytes_is_too_large(arena):
    too_big = arena.receiver.limits.max_frame_bytes + 1
    result = await frame_attack(arena, [(2, too_big, 0, 40, b"a" * 10)])
    await assert_frame_rejected(
        arena,
        result,
        CloseCode.FRAME_TOO_LARGE,
        f"frame 2 of {too_big} bytes exceeds {arena.receiver.limits.max_frame_bytes}",
    )


async def test_frame_in_more_chunks_than_allowed_is_too_large(arena):
    count = arena.receiver.limits.max_chunks_per_frame + 1
    result = await frame_attack(arena, [(2, 1000, 0, count, b"a" * 10)])
    await assert_frame_rejected(
        arena,
        result,
        CloseCode.FRAME_TOO_LARGE,
        f"frame 2 in {count} chunks exceeds {arena.receiver.limits.max_chunks_per_frame}",
    )


async def test_websocket_message_over_65535_bytes_is_closed_and_logged_as_a_rejection(arena):
    cam = await arena.crafted("cam1")
    await cam.confirm()
    await arena.wait_for(lambda: arena.receiver.is_live("cam1"), "cam1 to go live")
    await cam.ws.send(os.urandom(70_000))
    result = await closed(cam.ws)
    assert result.code == CloseCode.MESSAGE_TOO_BIG  # sent by websockets itself
    # "frame with 70000 bytes exceeds limit of 65535 bytes" from websockets, to the client;
    # "WebSocket message over 65535 bytes" in the receiver's log and event.
    await arena.assert_rejected(cam.ws, result, CloseCode.MESSAGE_TOO_BIG, "65535", device="cam1")
    # Reported like every other rejection, in the device's stats too.
    stats = arena.receiver.device_stats("cam1")
    assert stats.state is DeviceState.REJECTED
    assert stats.reason is not None and stats.reason.startswith("message_too_big")


# --------------------------------------------------------------------------- time and numbers


async def test_connection_that_sends_nothing_hits_the_handshake_timeout(arena):
    ws = await arena.connect()
    result = await closed(ws)
    await arena.assert_rejected(
        ws, result, CloseCode.HANDSHAKE_TIMEOUT, "handshake did not complete in time"
    )


async def test_handshake_never_confirmed_by_a_transport_record_hits_the_handshake_timeout(arena):
    cam = await arena.hand("cam1")
    await cam.handshake()
    result = await closed(cam.ws, cam.session)
    await arena.assert_rejected(
        cam.ws,
        result,
        CloseCode.HANDSHAKE_TIMEOUT,
        "handshake did not complete in time",
        device="cam1",
    )
    assert PeerClosed(CloseCode.HANDSHAKE_TIMEOUT, result.reason) in result.events
    assert not [e for e in arena.of_type(DeviceConnected) if e.device == "cam1"]
    # Never confirmed, so possibly a replay: a failed attempt, not the device's state.
    stats = arena.receiver.device_stats("cam1")
    assert (stats.state, stats.failed_attempts) == (DeviceState.OFFLINE, 1)


async def test_confirmed_camera_that_goes_silent_hits_the_idle_timeout(start_arena):
    limits = Limits(handshake_timeout_s=0.5, idle_timeout_s=0.5)
    arena = await start_arena(limits)
    cam = await arena.hand("cam1")
    await cam.confirm()
    # The receiver keeps pinging; never answering, the camera sends nothing at all.
    result = await closed(cam.ws, cam.session)
    await arena.assert_rejected(
        cam.ws, result, CloseCode.IDLE_TIMEOUT, "no message within idle timeout", device="cam1"
    )
    assert PeerClosed(CloseCode.IDLE_TIMEOUT, result.reason) in result.events
    assert DeviceDisconnected("cam1", CloseCode.IDLE_TIMEOUT, result.reason) in arena.events
    assert not arena.receiver.is_live("cam1")


async def test_a_stranger_over_the_limit_evicts_the_oldest_stranger(start_arena):
    arena = await start_arena(Limits(max_connections=3, handshake_timeout_s=5.0))
    receiver = arena.receiver
    idle = [await arena.connect() for _ in range(3)]
    # The live good camera holds its own slot: three strangers fit beside it.
    await arena.wait_for(lambda: receiver.connection_count == 4, "4 connections")
    extra = await arena.connect()
    result = await closed(idle[0])
    await arena.assert_rejected(
        idle[0], result, CloseCode.TOO_MANY_CONNECTIONS, "too many unauthenticated connections"
    )
    assert result.reason == "too many unauthenticated connections (limit 3)"
    for ws in [*idle[1:], extra]:
        assert ws.close_code is None  # the newer strangers are untouched
    await arena.wait_for(lambda: receiver.connection_count == 4, "the oldest to be gone")
    arena.assert_good_unaffected()


async def test_wrong_http_path_gets_404(arena):
    with pytest.raises(InvalidStatus) as caught:
        await open_socket(f"ws://127.0.0.1:{arena.receiver.port}/other")
    response = caught.value.response
    assert response.status_code == 404
    assert b"/camera" in response.body
    await arena.good_advances()
    await arena.wait_for(lambda: arena.receiver.connection_count == 1, "the slot to be freed")
    assert "'/other': answered 404" in arena.caplog.text
    arena.assert_no_key_material()
    arena.assert_good_unaffected()


# --------------------------------------------------------------------------- slots and memory


async def test_a_websocket_ping_before_confirmation_closes_the_connection(arena):
    peer = await arena.raw()
    await peer.upgrade(arena.receiver.port)
    await peer.send(rawws.frame(rawws.OP_PING, b"are you there"))
    code, reason = await peer.read_until_closed()
    assert code == CloseCode.MALFORMED_RECORD
    assert reason == b"WebSocket ping before the session is confirmed"
    await arena.wait_for(lambda: arena.receiver.connection_count == 1, "the slot to be freed")
    await arena.good_advances()
    (line,) = [w.getMessage() for w in arena.warnings()]
    assert peer.peer in line and "ping before the session is confirmed" in line
    arena.assert_good_unaffected()


async def test_a_confirmed_peer_that_floods_pings_and_never_reads_is_aborted(arena):
    """Pongs pile up unread; past the write-buffer cap the receiver drops the peer."""
    port = arena.receiver.port
    peer = await arena.raw(receive_buffer=4096)
    await peer.upgrade(port)
    hello = Hello(Suite.NOISE, "cam1").encode()
    noise = HandshakeState(NNPSK0, initiator=True, prologue=hello, psk=arena.keys["cam1"])
    await peer.send(rawws.frame(rawws.OP_BINARY, hello + noise.write_message()))
    opcode, answer = await peer.read_frame()
    assert opcode == rawws.OP_BINARY
    noise.read_message(answer)
    tx, _ = noise.split()
    await peer.send(rawws.frame(rawws.OP_BINARY, tx.encrypt_with_ad(b"", records.encode(STATUS))))
    await arena.wait_for(lambda: arena.receiver.is_live("cam1"), "cam1 to go live")

    # The largest control frame: the most pong bytes per ping.
    ping = rawws.frame(rawws.OP_PING, bytes(125))
    aborted = False
    for _ in range(4000):  # 64 MiB of pongs at most: far past any socket buffer and the cap
        try:
            await peer.send(ping * 128)
        except ConnectionError:
            aborted = True
            break
        if arena.receiver.connection_count == 1:
            aborted = True
            break
    assert aborted, "the receiver kept a peer that never reads"
    await arena.wait_for(lambda: not arena.receiver.is_live("cam1"), "cam1 to be dropped")
    await arena.wait_for(lambda: arena.receiver.connection_count == 1, "the slot to be freed")
    await arena.good_advances()
    (line,) = [w.getMessage() for w in arena.warnings()]
    assert "device cam1" in line and "peer does not read" in line
    peer.close()
    arena.assert_good_unaffected()


async def test_unfinished_http_upgrades_are_counted_and_capped(start_arena):
    limits = Limits(max_connections=4, handshake_timeout_s=5.0, idle_timeout_s=5.0)
    arena = await start_arena(limits)
    receiver, port = arena.receiver, arena.receiver.port
    peers = []
    for i in range(12):  # three times the cap, each a request that never ends
        peer = await arena.raw()
        await peer.send(upgrade_request(port)[:-2] + f"X-Slow-{i}: ".encode())
        peers.append(peer)
        await arena.wait_for(
            lambda: receiver.connection_count <= limits.max_connections + 1,
            "the count to stay within the cap",
        )
    # The oldest were dropped to make room; the newest four still hold the stranger slots.
    await arena.wait_for(
        lambda: len(arena.warnings()) == 8, "one warning for each dropped connection"
    )
    for peer in peers[:8]:
        assert await peer.read_until_closed() == (None, b"")
        assert any(peer.peer in w.getMessage() for w in arena.warnings())
    assert all("too many unauthenticated connections" in w.getMessage() for w in arena.warnings())
    # A genuine camera still gets in and goes live, whatever the strangers hold.
    cam = await arena.hand("cam1")
    await cam.confirm()
    await arena.wait_for(lambda: receiver.is_live("cam1"), "cam1 to go live")
    for peer in peers:
        peer.close()
    await arena.wait_for(lambda: receiver.connection_count == 2, "the strangers to be gone")
    arena.assert_good_unaffected()


async def test_an_oversized_http_upgrade_is_aborted_with_one_line(arena):
    port = arena.receiver.port
    peer = await arena.raw()
    padding = [f"X-Pad-{i}: {'a' * 1000}" for i in range(20)]  # 20 KB of headers
    with contextlib.suppress(ConnectionError):  # aborted while still sending
        await peer.send(upgrade_request(port, extra=padding))
    assert await peer.read_until_closed() == (None, b"")
    await arena.wait_for(lambda: arena.warnings(), "the rejection")
    (line,) = [w.getMessage() for w in arena.warnings()]
    assert peer.peer in line and "HTTP upgrade request over 16384 bytes" in line
    await arena.wait_for(lambda: arena.receiver.connection_count == 1, "the slot to be freed")
    arena.assert_good_unaffected()


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ([f"X-Many-{i}: 1" for i in range(40)], b"431"),  # over 32 header lines
        ([f"X-Long: {'a' * 5000}"], b"431"),  # a line over 4096 bytes
    ],
)
async def test_upgrade_headers_beyond_what_a_camera_or_browser_needs_are_refused(
    arena, extra, status
):
    port = arena.receiver.port
    peer = await arena.raw()
    await peer.send(upgrade_request(port, extra=extra))
    response = await peer.reader.readuntil(b"\r\n")
    assert response.split()[1] == status
    await arena.wait_for(lambda: arena.warnings(), "the rejection")
    (line,) = [w.getMessage() for w in arena.warnings()]
    assert peer.peer in line and "HTTP upgrade failed" in line
    peer.close()
    arena.assert_good_unaffected()


async def test_a_peer_that_never_answers_the_close_is_dropped_at_the_deadline(arena):
    """The handshake deadline closes it; no closing handshake comes back, yet the slot frees."""
    peer = await arena.raw(receive_buffer=4096)
    await peer.upgrade(arena.receiver.port)
    # Never sends a hello, never answers the close frame.
    assert (await peer.read_until_closed())[0] == CloseCode.HANDSHAKE_TIMEOUT
    await arena.wait_for(lambda: arena.receiver.connection_count == 1, "the slot to be freed")
    (line,) = [w.getMessage() for w in arena.warnings()]
    assert "handshake_timeout" in line
    arena.assert_good_unaffected()


async def test_a_registered_camera_reconnects_while_strangers_hold_every_slot(start_arena):
    limits = Limits(max_connections=2, handshake_timeout_s=5.0, idle_timeout_s=5.0)
    arena = await start_arena(limits)
    receiver = arena.receiver
    strangers = [await arena.connect() for _ in range(2)]
    first = await arena.hand("cam1")
    await first.confirm()
    await arena.wait_for(lambda: receiver.is_live("cam1"), "cam1 to go live")
    # Its reconnect arrives while the first session is still live: it has a slot of its own.
    second = await arena.hand("cam1")
    await second.confirm()
    await arena.wait_for(
        lambda: receiver.device_stats("cam1").sessions == 2, "the reconnect to go live"
    )
    assert (await closed(first.ws, first.session)).code == CloseCode.REPLACED
    assert second.ws.close_code is None
    # Strangers made room for the newcomers: the oldest of them went, never a camera.
    assert strangers[0].close_code == CloseCode.TOO_MANY_CONNECTIONS
    arena.assert_good_unaffected()


# --------------------------------------------------------------------------- live sessions


async def test_a_plain_switch_request_expires_and_never_lets_a_later_plain_hello_evict(
    start_arena,
):
    # A camera that ignores the switch: once the request has expired, plain proves nothing.
    arena = await start_arena(Limits(handshake_timeout_s=0.5, switch_timeout_s=0.0))
    cam = await arena.hand("plain-ok")
    await cam.confirm()
    await arena.wait_for(lambda: arena.receiver.is_live("plain-ok"), "plain-ok to go live")
    sent = await arena.receiver.send_control("plain-ok", records.Control(suite=Suite.PLAIN))
    assert sent
    intruder = await arena.hand("plain-ok", psk=None, suite=Suite.PLAIN)
    await intruder.confirm()
    result = await closed(intruder.ws)
    await arena.assert_rejected(
        intruder.ws,
        result,
        CloseCode.PLAIN_NOT_ALLOWED,
        "an encrypted session of this device is live",
        device="plain-ok",
    )
    assert (
        cam.ws.close_code is None and arena.receiver.device_stats("plain-ok").suite is Suite.NOISE
    )


async def test_a_plain_switch_request_belongs_to_the_session_it_was_sent_to(arena):
    first = await arena.hand("plain-ok")
    await first.confirm()
    await arena.wait_for(lambda: arena.receiver.is_live("plain-ok"), "plain-ok to go live")
    assert await arena.receiver.send_control("plain-ok", records.Control(suite=Suite.PLAIN))
    # The camera ignores it and reconnects encrypted: the new session was asked nothing.
    second = await arena.hand("plain-ok")
    await second.confirm()
    await arena.wait_for(
        lambda: arena.receiver.device_stats("plain-ok").sessions == 2, "the new session"
    )
    intruder = await arena.hand("plain-ok", psk=None, suite=Suite.PLAIN)
    await intruder.confirm()
    result = await closed(intruder.ws)
    assert result.code == CloseCode.PLAIN_NOT_ALLOWED
    assert second.ws.close_code is None
    assert arena.receiver.device_stats("plain-ok").suite is Suite.NOISE


async def test_the_frame_that_confirms_a_session_reaches_the_frame_sinks(arena):
    sunk: list[bytes] = []

    async def sink(frame_: object) -> None:
        sunk.append(frame_.jpeg)  # type: ignore[attr-defined]

    arena.receiver.add_frame_sink(sink)
    cam = await arena.crafted("cam1")
    await cam.ws.send(cam.hello + cam._noise.write_message())
    answer = await asyncio.wait_for(cam.ws.recv(), WAIT_S)
    cam._noise.read_message(answer)
    cam._tx, _ = cam._noise.split()
    await cam.send_chunk(1, 5, 0, 1, b"first")  # the session's first record is a frame
    await arena.wait_for(lambda: b"first" in sunk, "the first frame in the sink")
    assert arena.frames_of("cam1") == [b"first"]
    assert arena.receiver.device_stats("cam1").frames_received == 1


async def test_newcomers_from_one_address_evict_each_stranger_once(start_arena):
    """An evicted stranger stops counting at once: the next newcomer picks another."""
    limits = Limits(max_connections=4, handshake_timeout_s=5.0, idle_timeout_s=5.0)
    arena = await start_arena(limits)
    port = arena.receiver.port
    for _ in range(24):  # upgraded, silent, never reading: from one address
        peer = await arena.raw(receive_buffer=4096, source="127.0.0.2")
        await peer.upgrade(port)
        assert arena.receiver.connection_count <= limits.max_connections + 1
    await arena.wait_for(lambda: len(arena.warnings()) == 20, "one line per evicted stranger")
    await arena.good_advances()
    assert len(arena.warnings()) == 20 and len(arena.of_type(ConnectionRejected)) == 20
    assert len({w.getMessage() for w in arena.warnings()}) == 20  # twenty peers, not one
    arena.assert_good_unaffected()


async def test_a_close_that_is_never_answered_does_not_delay_other_key_changes(start_arena):
    arena = await start_arena(Limits(handshake_timeout_s=5.0, idle_timeout_s=30.0))
    port = arena.receiver.port
    # cam1 proves its key, then never reads again: its close will run to the 2 s deadline.
    peer = await arena.raw(receive_buffer=4096)
    await peer.upgrade(port)
    hello = Hello(Suite.NOISE, "cam1").encode()
    noise = HandshakeState(NNPSK0, initiator=True, prologue=hello, psk=arena.keys["cam1"])
    await peer.send(rawws.frame(rawws.OP_BINARY, hello + noise.write_message()))
    noise.read_message((await peer.read_frame())[1])
    tx, _ = noise.split()
    await peer.send(rawws.frame(rawws.OP_BINARY, tx.encrypt_with_ad(b"", records.encode(STATUS))))
    await arena.wait_for(lambda: arena.receiver.is_live("cam1"), "cam1 to go live")
    peer.writer.transport.pause_reading()
    arena.devices["cam1"] = Credentials("cam1", os.urandom(32))  # its key is replaced...
    await arena.wait_for(lambda: "closing cam1: key changed" in arena.caplog.text, "cam1 closing")
    arena.devices["good"] = Credentials("good", os.urandom(32))  # ...and then good's
    gone = lambda device: any(  # noqa: E731
        e.device == device for e in arena.of_type(DeviceDisconnected)
    )
    await arena.wait_for(lambda: gone("good"), "good's old-key session to end")
    # good's session ended while cam1's unanswered close was still running.
    assert not gone("cam1") and arena.receiver.is_live("cam1")
    await arena.wait_for(lambda: gone("cam1"), "cam1's close to reach its deadline")


async def test_a_websocket_framing_violation_is_one_rejection_line(arena):
    peer = await arena.raw()
    await peer.upgrade(arena.receiver.port)
    await peer.send(rawws.frame(rawws.OP_BINARY, b"unmasked", masked=False))
    code, _ = await peer.read_until_closed()
    assert code == CloseCode.PROTOCOL_ERROR
    await arena.wait_for(lambda: arena.warnings(), "the rejection")
    (line,) = [w.getMessage() for w in arena.warnings()]
    assert peer.peer in line and "protocol_error (1002)" in line
    assert arena.receiver.connections_rejected == 1
    arena.assert_good_unaffected()
