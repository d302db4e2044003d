"""ReceiverSession and CameraSession driven against each other with deterministic clocks."""

import random
import tracemalloc

import pytest

from app.protocol import records
from app.protocol.aesgcm import AesGcm
from app.protocol.errors import CloseCode, InvalidState, ProtocolError
from app.protocol.hello import Suite
from app.protocol.limits import Limits
from app.protocol.noise import MAX_MESSAGE
from app.protocol.reassembly import chunk_records
from app.protocol.records import MAX_CHUNK_DATA, Control, Status
from app.protocol.session import (
    TRANSITIONS,
    CameraSession,
    ClockUpdated,
    ControlReceived,
    Credentials,
    FrameReceived,
    HandshakeComplete,
    Input,
    PeerClosed,
    ReceiverSession,
    SessionConfirmed,
    State,
    StatusReceived,
)
from tests.helpers import DEVICE, OFFSET, PSK, FakeClock, Pair

OTHER_PSK = bytes.fromhex("11" * 32)
STATUS = Status(-61, 6, 12, 25, 800, 600, 123_456, 4_000_000, 3_600, "fw 1.2.3")


def _inject(session, record) -> None:
    """Queue a record the session's public API never sends: a misbehaving peer."""
    session._queue(records.encode(record))


def _rejected(session, message: bytes, code: CloseCode) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        session.receive(message)
    assert info.value.code is code
    assert session.state is State.CLOSED
    return info.value


def _jpeg(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def _chunk_records(seq: int, count: int) -> list[bytes]:
    """The FRAME_CHUNK records of a frame of `count` 10-byte chunks."""
    return list(chunk_records(bytes(count * 10), seq, 0, 0, 10))


# ---------------------------------------------------------------- handshake


def test_noise_handshake_completes_on_both_sides_and_confirms_with_the_first_record():
    pair = Pair()
    receiver_events, camera_events = pair.handshake()
    assert receiver_events == [
        HandshakeComplete(DEVICE, Suite.NOISE),
        SessionConfirmed(DEVICE, Suite.NOISE),
        ClockUpdated(offset_us=999_900, rtt_us=400),
    ]
    assert camera_events == [HandshakeComplete(DEVICE, Suite.NOISE)]
    assert pair.receiver.state is State.CONFIRMED
    assert pair.camera.state is State.CONFIRMED  # the receiver's first PING proved its keys
    assert pair.receiver.device_id == DEVICE
    assert pair.receiver.confirmed
    assert pair.receiver.clock.offset_us == 999_900
    assert pair.receiver.clock.error_bound_us == 200


def test_noise_handshake_message_sizes():
    pair = Pair()
    pair.camera.start()
    (first,) = pair.camera_output()
    assert first[:8] == bytes.fromhex("5343414d01010463")  # "SCAM", v1, noise, 4, "c"...
    assert len(first) == 11 + 32 + 16  # hello, ephemeral key, empty payload's tag
    pair.receiver.receive(first)
    answer, ping = pair.receiver.data_to_send()
    assert len(answer) == 32 + 16
    assert len(ping) == 13 + 16


def test_receiver_is_not_confirmed_until_the_first_transport_record():
    pair = Pair()
    pair.camera.start()
    assert pair.to_receiver() == [HandshakeComplete(DEVICE, Suite.NOISE)]
    assert pair.receiver.state is State.TRANSPORT
    assert not pair.receiver.confirmed


def test_a_frame_as_first_record_confirms_the_session_before_the_frame_event():
    pair = Pair()
    pair.camera.start()
    pair.to_receiver()
    for message in pair.receiver.data_to_send()[:1]:  # the answer only; the ping is lost
        pair.camera.receive(message)
    pair.camera.send_frame(b"\xff\xd8jpeg\xff\xd9", 1, capture_us=5)
    events = pair.to_receiver()
    assert [type(e) for e in events] == [SessionConfirmed, FrameReceived]
    assert events[1].frame.timeline.clock_offset_us is None  # no pong yet
    assert events[1].frame.timeline.capture_us is None


def test_plain_handshake_answers_with_an_empty_message_and_then_a_cleartext_ping():
    pair = Pair(Suite.PLAIN, allow_plain=True, camera_psk=None)
    pair.camera.start()
    assert pair.camera_output() == [bytes.fromhex("5343414d01020463616d31")]
    pair.receiver.receive(bytes.fromhex("5343414d01020463616d31"))
    answer, ping = pair.receiver.data_to_send()
    assert answer == b""
    assert ping == bytes.fromhex("02" + "00000001" + "0000000000002710")  # ping 1 at 10,000
    assert pair.camera.receive(answer) == [HandshakeComplete(DEVICE, Suite.PLAIN)]
    pair.cclock.now = 10_200 + OFFSET
    assert pair.camera.receive(ping) == []
    pair.rclock.now = 10_400
    assert pair.to_receiver() == [
        SessionConfirmed(DEVICE, Suite.PLAIN),
        ClockUpdated(offset_us=OFFSET, rtt_us=400),
    ]


def test_plain_suite_frames_travel_in_cleartext_and_arrive_intact():
    pair = Pair(Suite.PLAIN, allow_plain=True, camera_psk=None)
    pair.handshake()
    jpeg = b"\xff\xd8 visible to anyone \xff\xd9"
    pair.camera.send_frame(jpeg, 1, capture_us=0)
    (message,) = pair.camera_output()
    assert message.endswith(jpeg)
    (event,) = pair.receiver.receive(message)
    assert event.frame.jpeg == jpeg
    assert event.frame.timeline.suite is Suite.PLAIN


def test_noise_suite_frames_do_not_carry_the_jpeg_in_cleartext():
    pair = Pair()
    pair.handshake()
    jpeg = b"\xff\xd8 a secret picture of the front door \xff\xd9"
    pair.camera.send_frame(jpeg, 1, capture_us=0)
    (message,) = pair.camera_output()
    assert b"secret picture" not in message
    assert len(message) == 29 + len(jpeg) + 16
    (event,) = pair.receiver.receive(message)
    assert event.frame.jpeg == jpeg


# ---------------------------------------------------------------- frames


@pytest.mark.parametrize(
    ("size", "chunk_data", "chunks"),
    [
        (1, MAX_CHUNK_DATA, 1),
        (1_000, MAX_CHUNK_DATA, 1),
        (MAX_CHUNK_DATA, MAX_CHUNK_DATA, 1),
        (MAX_CHUNK_DATA + 1, MAX_CHUNK_DATA, 2),
        (200_000, MAX_CHUNK_DATA, 4),
        (5_000, 1_000, 5),
    ],
)
def test_frames_arrive_bit_exact_with_their_timeline(size, chunk_data, chunks):
    pair = Pair()
    pair.handshake()
    jpeg = _jpeg(size)
    pair.cclock.now = 2_000_000  # send time on the camera's clock
    pair.camera.send_frame(jpeg, 7, capture_us=1_990_000, chunk_data=chunk_data)
    messages = pair.camera_output()
    assert len(messages) == chunks
    events = []
    for i, message in enumerate(messages):
        rx = 1_000_500 + 100 * i
        pair.rclock.now = rx + 7  # decryption finishes 7 µs after the message arrived
        events += pair.receiver.receive(message, rx)
    (event,) = events
    assert isinstance(event, FrameReceived)
    frame = event.frame
    assert frame.jpeg == jpeg
    assert (frame.device, frame.seq) == (DEVICE, 7)
    timeline = frame.timeline
    last_rx = 1_000_500 + 100 * (chunks - 1)
    assert (timeline.device, timeline.suite, timeline.seq, timeline.size) == (
        DEVICE,
        Suite.NOISE,
        7,
        size,
    )
    assert (timeline.device_capture_us, timeline.device_send_us) == (1_990_000, 2_000_000)
    assert (timeline.first_rx_us, timeline.last_rx_us) == (1_000_500, last_rx)
    assert timeline.decrypted_us == last_rx + 7
    assert timeline.clock_offset_us == 999_900
    assert timeline.capture_us == 1_990_000 - 999_900
    assert timeline.sent_us == 2_000_000 - 999_900
    assert timeline.latency_ms(timeline.decrypted_us) == (last_rx + 7 - 990_100) / 1000
    assert pair.receiver.frames_rejected == 0


VGA_SIZE = 39_400  # a VGA frame: one chunk


def test_an_encrypted_single_chunk_frame_is_a_view_of_the_buffer_its_decrypt_wrote(monkeypatch):
    outputs: list[object] = []
    real_ctr = AesGcm._ctr

    class Recording:
        def __init__(self, ctr):
            self.ctr = ctr

        def encrypt(self, data, **kwargs):
            outputs.append(kwargs.get("output"))
            return self.ctr.encrypt(data, **kwargs)

    monkeypatch.setattr(AesGcm, "_ctr", lambda self, nonce: Recording(real_ctr(self, nonce)))
    pair = Pair()
    pair.handshake()
    jpeg = _jpeg(VGA_SIZE)
    pair.camera.send_frame(jpeg, 1, capture_us=0)
    (message,) = pair.camera_output()
    (event,) = pair.receiver.receive(message)
    frame = event.frame.jpeg
    assert frame == jpeg
    assert isinstance(frame, memoryview) and frame.readonly
    assert frame.obj is outputs[-1]  # the cipher's own output buffer: not a copy of it


@pytest.mark.parametrize(
    ("suite", "allocated"),
    [(Suite.NOISE, (1.0, 1.5)), (Suite.PLAIN, (0.0, 0.5))],
    ids=["noise-written-once", "plain-never"],
)
def test_receiving_a_vga_frame_allocates_its_bytes_once_to_decrypt_and_never_to_copy(
    suite, allocated
):
    """Peak memory taken by `receive`, in frames: the decrypt's output, and no copy of it (a
    copy would add one); the plain suite's frame stays in its message."""
    pair = Pair(suite, allow_plain=True, camera_psk=PSK if suite is Suite.NOISE else None)
    pair.handshake()
    jpeg = _jpeg(VGA_SIZE)
    pair.camera.send_frame(jpeg, 1, capture_us=0)
    (message,) = pair.camera_output()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        (event,) = pair.receiver.receive(message)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert event.frame.jpeg == jpeg
    low, high = allocated
    assert low * VGA_SIZE <= peak < high * VGA_SIZE


def test_an_encrypted_frame_of_several_chunks_arrives_whole_at_its_last_chunk():
    pair = Pair()
    pair.handshake()
    jpeg = _jpeg(2 * MAX_CHUNK_DATA + 100)
    pair.camera.send_frame(jpeg, 1, capture_us=0)
    messages = pair.camera_output()
    assert len(messages) == 3
    assert pair.receiver.receive(messages[0]) == []
    assert pair.receiver.receive(messages[1]) == []
    (event,) = pair.receiver.receive(messages[2])
    assert type(event.frame.jpeg) is bytes
    assert event.frame.jpeg == jpeg


def test_without_rx_time_the_receiver_stamps_arrival_with_its_own_clock():
    pair = Pair()
    pair.handshake()
    pair.camera.send_frame(_jpeg(3_000), 1, capture_us=0, chunk_data=1_000)
    events = []
    for i, message in enumerate(pair.camera_output()):
        pair.rclock.now = 50_000 + i
        events += pair.receiver.receive(message)
    timeline = events[0].frame.timeline
    assert (timeline.first_rx_us, timeline.last_rx_us, timeline.decrypted_us) == (
        50_000,
        50_002,
        50_002,
    )


def test_several_frames_in_a_row_arrive_in_order_and_intact():
    pair = Pair()
    pair.handshake()
    jpegs = [_jpeg(n) for n in (10, 70_000, 1, 140_000)]
    for seq, jpeg in enumerate(jpegs, start=1):
        pair.camera.send_frame(jpeg, seq, capture_us=seq)
    events = pair.to_receiver()
    assert [(e.frame.seq, e.frame.jpeg) for e in events] == list(enumerate(jpegs, start=1))


def test_every_message_fits_in_65535_bytes_and_full_chunks_fill_it_exactly():
    pair = Pair()
    pair.camera.start()
    handshake = pair.camera_output()
    pair.receiver.receive(handshake[0])
    handshake += pair.receiver.data_to_send()
    pair.camera.receive(handshake[1])
    pair.camera.send_frame(_jpeg(300_000), 1, capture_us=0)
    pair.camera.send_status(Status(0, 0, 0, 0, 0, 0, 0, 0, 0, "x" * 500))
    pair.camera.close(CloseCode.NORMAL, "é" * 500)
    transport = pair.camera_output()
    assert max(len(m) for m in handshake + transport) <= MAX_MESSAGE
    assert [len(m) for m in transport[:4]] == [MAX_MESSAGE] * 4


def test_control_from_the_receiver_reaches_the_camera():
    pair = Pair()
    pair.handshake()
    pair.receiver.send_control(Control(frame_size=5, quality=10, fps_cap=15))
    pair.receiver.send_control(Control())
    assert pair.to_camera() == [
        ControlReceived(Control(5, 10, 15)),
        ControlReceived(Control(0, 0, 0)),
    ]


def test_status_from_the_camera_reaches_the_receiver():
    pair = Pair()
    pair.handshake()
    pair.camera.send_status(STATUS)
    assert pair.to_receiver() == [StatusReceived(STATUS)]


def test_camera_answers_a_ping_with_a_pong_echoing_the_send_time():
    pair = Pair()
    pair.handshake()
    pair.rclock.now = 70_000
    pair.receiver.send_ping()
    pair.cclock.now = 70_050 + OFFSET
    assert pair.to_camera() == []
    pair.rclock.now = 70_060
    assert pair.to_receiver() == [ClockUpdated(offset_us=OFFSET + 20, rtt_us=60)]
    assert pair.receiver.clock.offset_us == OFFSET + 20  # the smaller RTT wins


def test_receiver_answers_a_ping_from_the_camera():
    pair = Pair()
    pair.handshake()
    pair.cclock.now = 5_000_000
    pair.camera.send_ping()
    pair.rclock.now = 4_000_010
    assert pair.to_receiver() == []
    pair.cclock.now = 5_000_030
    assert pair.to_camera() == [ClockUpdated(offset_us=4_000_010 - 5_000_015, rtt_us=30)]


def test_only_the_last_8_outstanding_pings_count_for_the_clock():
    pair = Pair()
    pair.camera.start()
    pair.to_receiver()  # the receiver queues ping 1
    for _ in range(9):  # pings 2..10: pings 1 and 2 are forgotten
        pair.receiver.send_ping()
    pair.to_camera()
    events = pair.to_receiver()
    assert events[0] == SessionConfirmed(DEVICE, Suite.NOISE)
    assert len(events[1:]) == 8
    assert all(isinstance(e, ClockUpdated) for e in events[1:])


def test_an_unsolicited_pong_is_ignored():
    pair = Pair()
    pair.handshake()
    _inject(pair.camera, records.Pong(999, 0, 123))
    assert pair.to_receiver() == []
    assert pair.receiver.state is State.CONFIRMED


def test_outgoing_order_is_preserved_when_a_pong_is_queued_between_frames():
    pair = Pair()
    pair.handshake()
    pair.camera.send_frame(_jpeg(3_000), 1, capture_us=1, chunk_data=1_000)
    pair.receiver.send_ping()
    pair.to_camera()  # the pong is queued after frame 1's chunks
    pair.camera.send_frame(_jpeg(2_000), 2, capture_us=2, chunk_data=1_000)
    messages = pair.camera_output()
    assert len(messages) == 3 + 1 + 2
    events = [e for m in messages for e in pair.receiver.receive(m)]
    assert [type(e) for e in events] == [FrameReceived, ClockUpdated, FrameReceived]
    assert [e.frame.jpeg for e in events if isinstance(e, FrameReceived)] == [
        _jpeg(3_000),
        _jpeg(2_000),
    ]


def test_delivering_the_pong_before_the_chunks_queued_ahead_of_it_fails():
    pair = Pair()
    pair.handshake()
    pair.camera.send_frame(_jpeg(3_000), 1, capture_us=1, chunk_data=1_000)
    pair.receiver.send_ping()
    pair.to_camera()
    *_chunks, pong = pair.camera_output()
    _rejected(pair.receiver, pong, CloseCode.DECRYPT_FAILED)


# ---------------------------------------------------------------- close


def test_close_record_from_the_camera_gives_peer_closed_and_closes_the_receiver():
    pair = Pair()
    pair.handshake()
    pair.camera.close(CloseCode.GOING_AWAY, "rebooting")
    assert pair.camera.state is State.CLOSED
    assert pair.to_receiver() == [PeerClosed(1001, "rebooting")]
    assert pair.receiver.state is State.CLOSED


def test_close_record_from_the_receiver_gives_peer_closed_and_closes_the_camera():
    pair = Pair()
    pair.handshake()
    pair.receiver.close(CloseCode.REPLACED, "newer session")
    assert pair.to_camera() == [PeerClosed(4013, "newer session")]
    assert pair.camera.state is State.CLOSED
    with pytest.raises(InvalidState):
        pair.camera.send_frame(b"x", 1, 0)


def test_after_close_the_receiver_accepts_and_sends_nothing_more():
    pair = Pair()
    pair.handshake()
    pair.camera.send_frame(b"\xff\xd8late\xff\xd9", 1, capture_us=0)
    pair.camera.send_status(STATUS)
    pair.receiver.close(CloseCode.NORMAL, "bye")
    assert len(pair.receiver.data_to_send()) == 1  # the authenticated CLOSE
    assert pair.receiver.state is State.CLOSED
    assert pair.to_receiver() == []
    assert pair.receiver.receive(b"garbage") == []
    with pytest.raises(InvalidState):
        pair.receiver.send_control(Control())
    with pytest.raises(InvalidState):
        pair.receiver.send_ping()
    pair.receiver.close(CloseCode.NORMAL, "again")
    assert pair.receiver.data_to_send() == []


def test_after_close_the_camera_accepts_and_sends_nothing_more():
    pair = Pair()
    pair.handshake()
    pair.receiver.send_control(Control(1, 2, 3))
    pair.camera.close(CloseCode.NORMAL, "bye")
    assert pair.to_camera() == []
    with pytest.raises(InvalidState):
        pair.camera.send_status(STATUS)
    with pytest.raises(InvalidState):
        pair.camera.send_ping()


def test_close_during_the_handshake_queues_nothing():
    pair = Pair()
    pair.camera.start()
    pair.camera.data_to_send()
    pair.camera.close(CloseCode.HANDSHAKE_TIMEOUT, "too slow")
    assert pair.camera.data_to_send() == []
    assert pair.camera.state is State.CLOSED


def test_close_reason_is_cut_to_fit_a_websocket_close_frame():
    pair = Pair()
    pair.handshake()
    pair.camera.close(CloseCode.NORMAL, "ü" * 100)
    assert pair.to_receiver() == [PeerClosed(1000, "ü" * 61)]


# ---------------------------------------------------------------- rejections


def test_unknown_device_is_rejected_exactly_like_a_wrong_key():
    unknown = Pair(registry={})
    unknown.camera.start()
    error = _rejected(unknown.receiver, unknown.camera_output()[0], CloseCode.AUTH_FAILED)
    assert unknown.receiver.data_to_send() == []
    wrong_key = Pair(receiver_psk=OTHER_PSK)
    wrong_key.camera.start()
    expected = _rejected(wrong_key.receiver, wrong_key.camera_output()[0], CloseCode.AUTH_FAILED)
    assert error.reason == expected.reason == "authentication failed"
    # Only the local log may tell them apart.
    assert "unknown device 'cam1'" in error.detail and "wrong key" in expected.detail
    assert unknown.receiver.device_id is None


@pytest.mark.parametrize("extra", [b"\x00", b"payload", bytes(100)])
def test_noise_message_1_with_a_payload_is_a_bad_hello_whatever_the_device(extra):
    for registry in (None, {}):
        pair = Pair() if registry is None else Pair(registry=registry)
        pair.camera.start()
        (first,) = pair.camera_output()
        error = _rejected(pair.receiver, first + extra, CloseCode.BAD_HELLO)
        assert error.reason == f"Noise message 1 must be 48 bytes, not {48 + len(extra)}"


def test_wrong_key_is_auth_failed_without_an_answer():
    pair = Pair(receiver_psk=OTHER_PSK)
    pair.camera.start()
    (first,) = pair.camera_output()
    _rejected(pair.receiver, first, CloseCode.AUTH_FAILED)
    assert pair.receiver.data_to_send() == []


@pytest.mark.parametrize("position", [11, 11 + 31, -1], ids=["ephemeral0", "ephemeral31", "tag"])
def test_tampered_noise_message_1_is_auth_failed(position):
    pair = Pair()
    pair.camera.start()
    first = bytearray(pair.camera_output()[0])
    first[position] ^= 0x01
    _rejected(pair.receiver, bytes(first), CloseCode.AUTH_FAILED)


def test_noise_hello_without_a_noise_message_is_a_bad_hello():
    pair = Pair()
    _rejected(pair.receiver, bytes.fromhex("5343414d01010463616d31"), CloseCode.BAD_HELLO)


def test_hello_rewritten_to_another_device_with_the_same_key_is_auth_failed():
    registry = {name: Credentials(name, PSK) for name in ("cam1", "cam2")}
    pair = Pair(registry=registry)
    pair.camera.start()
    first = pair.camera_output()[0]
    forged = first.replace(b"cam1", b"cam2", 1)  # the hello is the Noise prologue
    _rejected(pair.receiver, forged, CloseCode.AUTH_FAILED)


def test_hello_downgraded_to_plain_is_rejected_even_when_plain_is_allowed():
    pair = Pair(allow_plain=True)
    pair.camera.start()
    first = bytearray(pair.camera_output()[0])
    first[5] = Suite.PLAIN
    _rejected(pair.receiver, bytes(first), CloseCode.BAD_HELLO)
    assert pair.receiver.data_to_send() == []


def test_plain_suite_is_rejected_unless_the_device_allows_it():
    pair = Pair(Suite.PLAIN, allow_plain=False, camera_psk=None)
    pair.camera.start()
    _rejected(pair.receiver, pair.camera_output()[0], CloseCode.PLAIN_NOT_ALLOWED)
    assert pair.receiver.data_to_send() == []


def test_plain_hello_with_trailing_bytes_is_bad_hello():
    pair = Pair(Suite.PLAIN, allow_plain=True, camera_psk=None)
    _rejected(pair.receiver, bytes.fromhex("5343414d01020463616d31" + "00"), CloseCode.BAD_HELLO)
    assert pair.receiver.data_to_send() == []


def test_malformed_hello_is_bad_hello():
    pair = Pair()
    _rejected(pair.receiver, b"GET / HTTP/1.1", CloseCode.BAD_HELLO)


def test_unsupported_version_closes_the_receiver():
    pair = Pair()
    _rejected(pair.receiver, bytes.fromhex("5343414d02010463616d31"), CloseCode.UNSUPPORTED_VERSION)


@pytest.mark.parametrize("position", [0, 20, -1], ids=["first-byte", "middle", "tag"])
def test_tampered_transport_message_is_decrypt_failed_and_rejects_the_frame(position):
    pair = Pair()
    pair.handshake()
    pair.camera.send_frame(_jpeg(100), 1, capture_us=0)
    message = bytearray(pair.camera_output()[0])
    message[position] ^= 0x80
    _rejected(pair.receiver, bytes(message), CloseCode.DECRYPT_FAILED)
    assert pair.receiver.frames_rejected == 1


def test_truncated_transport_message_is_decrypt_failed():
    pair = Pair()
    pair.handshake()
    pair.camera.send_status(STATUS)
    (message,) = pair.camera_output()
    _rejected(pair.receiver, message[:-1], CloseCode.DECRYPT_FAILED)


def test_message_shorter_than_a_tag_is_decrypt_failed():
    pair = Pair()
    pair.handshake()
    _rejected(pair.receiver, b"\x00" * 15, CloseCode.DECRYPT_FAILED)


def test_a_replayed_transport_message_is_decrypt_failed():
    pair = Pair()
    pair.handshake()
    pair.camera.send_frame(_jpeg(10), 1, capture_us=0)
    (message,) = pair.camera_output()
    assert len(pair.receiver.receive(message)) == 1
    _rejected(pair.receiver, message, CloseCode.DECRYPT_FAILED)


def test_a_dropped_transport_message_makes_the_next_one_decrypt_failed():
    pair = Pair()
    pair.handshake()
    pair.camera.send_status(STATUS)
    pair.camera.send_status(STATUS)
    _, second = pair.camera_output()
    _rejected(pair.receiver, second, CloseCode.DECRYPT_FAILED)


def test_a_recorded_session_replayed_into_a_fresh_receiver_never_confirms():
    """NNpsk0 message 1 can be replayed, but the receiver's fresh ephemeral key gives new
    transport keys, so no recorded transport message authenticates: no frame is accepted."""
    original = Pair()
    original.handshake()
    original.camera.send_status(STATUS)
    original.camera.send_frame(_jpeg(70_000), 1, capture_us=0)
    original.camera.close(CloseCode.NORMAL, "bye")
    original.camera_output()
    first, *transport = original.sent_by_camera
    assert len(transport) == 1 + 1 + 2 + 1  # pong, status, two chunks, close

    events = []
    for replayed in transport:
        receiver = ReceiverSession(original.registry.get, clock=FakeClock())
        events += receiver.receive(first)
        assert receiver.state is State.TRANSPORT  # the handshake "completes"
        with pytest.raises(ProtocolError) as info:
            events += receiver.receive(replayed)
        assert info.value.code is CloseCode.DECRYPT_FAILED
        assert receiver.state is State.CLOSED
        assert not receiver.confirmed
    assert events == [HandshakeComplete(DEVICE, Suite.NOISE)] * len(transport)


def test_a_control_record_sent_by_the_camera_is_malformed_record():
    pair = Pair()
    pair.handshake()
    _inject(pair.camera, Control(1, 2, 3))
    (message,) = pair.camera_output()
    error = _rejected(pair.receiver, message, CloseCode.MALFORMED_RECORD)
    assert "Control" in error.reason


def test_a_plain_control_record_sent_by_the_camera_is_malformed_record():
    pair = Pair(Suite.PLAIN, allow_plain=True, camera_psk=None)
    pair.handshake()
    _rejected(pair.receiver, bytes.fromhex("04010203"), CloseCode.MALFORMED_RECORD)


@pytest.mark.parametrize(
    "record",
    [records.FrameChunk(1, 0, 0, 1, 0, 1, b"x"), STATUS],
    ids=["frame-chunk", "status"],
)
def test_a_camera_record_sent_by_the_receiver_is_malformed_record_at_the_camera(record):
    pair = Pair()
    pair.handshake()
    _inject(pair.receiver, record)
    (message,) = pair.receiver.data_to_send()
    _rejected(pair.camera, message, CloseCode.MALFORMED_RECORD)


def test_a_garbled_record_inside_a_valid_message_is_malformed_record():
    pair = Pair()
    pair.handshake()
    pair.camera._queue(b"\x09garbage")  # authentic, but not a record
    (message,) = pair.camera_output()
    _rejected(pair.receiver, message, CloseCode.MALFORMED_RECORD)


def test_camera_rejects_an_answer_from_a_receiver_holding_another_key():
    camera = CameraSession(DEVICE, PSK, clock=FakeClock())
    camera.start()
    camera.data_to_send()
    impostor_camera = CameraSession(DEVICE, OTHER_PSK, clock=FakeClock())
    impostor_camera.start()
    impostor = ReceiverSession({DEVICE: Credentials(DEVICE, OTHER_PSK)}.get, clock=FakeClock())
    impostor.receive(impostor_camera.data_to_send()[0])
    answer, _ = impostor.data_to_send()
    _rejected(camera, answer, CloseCode.SERVER_REJECTED)
    assert camera.data_to_send() == []


@pytest.mark.parametrize("position", [0, 31, 32, -1], ids=["e0", "e31", "tag0", "tag-last"])
def test_camera_rejects_a_tampered_answer(position):
    pair = Pair()
    pair.camera.start()
    pair.to_receiver()
    answer = bytearray(pair.receiver.data_to_send()[0])
    answer[position] ^= 0x01
    _rejected(pair.camera, bytes(answer), CloseCode.SERVER_REJECTED)


@pytest.mark.parametrize("answer", [b"", b"\x00" * 47], ids=["empty", "short"])
def test_camera_rejects_a_noise_answer_of_the_wrong_length(answer):
    pair = Pair()
    pair.camera.start()
    _rejected(pair.camera, answer, CloseCode.SERVER_REJECTED)


def test_plain_camera_rejects_a_non_empty_answer():
    camera = CameraSession(DEVICE, None, Suite.PLAIN, clock=FakeClock())
    camera.start()
    _rejected(camera, b"\x00" * 48, CloseCode.SERVER_REJECTED)


def test_frame_over_the_receiver_limit_is_frame_too_large_and_counted():
    pair = Pair(limits=Limits(max_frame_bytes=1_000, max_chunks_per_frame=64))
    pair.handshake()
    pair.camera.send_frame(_jpeg(1_000), 1, capture_us=0)
    assert len(pair.to_receiver()) == 1
    pair.camera.send_frame(_jpeg(1_001), 2, capture_us=0)
    (message,) = pair.camera_output()
    _rejected(pair.receiver, message, CloseCode.FRAME_TOO_LARGE)
    assert pair.receiver.frames_rejected == 1


def test_frame_in_too_many_chunks_is_frame_too_large():
    pair = Pair(limits=Limits(max_chunks_per_frame=3))
    pair.handshake()
    pair.camera.send_frame(_jpeg(400), 1, capture_us=0, chunk_data=100)
    message = pair.camera_output()[0]
    _rejected(pair.receiver, message, CloseCode.FRAME_TOO_LARGE)
    assert pair.receiver.frames_rejected == 1


def test_a_partial_frame_cut_off_by_a_bad_record_counts_as_rejected():
    pair = Pair()
    pair.handshake()
    # A camera that interrupts a frame with a record the receiver must refuse.
    pair.camera._queue(_chunk_records(seq=1, count=3)[0])
    _inject(pair.camera, Control())
    first, bad = pair.camera_output()
    assert pair.receiver.receive(first) == []
    _rejected(pair.receiver, bad, CloseCode.MALFORMED_RECORD)
    assert pair.receiver.frames_rejected == 1


def test_a_bad_record_after_a_complete_frame_rejects_no_frame():
    pair = Pair()
    pair.handshake()
    pair.camera.send_frame(_jpeg(3_000), 1, capture_us=0, chunk_data=1_000)
    _inject(pair.camera, Control())
    *chunks, bad = pair.camera_output()
    events = [e for m in chunks for e in pair.receiver.receive(m)]
    assert len(events) == 1
    _rejected(pair.receiver, bad, CloseCode.MALFORMED_RECORD)
    assert pair.receiver.frames_rejected == 0


def test_a_dropped_chunk_rejects_the_frame():
    pair = Pair()
    pair.handshake()
    pair.camera.send_frame(_jpeg(3_000), 1, capture_us=0, chunk_data=1_000)
    chunks = pair.camera_output()
    assert pair.receiver.receive(chunks[0]) == []
    _rejected(pair.receiver, chunks[2], CloseCode.DECRYPT_FAILED)  # chunk 1 never arrived
    assert pair.receiver.frames_rejected == 1


def test_a_truncated_frame_followed_by_the_next_one_is_chunk_sequence():
    pair = Pair()
    pair.handshake()
    # A camera that starts frame 2 before finishing frame 1 (the firmware never does this).
    for record in _chunk_records(seq=1, count=2)[:1] + _chunk_records(seq=2, count=1):
        pair.camera._queue(record)
    first, second = pair.camera_output()
    assert pair.receiver.receive(first) == []
    error = _rejected(pair.receiver, second, CloseCode.CHUNK_SEQUENCE)
    assert "truncated" in error.reason
    assert pair.receiver.frames_rejected == 1


def test_a_repeated_seq_is_chunk_sequence():
    pair = Pair()
    pair.handshake()
    pair.camera.send_frame(b"one", 5, capture_us=0)
    pair.camera.send_frame(b"two", 5, capture_us=0)
    first, second = pair.camera_output()
    assert len(pair.receiver.receive(first)) == 1
    _rejected(pair.receiver, second, CloseCode.CHUNK_SEQUENCE)
    assert pair.receiver.frames_rejected == 1


def test_rejected_receiver_ignores_everything_after():
    pair = Pair()
    pair.handshake()
    pair.camera.send_status(STATUS)
    (status,) = pair.camera_output()
    _rejected(pair.receiver, b"\x00" * 40, CloseCode.DECRYPT_FAILED)
    assert pair.receiver.receive(status) == []


def test_a_rejected_camera_ignores_everything_after():
    pair = Pair()
    pair.handshake()
    pair.receiver.send_control(Control(1, 1, 1))
    (control,) = pair.receiver.data_to_send()
    _rejected(pair.camera, b"\x00" * 40, CloseCode.DECRYPT_FAILED)
    assert pair.camera.receive(control) == []


def test_camera_sessions_refuse_to_send_before_the_handshake():
    camera = CameraSession(DEVICE, PSK, clock=FakeClock())
    with pytest.raises(InvalidState, match="session is handshake: nothing can be sent"):
        camera.send_frame(b"x", 1, 0)
    with pytest.raises(InvalidState):
        camera.send_status(STATUS)


def test_noise_camera_needs_a_32_byte_key():
    with pytest.raises(ValueError, match="32-byte"):
        CameraSession(DEVICE, None)
    with pytest.raises(ValueError, match="32-byte"):
        CameraSession(DEVICE, PSK[:16])


# ---------------------------------------------------------------- secrets


def _leaks(text: str) -> bool:
    forms = [PSK.hex(), PSK.hex().upper(), repr(PSK), str(PSK), PSK.hex(" "), PSK.hex(":")]
    return any(form in text for form in forms) or PSK.hex()[:16] in text


def test_repr_and_error_messages_never_contain_the_key():
    credentials = Credentials(DEVICE, PSK, allow_plain=True)
    assert "psk" not in repr(credentials)
    pair = Pair()
    pair.handshake()
    texts = [repr(credentials), str(credentials), repr(pair.camera), repr(pair.receiver)]

    errors = []
    wrong = Pair(receiver_psk=OTHER_PSK, camera_psk=PSK)
    wrong.camera.start()
    with pytest.raises(ProtocolError) as info:
        wrong.receiver.receive(wrong.camera_output()[0])
    errors.append(info.value)
    with pytest.raises(ProtocolError) as info:
        Pair().camera.receive(b"")
    errors.append(info.value)
    with pytest.raises(ProtocolError) as info:
        pair.receiver.receive(b"\x00" * 64)
    errors.append(info.value)
    for error in errors:
        texts += [str(error), repr(error), error.reason, repr(error.args)]

    assert texts
    for text in texts:
        assert not _leaks(text), text


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("what", list(Input))
def test_the_transition_table_decides_every_state_change(state, what):
    session = CameraSession(DEVICE, PSK, clock=FakeClock())
    session.state = state
    following = TRANSITIONS[state].get(what)
    if following is None:
        with pytest.raises(InvalidState, match=f"session is {state.value}: cannot take"):
            session._advance(what)
        assert session.state is state
    else:
        session._advance(what)
        assert session.state is following
        assert session.confirmed is (following is State.CONFIRMED)


def test_confirmed_is_a_state_a_session_reaches_only_through_an_authentic_record():
    pair = Pair()
    pair.camera.start()
    pair.to_receiver()
    assert pair.receiver.state is State.TRANSPORT and not pair.receiver.confirmed
    pair.camera.receive(pair.receiver.data_to_send()[0])  # the handshake answer
    pair.camera.send_status(STATUS)
    pair.to_receiver()
    assert pair.receiver.state is State.CONFIRMED and pair.receiver.confirmed
    pair.receiver.close(CloseCode.NORMAL, "bye")
    # Closed, but it remembers that the peer had proved its keys (the receiver reports on it).
    assert pair.receiver.state is State.CLOSED and pair.receiver.confirmed
    assert not pair.receiver.can_send
    with pytest.raises(InvalidState, match="session is closed: nothing can be sent"):
        pair.receiver.send_ping()
