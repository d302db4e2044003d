"""Sans-I/O protocol sessions: WebSocket message payloads in, events and payloads out.

`ReceiverSession` is the app's side of one camera connection, `CameraSession` the camera's.
Neither touches sockets, asyncio or Qt: an adapter feeds `receive()` each binary message and
sends what `data_to_send()` returns, in order, because each message consumes a Noise nonce.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from app.protocol import records
from app.protocol.clock import ClockSync, monotonic_us
from app.protocol.errors import CloseCode, InvalidState, ProtocolError
from app.protocol.hello import Hello, Suite, parse_hello
from app.protocol.limits import Limits
from app.protocol.noise import (
    DHLEN,
    NNPSK0,
    TAGLEN,
    CipherState,
    DecryptError,
    HandshakeState,
    NoiseError,
)
from app.protocol.reassembly import AssembledFrame, Reassembler, chunk_records
from app.protocol.timeline import Frame, FrameTimeline

Clock = Callable[[], int]
_MAX_OUTSTANDING_PINGS = 8
MESSAGE_1_LEN = DHLEN + TAGLEN  # e, then the tag of the empty payload
_session_ids = itertools.count(1)
_FRAME_ERRORS = {CloseCode.DECRYPT_FAILED, CloseCode.FRAME_TOO_LARGE, CloseCode.CHUNK_SEQUENCE}


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the receiver knows about one device; the key never appears in repr."""

    device_id: str
    psk: bytes = field(repr=False)
    allow_plain: bool = False


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    device_id: str
    suite: Suite


@dataclass(frozen=True, slots=True)
class SessionConfirmed:
    """The first authentic record after the handshake: the peer holds this session's keys."""

    device_id: str
    suite: Suite


@dataclass(frozen=True, slots=True)
class FrameReceived:
    frame: Frame


@dataclass(frozen=True, slots=True)
class StatusReceived:
    status: records.Status


@dataclass(frozen=True, slots=True)
class ControlReceived:
    control: records.Control


@dataclass(frozen=True, slots=True)
class ClockUpdated:
    offset_us: int
    rtt_us: int


@dataclass(frozen=True, slots=True)
class PeerClosed:
    code: int
    reason: str


Event = (
    HandshakeComplete
    | SessionConfirmed
    | FrameReceived
    | StatusReceived
    | ControlReceived
    | ClockUpdated
    | PeerClosed
)


class State(Enum):
    """Where a session is. Every change goes through the TRANSITIONS table below."""

    HANDSHAKE = "handshake"  # waiting for the peer's handshake message
    TRANSPORT = "transport"  # keys exist, but nothing has shown the peer holds them yet
    CONFIRMED = "confirmed"  # an authentic record arrived: the peer holds this session's keys
    CLOSED = "closed"  # closed by either side or by a violation; no input is processed


class Input(Enum):
    """What moves a session from one state to another."""

    HANDSHAKE_DONE = "handshake done"
    AUTHENTIC_RECORD = "authentic record"
    CLOSE = "close"  # a local close, or the peer's CLOSE record
    VIOLATION = "violation"  # the peer broke the protocol (a ProtocolError)


# The one place session states change (h11-style): state -> input -> next state. An input a
# state does not list raises InvalidState.
TRANSITIONS: dict[State, dict[Input, State]] = {
    State.HANDSHAKE: {
        Input.HANDSHAKE_DONE: State.TRANSPORT,
        Input.CLOSE: State.CLOSED,
        Input.VIOLATION: State.CLOSED,
    },
    State.TRANSPORT: {
        Input.AUTHENTIC_RECORD: State.CONFIRMED,
        Input.CLOSE: State.CLOSED,
        Input.VIOLATION: State.CLOSED,
    },
    State.CONFIRMED: {
        Input.AUTHENTIC_RECORD: State.CONFIRMED,
        Input.CLOSE: State.CLOSED,
        Input.VIOLATION: State.CLOSED,
    },
    State.CLOSED: {Input.CLOSE: State.CLOSED, Input.VIOLATION: State.CLOSED},
}
_SENDING = frozenset({State.TRANSPORT, State.CONFIRMED})  # states with keys to seal records


class _Channel:
    """What both sides share once keys exist: sealing, ping/pong, clock sync and close."""

    def __init__(self, clock: Clock) -> None:
        self.clock_source = clock
        self.clock = ClockSync()
        self.state = State.HANDSHAKE
        self.confirmed = False  # reached CONFIRMED at some point (stays True once closed)
        self.suite: Suite | None = None
        self._send: CipherState | None = None
        self._recv: CipherState | None = None
        self._outgoing: list[bytes] = []
        self._pings: dict[int, int] = {}
        self._next_ping_id = 1

    @property
    def pending(self) -> bool:
        """True when `data_to_send()` has something."""
        return bool(self._outgoing)

    def data_to_send(self) -> list[bytes]:
        """Drain the messages to send, in this exact order."""
        out, self._outgoing = self._outgoing, []
        return out

    def send_ping(self) -> None:
        """Queue a PING; raises InvalidState before the handshake or after the close."""
        self._require_keys()
        ping_id = self._next_ping_id
        self._next_ping_id = (ping_id + 1) & 0xFFFFFFFF
        now = self.clock_source()
        self._pings[ping_id] = now
        if len(self._pings) > _MAX_OUTSTANDING_PINGS:
            del self._pings[next(iter(self._pings))]
        self._queue(records.encode(records.Ping(ping_id, now)))

    def close(self, code: int, reason: str) -> None:
        """Queue an authenticated CLOSE (when keys exist) and stop accepting input."""
        if self.state in _SENDING:
            self._queue(records.encode(records.Close(code, reason)))
        self._advance(Input.CLOSE)

    @property
    def can_send(self) -> bool:
        """True once keys exist and until the close: records can be sealed."""
        return self.state in _SENDING

    def _advance(self, what: Input) -> None:
        """Move to the state TRANSITIONS gives; raises InvalidState if it gives none."""
        following = TRANSITIONS[self.state].get(what)
        if following is None:
            raise InvalidState(f"session is {self.state.value}: cannot take {what.value}")
        self.state = following
        if following is State.CONFIRMED:
            self.confirmed = True

    def _require_keys(self) -> None:
        """Raises InvalidState unless the session can seal records."""
        if self.state not in _SENDING:
            raise InvalidState(f"session is {self.state.value}: nothing can be sent")

    def _queue(self, record: bytes | bytearray) -> None:
        self._outgoing.append(
            bytes(record) if self._send is None else self._send.encrypt_with_ad(b"", record)
        )

    def _open(self, message: bytes) -> records.Record:
        """The record `message` carries. A frame chunk's data is a view into the buffer the
        decrypt wrote (or into `message` itself in the plain suite): never a copy."""
        if self._recv is None:
            return records.parse(message)
        try:
            plaintext = self._recv.decrypt_view_with_ad(b"", message)
        except DecryptError:
            raise ProtocolError(
                CloseCode.DECRYPT_FAILED,
                "message failed authentication (tampered, replayed or out of order)",
            ) from None
        return records.parse(plaintext)

    def _common(self, record: records.Record, rx_us: int) -> list[Event] | None:
        """Handle PING, PONG and CLOSE; None for records the subclass must handle."""
        match record:
            case records.Ping():
                # Stamped with the ping's arrival: what follows adds to the RTT, not to the offset.
                pong = records.Pong(record.ping_id, record.sender_time_us, rx_us)
                self._queue(records.encode(pong))
                return []
            case records.Pong():
                sent = self._pings.pop(record.ping_id, None)
                if sent is None:
                    return []  # late or unsolicited: harmless, and no clock can be trusted from it
                sample = self.clock.add(sent, record.responder_time_us, rx_us)
                return [] if sample is None else [ClockUpdated(sample.offset_us, sample.rtt_us)]
            case records.Close():
                self._advance(Input.CLOSE)
                return [PeerClosed(record.code, record.reason)]
        return None


class ReceiverSession(_Channel):
    """The app's side of one camera connection (the Noise responder)."""

    def __init__(
        self,
        lookup: Callable[[str], Credentials | None],
        limits: Limits | None = None,
        clock: Clock = monotonic_us,
    ) -> None:
        super().__init__(clock)
        self.limits = limits or Limits()
        self._lookup = lookup
        self._reassembler = Reassembler(
            self.limits.max_frame_bytes, self.limits.max_chunks_per_frame
        )
        self.device_id: str | None = None  # set once the registry knows the hello's device
        self.credentials: Credentials | None = None
        self.session_id = next(_session_ids)  # tells sessions apart, e.g. for recordings
        self.frames_rejected = 0

    def receive(self, message: bytes, rx_us: int | None = None) -> list[Event]:
        """Process one binary message received at `rx_us`; raises ProtocolError to close."""
        if self.state is State.CLOSED:
            return []
        rx_us = self.clock_source() if rx_us is None else rx_us
        try:
            if self.state is State.HANDSHAKE:
                return self._handshake(message)
            return self._transport(message, rx_us)
        except ProtocolError as exc:
            # A violation loses the frame being rebuilt, or the frame the bad message carried.
            partial = self._reassembler.abort()
            if self.state in _SENDING and (partial or exc.code in _FRAME_ERRORS):
                self.frames_rejected += 1
            self._advance(Input.VIOLATION)
            raise

    def send_control(self, control: records.Control) -> None:
        """Queue a CONTROL; raises InvalidState unless the session has keys."""
        self._require_keys()
        self._queue(records.encode(control))

    def _handshake(self, message: bytes) -> list[Event]:
        hello, rest = parse_hello(message)
        if hello.suite is Suite.NOISE and len(rest) != MESSAGE_1_LEN:
            # Checked before the lookup, so the answer says nothing about the device name.
            raise ProtocolError(
                CloseCode.BAD_HELLO,
                f"Noise message 1 must be {MESSAGE_1_LEN} bytes, not {len(rest)}",
            )
        credentials = self._lookup(hello.device_id)
        if credentials is not None:
            self.device_id, self.credentials = hello.device_id, credentials
        self.suite = hello.suite
        if hello.suite is Suite.PLAIN:
            if credentials is None or not credentials.allow_plain:
                # An unknown device gets the same answer as one that does not allow plain.
                raise ProtocolError(
                    CloseCode.PLAIN_NOT_ALLOWED,
                    "plain suite not allowed",
                    detail=f"plain suite not allowed for {hello.device_id!r}"
                    if credentials is not None
                    else f"plain hello for unknown device {hello.device_id!r}",
                )
            if rest:
                raise ProtocolError(CloseCode.BAD_HELLO, "plain hello followed by extra bytes")
            self._outgoing.append(b"")
        else:
            # An unknown device runs the same handshake with a key nobody holds, so it fails
            # exactly as a wrong key does, in what the peer sees and about as long.
            noise = HandshakeState(
                NNPSK0,
                initiator=False,
                prologue=message[: len(message) - len(rest)],
                psk=os.urandom(32) if credentials is None else credentials.psk,
            )
            try:
                noise.read_message(rest)
                if credentials is None:
                    raise NoiseError("unknown device")  # 2^-128: a guessed tag for a random key
                self._outgoing.append(noise.write_message(b""))
            except NoiseError:
                raise ProtocolError(
                    CloseCode.AUTH_FAILED,
                    "authentication failed",
                    detail=f"unknown device {hello.device_id!r}"
                    if credentials is None
                    else f"handshake failed for {hello.device_id!r} (wrong key?)",
                ) from None
            self._send, self._recv = noise.split()
        self._advance(Input.HANDSHAKE_DONE)
        self.send_ping()  # start clock sync before the first frame arrives
        return [HandshakeComplete(hello.device_id, hello.suite)]

    def _transport(self, message: bytes, rx_us: int) -> list[Event]:
        record = self._open(message)
        events: list[Event] = []
        if self.state is State.TRANSPORT:  # authentic and well-formed: the peer holds the keys
            assert self.device_id is not None and self.suite is not None
            events.append(SessionConfirmed(self.device_id, self.suite))
        self._advance(Input.AUTHENTIC_RECORD)
        common = self._common(record, rx_us)
        if common is not None:
            return events + common
        match record:
            case records.FrameChunk():
                frame = self._reassembler.add(record, rx_us)
                if frame is not None:
                    events.append(FrameReceived(self._frame(frame, rx_us)))
            case records.Status():
                events.append(StatusReceived(record))
            case _:
                raise ProtocolError(
                    CloseCode.MALFORMED_RECORD, f"{type(record).__name__} is not for the receiver"
                )
        return events

    def _frame(self, assembled: AssembledFrame, last_rx_us: int) -> Frame:
        assert self.device_id is not None and self.suite is not None
        timeline = FrameTimeline(
            device=self.device_id,
            suite=self.suite,
            seq=assembled.seq,
            size=len(assembled.data),
            device_capture_us=assembled.capture_us,
            device_send_us=assembled.send_us,
            first_rx_us=assembled.first_rx_us,
            last_rx_us=last_rx_us,
            decrypted_us=self.clock_source(),
            clock_offset_us=self.clock.offset_us,
            clock_error_us=self.clock.error_bound_us,
        )
        return Frame(self.device_id, assembled.seq, assembled.data, timeline, self.session_id)


class CameraSession(_Channel):
    """The camera's side (the Noise initiator), as the firmware and the simulator run it."""

    def __init__(
        self,
        device_id: str,
        psk: bytes | None,
        suite: Suite = Suite.NOISE,
        clock: Clock = monotonic_us,
    ) -> None:
        super().__init__(clock)
        self.device_id = device_id
        self.suite = suite
        self._hello = Hello(suite, device_id).encode()
        self._noise = (
            HandshakeState(NNPSK0, initiator=True, prologue=self._hello, psk=psk)
            if suite is Suite.NOISE
            else None
        )

    def start(self) -> None:
        """Queue the first message: the hello, then Noise message 1 in the same message."""
        first = self._hello if self._noise is None else self._hello + self._noise.write_message()
        self._outgoing.append(first)

    def receive(self, message: bytes, rx_us: int | None = None) -> list[Event]:
        """Process one message received at `rx_us` (device clock); raises ProtocolError."""
        if self.state is State.CLOSED:
            return []
        rx_us = self.clock_source() if rx_us is None else rx_us
        try:
            if self.state is State.HANDSHAKE:
                return self._handshake(message)
            record = self._open(message)
            self._advance(Input.AUTHENTIC_RECORD)
            common = self._common(record, rx_us)
            if common is not None:
                return common
            if isinstance(record, records.Control):
                return [ControlReceived(record)]
            raise ProtocolError(
                CloseCode.MALFORMED_RECORD, f"{type(record).__name__} is not for the camera"
            )
        except ProtocolError:
            self._advance(Input.VIOLATION)
            raise

    def send_frame(
        self,
        jpeg: bytes | memoryview,
        seq: int,
        capture_us: int,
        *,
        chunk_data: int = records.MAX_CHUNK_DATA,
    ) -> None:
        """Queue one frame's chunks, stamped with the send time now; raises InvalidState."""
        self._require_keys()
        for record in chunk_records(jpeg, seq, capture_us, self.clock_source(), chunk_data):
            self._queue(record)

    def send_status(self, status: records.Status) -> None:
        """Queue a STATUS; raises InvalidState unless the session has keys."""
        self._require_keys()
        self._queue(records.encode(status))

    def _handshake(self, message: bytes) -> list[Event]:
        if self._noise is None:
            if message:
                raise ProtocolError(CloseCode.SERVER_REJECTED, "unexpected plain handshake answer")
        else:
            try:
                self._noise.read_message(message)
            except NoiseError:
                raise ProtocolError(
                    CloseCode.SERVER_REJECTED, "receiver failed authentication (wrong key?)"
                ) from None
            self._send, self._recv = self._noise.split()
            self._noise = None  # drop handshake secrets as soon as they are spent
        self._advance(Input.HANDSHAKE_DONE)
        assert self.suite is not None
        return [HandshakeComplete(self.device_id, self.suite)]
