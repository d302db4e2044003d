"""Chunking on the camera side and strict, in-order reassembly on the receiver side."""

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.reassembly import AssembledFrame, Reassembler, chunk_count, chunk_records
from app.protocol.records import CHUNK_HEADER_LEN, MAX_CHUNK_DATA, MAX_RECORD, FrameChunk, parse

BIG = 10 * 1024 * 1024


def _chunks(jpeg: bytes, seq: int = 1, chunk_data: int = MAX_CHUNK_DATA, capture=100, send=200):
    out = []
    for record in chunk_records(jpeg, seq, capture, send, chunk_data):
        chunk = parse(record)
        assert isinstance(chunk, FrameChunk)
        out.append(chunk)
    return out


def _chunk(seq=1, total=10, index=0, count=1, data=b"0123456789", capture=100, send=200):
    return FrameChunk(seq, capture, send, total, index, count, data)


def _feed(reassembler: Reassembler, chunks, now_us: int = 0) -> list[AssembledFrame]:
    frames = []
    for i, chunk in enumerate(chunks):
        frame = reassembler.add(chunk, now_us + i)
        if frame is not None:
            frames.append(frame)
    return frames


def _rejected(reassembler: Reassembler, chunks, code: CloseCode) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        _feed(reassembler, chunks)
    assert info.value.code is code
    return info.value


# ---------------------------------------------------------------- chunk_records


def test_chunk_count_rounds_up_and_is_at_least_one():
    assert chunk_count(0) == 1
    assert chunk_count(1) == 1
    assert chunk_count(MAX_CHUNK_DATA) == 1
    assert chunk_count(MAX_CHUNK_DATA + 1) == 2
    assert chunk_count(10, 3) == 4
    assert chunk_count(9, 3) == 3


def test_chunk_records_fills_records_to_max_record_and_puts_the_rest_last():
    jpeg = bytes(range(256)) * 600  # 153,600 bytes
    records = list(chunk_records(jpeg, 7, 11, 22))
    assert [len(r) for r in records] == [MAX_RECORD, MAX_RECORD, 29 + 153_600 - 2 * 65_490]
    chunks = [parse(r) for r in records]
    assert [(c.index, c.count) for c in chunks] == [(0, 3), (1, 3), (2, 3)]
    assert all(
        (c.seq, c.capture_us, c.send_us, c.total_len) == (7, 11, 22, 153_600) for c in chunks
    )
    assert b"".join(bytes(c.data) for c in chunks) == jpeg


def test_chunk_records_of_exactly_max_chunk_data_is_one_chunk():
    records = list(chunk_records(b"\x01" * MAX_CHUNK_DATA, 1, 0, 0))
    assert len(records) == 1
    assert len(records[0]) == MAX_RECORD


@pytest.mark.parametrize(
    ("size", "chunk_data", "expected"),
    [(10, 3, [3, 3, 3, 1]), (9, 3, [3, 3, 3]), (5, 1, [1] * 5), (5, 100, [5])],
)
def test_chunk_records_splits_at_a_smaller_chunk_size(size, chunk_data, expected):
    jpeg = bytes(range(size))
    chunks = _chunks(jpeg, chunk_data=chunk_data)
    assert [len(c.data) for c in chunks] == expected
    assert [c.index for c in chunks] == list(range(len(expected)))
    assert {c.count for c in chunks} == {len(expected)}
    assert {c.total_len for c in chunks} == {size}
    assert b"".join(bytes(c.data) for c in chunks) == jpeg


def test_chunk_record_header_is_29_bytes_before_the_data():
    (record,) = chunk_records(b"xyz", 1, 2, 3)
    assert len(record) == CHUNK_HEADER_LEN + 3
    assert record[CHUNK_HEADER_LEN:] == b"xyz"


@pytest.mark.parametrize("chunk_data", [0, -1, MAX_CHUNK_DATA + 1])
def test_chunk_records_refuses_a_chunk_size_outside_1_to_max(chunk_data):
    with pytest.raises(ValueError, match="chunk data size"):
        list(chunk_records(b"x", 1, 0, 0, chunk_data))


def test_chunk_records_refuses_an_empty_frame():
    with pytest.raises(ValueError, match="empty"):
        list(chunk_records(b"", 1, 0, 0))


def test_chunk_records_accepts_a_memoryview():
    jpeg = bytes(range(100))
    records = list(chunk_records(memoryview(jpeg), 1, 0, 0, 40))
    assert b"".join(r[CHUNK_HEADER_LEN:] for r in records) == jpeg


# ---------------------------------------------------------------- reassembly


@pytest.mark.parametrize(
    ("size", "chunk_data", "count"),
    [(1, MAX_CHUNK_DATA, 1), (MAX_CHUNK_DATA + 1, MAX_CHUNK_DATA, 2), (1000, 17, 59)],
    ids=["one", "two", "many"],
)
def test_reassembler_rebuilds_the_frame_bit_exact(size, chunk_data, count):
    jpeg = random.Random(size).randbytes(size)
    chunks = _chunks(jpeg, seq=5, chunk_data=chunk_data, capture=1234, send=5678)
    assert len(chunks) == count
    reassembler = Reassembler(BIG, 64)
    results = [reassembler.add(c, 1000 + 10 * i) for i, c in enumerate(chunks)]
    assert results[:-1] == [None] * (count - 1)
    frame = results[-1]
    assert isinstance(frame, AssembledFrame)
    assert frame.data == jpeg
    # One chunk: its view into the (immutable) record, not a copy; several: joined.
    assert isinstance(frame.data, memoryview if count == 1 else bytes)
    assert (frame.seq, frame.capture_us, frame.send_us) == (5, 1234, 5678)
    assert not reassembler.in_progress


def test_first_rx_us_is_the_time_of_the_first_chunk():
    chunks = _chunks(bytes(30), chunk_data=10)
    reassembler = Reassembler(BIG, 64)
    assert reassembler.add(chunks[0], 500) is None
    assert reassembler.add(chunks[1], 900) is None
    frame = reassembler.add(chunks[2], 1300)
    assert frame is not None
    assert frame.first_rx_us == 500


def test_in_progress_is_true_only_between_the_first_and_last_chunk():
    chunks = _chunks(bytes(20), chunk_data=10)
    reassembler = Reassembler(BIG, 64)
    assert not reassembler.in_progress
    reassembler.add(chunks[0], 0)
    assert reassembler.in_progress
    reassembler.add(chunks[1], 0)
    assert not reassembler.in_progress


def test_consecutive_frames_with_increasing_seq_are_all_delivered():
    reassembler = Reassembler(BIG, 64)
    jpegs = [bytes([n]) * (n * 7) for n in (1, 2, 3)]
    frames = []
    for seq, jpeg in zip((1, 2, 10), jpegs, strict=True):
        frames += _feed(reassembler, _chunks(jpeg, seq=seq, chunk_data=5))
    assert [(f.seq, f.data) for f in frames] == list(zip((1, 2, 10), jpegs, strict=True))


def test_reassembled_frame_survives_reuse_of_the_chunk_buffers():
    buffers = [bytearray(b"abcde"), bytearray(b"fghij")]
    reassembler = Reassembler(BIG, 64)
    reassembler.add(_chunk(total=10, index=0, count=2, data=memoryview(buffers[0])), 0)
    frame = reassembler.add(_chunk(total=10, index=1, count=2, data=memoryview(buffers[1])), 0)
    buffers[0][:] = b"XXXXX"
    assert frame is not None
    assert frame.data == b"abcdefghij"


@pytest.mark.parametrize(
    "data",
    [b"0123456789", memoryview(b"0123456789"), memoryview(bytearray(b"0123456789")).toreadonly()],
    ids=["bytes", "view-of-bytes", "read-only-view"],
)
def test_a_single_chunk_that_cannot_change_is_the_frame_itself_not_a_copy(data):
    frame = Reassembler(BIG, 64).add(_chunk(data=data), 0)
    assert frame is not None
    assert frame.data is data


def test_a_single_chunk_over_a_writable_buffer_is_copied_so_the_frame_outlives_it():
    buffer = bytearray(b"0123456789")
    frame = Reassembler(BIG, 64).add(_chunk(data=memoryview(buffer)), 0)
    buffer[:] = b"XXXXXXXXXX"
    assert frame is not None
    assert frame.data == b"0123456789"


def test_read_only_chunks_of_one_frame_are_joined_into_one_new_bytes_object():
    record = memoryview(b"abcdefghij").toreadonly()
    parts = [record[0:4], record[4:8], record[8:]]
    chunks = [_chunk(total=10, index=i, count=3, data=part) for i, part in enumerate(parts)]
    (frame,) = _feed(Reassembler(BIG, 64), chunks)
    assert type(frame.data) is bytes
    assert frame.data == b"abcdefghij"


# ---------------------------------------------------------------- limits


def test_frame_of_exactly_max_frame_bytes_is_accepted():
    frames = _feed(Reassembler(100, 64), _chunks(bytes(100), chunk_data=50))
    assert len(frames) == 1


def test_frame_over_max_frame_bytes_is_frame_too_large_at_its_first_chunk():
    chunks = _chunks(bytes(101), chunk_data=50)
    reassembler = Reassembler(100, 64)
    with pytest.raises(ProtocolError) as info:
        reassembler.add(chunks[0], 0)
    assert info.value.code is CloseCode.FRAME_TOO_LARGE
    assert "101" in info.value.reason
    assert not reassembler.in_progress


def test_frame_in_more_than_max_chunks_is_frame_too_large():
    assert len(_feed(Reassembler(BIG, 4), _chunks(bytes(40), chunk_data=10))) == 1
    _rejected(Reassembler(BIG, 4), _chunks(bytes(41), chunk_data=10), CloseCode.FRAME_TOO_LARGE)


@pytest.mark.parametrize(
    "chunk",
    [
        _chunk(index=1, count=1),
        _chunk(index=5, count=3),
        _chunk(index=0, count=0),
        _chunk(total=0, data=b"x"),
    ],
    ids=["index-eq-count", "index-gt-count", "count-0", "total-0"],
)
def test_impossible_chunk_header_is_malformed_record(chunk):
    reassembler = Reassembler(BIG, 64)
    _rejected(reassembler, [chunk], CloseCode.MALFORMED_RECORD)
    assert not reassembler.in_progress


def test_impossible_chunk_header_in_the_middle_of_a_frame_is_malformed_record():
    reassembler = Reassembler(BIG, 64)
    reassembler.add(_chunk(total=10, index=0, count=2, data=b"abcde"), 0)
    _rejected(reassembler, [_chunk(total=10, index=2, count=2)], CloseCode.MALFORMED_RECORD)


# ---------------------------------------------------------------- chunk sequence


def test_out_of_order_chunk_is_chunk_sequence():
    a, b, c = _chunks(bytes(range(30)), chunk_data=10)
    error = _rejected(Reassembler(BIG, 64), [a, c, b], CloseCode.CHUNK_SEQUENCE)
    assert "chunk 2 arrived, expected 1" in error.reason


def test_frame_whose_first_chunk_is_missing_is_chunk_sequence():
    _, b, c = _chunks(bytes(range(30)), chunk_data=10)
    error = _rejected(Reassembler(BIG, 64), [b, c], CloseCode.CHUNK_SEQUENCE)
    assert "not 0" in error.reason


def test_new_seq_before_the_previous_frame_completed_is_chunk_sequence():
    first = _chunks(bytes(30), seq=1, chunk_data=10)
    second = _chunks(bytes(5), seq=2)
    reassembler = Reassembler(BIG, 64)
    error = _rejected(reassembler, [*first[:2], *second], CloseCode.CHUNK_SEQUENCE)
    assert "truncated" in error.reason


def test_repeated_chunk_is_chunk_sequence():
    a, b, c = _chunks(bytes(30), chunk_data=10)
    _rejected(Reassembler(BIG, 64), [a, a], CloseCode.CHUNK_SEQUENCE)
    _rejected(Reassembler(BIG, 64), [a, b, b, c], CloseCode.CHUNK_SEQUENCE)


def test_single_chunk_with_more_data_than_declared_is_chunk_sequence():
    error = _rejected(
        Reassembler(BIG, 64), [_chunk(total=3, data=b"abcd")], CloseCode.CHUNK_SEQUENCE
    )
    assert "longer" in error.reason


def test_chunks_adding_up_to_more_than_declared_are_rejected_before_the_last():
    reassembler = Reassembler(BIG, 64)
    reassembler.add(_chunk(total=5, index=0, count=3, data=b"abc"), 0)
    with pytest.raises(ProtocolError) as info:
        reassembler.add(_chunk(total=5, index=1, count=3, data=b"def"), 0)
    assert info.value.code is CloseCode.CHUNK_SEQUENCE
    assert "longer" in info.value.reason


def test_last_chunk_leaving_the_frame_shorter_than_declared_is_chunk_sequence():
    chunks = [
        _chunk(total=10, index=0, count=2, data=b"abc"),
        _chunk(total=10, index=1, count=2, data=b"def"),
    ]
    error = _rejected(Reassembler(BIG, 64), chunks, CloseCode.CHUNK_SEQUENCE)
    assert "ended at 6 of 10" in error.reason


def test_single_chunk_shorter_than_declared_is_chunk_sequence():
    _rejected(Reassembler(BIG, 64), [_chunk(total=10, data=b"abc")], CloseCode.CHUNK_SEQUENCE)


@pytest.mark.parametrize(
    "field", ["capture_us", "send_us", "total_len", "count"], ids=lambda f: f"differs-{f}"
)
def test_chunk_whose_header_disagrees_with_chunk_0_is_chunk_sequence(field):
    first = FrameChunk(1, 100, 200, 20, 0, 3, b"a" * 7)
    second = {
        "capture_us": FrameChunk(1, 101, 200, 20, 1, 3, b"b" * 7),
        "send_us": FrameChunk(1, 100, 199, 20, 1, 3, b"b" * 7),
        "total_len": FrameChunk(1, 100, 200, 21, 1, 3, b"b" * 7),
        "count": FrameChunk(1, 100, 200, 20, 1, 4, b"b" * 7),
    }[field]
    error = _rejected(Reassembler(BIG, 64), [first, second], CloseCode.CHUNK_SEQUENCE)
    assert "disagrees" in error.reason


@pytest.mark.parametrize("next_seq", [4, 5], ids=["backwards", "repeated"])
def test_seq_going_backwards_or_repeating_is_chunk_sequence(next_seq):
    reassembler = Reassembler(BIG, 64)
    assert len(_feed(reassembler, _chunks(b"first", seq=5))) == 1
    error = _rejected(reassembler, _chunks(b"second", seq=next_seq), CloseCode.CHUNK_SEQUENCE)
    assert "does not follow frame 5" in error.reason


def test_seq_may_skip_ahead():
    reassembler = Reassembler(BIG, 64)
    _feed(reassembler, _chunks(b"a", seq=0))
    assert len(_feed(reassembler, _chunks(b"b", seq=2**32 - 1))) == 1


# ---------------------------------------------------------------- abort


def test_abort_discards_a_partial_frame_and_reports_it():
    chunks = _chunks(bytes(30), seq=3, chunk_data=10)
    reassembler = Reassembler(BIG, 64)
    reassembler.add(chunks[0], 0)
    assert reassembler.abort() is True
    assert not reassembler.in_progress
    assert reassembler.abort() is False


def test_abort_with_nothing_in_progress_returns_false():
    assert Reassembler(BIG, 64).abort() is False


def test_after_abort_the_next_frame_must_start_at_chunk_0():
    chunks = _chunks(bytes(30), seq=3, chunk_data=10)
    reassembler = Reassembler(BIG, 64)
    reassembler.add(chunks[0], 0)
    reassembler.abort()
    _rejected(reassembler, chunks[1:], CloseCode.CHUNK_SEQUENCE)


def test_after_abort_a_complete_later_frame_is_delivered_with_its_own_first_rx():
    reassembler = Reassembler(BIG, 64)
    reassembler.add(_chunks(bytes(30), seq=3, chunk_data=10)[0], 111)
    reassembler.abort()
    jpeg = bytes(range(25))
    later = _chunks(jpeg, seq=4, chunk_data=10)
    frame = None
    for i, chunk in enumerate(later):
        frame = reassembler.add(chunk, 500 + i)
    assert frame is not None
    assert (frame.seq, frame.data, frame.first_rx_us) == (4, jpeg, 500)


def test_abort_keeps_the_last_completed_seq():
    reassembler = Reassembler(BIG, 64)
    _feed(reassembler, _chunks(b"done", seq=9))
    reassembler.add(_chunks(bytes(20), seq=10, chunk_data=10)[0], 0)
    reassembler.abort()
    _rejected(reassembler, _chunks(b"old", seq=9), CloseCode.CHUNK_SEQUENCE)


# ---------------------------------------------------------------- properties


@st.composite
def frames_and_chunk_sizes(draw):
    size = draw(st.one_of(st.integers(1, 2000), st.integers(1, 300 * 1024)))
    # Keep the chunk count small enough for a fast test (and within the u16 count field).
    smallest = max(1, -(-size // 400))
    chunk_data = draw(
        st.one_of(
            st.integers(smallest, MAX_CHUNK_DATA),
            st.sampled_from([max(smallest, 1), MAX_CHUNK_DATA]),
        )
    )
    seed = draw(st.integers(0, 2**32 - 1))
    return random.Random(seed).randbytes(size), chunk_data


@settings(max_examples=60, deadline=None)
@given(frames_and_chunk_sizes(), st.integers(0, 2**32 - 1))
def test_any_frame_with_any_chunk_size_reassembles_bit_exact(frame_and_size, seq):
    jpeg, chunk_data = frame_and_size
    chunks = _chunks(jpeg, seq=seq, chunk_data=chunk_data, capture=7, send=9)
    assert len(chunks) == chunk_count(len(jpeg), chunk_data)
    assert all(len(c.data) <= chunk_data for c in chunks)
    frames = _feed(Reassembler(len(jpeg), len(chunks)), chunks, now_us=1000)
    assert len(frames) == 1
    assert frames[0].data == jpeg
    assert (frames[0].seq, frames[0].capture_us, frames[0].send_us) == (seq, 7, 9)
    assert frames[0].first_rx_us == 1000


@st.composite
def broken_orders(draw):
    count = draw(st.integers(2, 8))
    order = draw(st.lists(st.integers(0, count - 1), unique=True, min_size=1, max_size=count))
    if order == list(range(count)):
        order = draw(st.permutations(range(count)).filter(lambda p: p != list(range(count))))
    return count, order


@settings(max_examples=200, deadline=None)
@given(broken_orders())
def test_reordered_or_dropped_chunks_raise_and_never_yield_the_frame(count_and_order):
    count, order = count_and_order
    jpeg = bytes(range(count * 4))
    chunks = _chunks(jpeg, seq=1, chunk_data=4)
    assert len(chunks) == count
    follow_up = _chunks(b"next frame", seq=2)
    reassembler = Reassembler(BIG, 64)
    delivered = []
    with pytest.raises(ProtocolError) as info:
        for chunk in [chunks[i] for i in order] + follow_up:
            frame = reassembler.add(chunk, 0)
            if frame is not None:
                delivered.append(frame)
    assert info.value.code is CloseCode.CHUNK_SEQUENCE
    assert delivered == []


def test_a_frame_needing_more_than_65535_chunks_cannot_be_encoded():
    with pytest.raises(struct.error):
        list(chunk_records(bytes(65536), 1, 0, 0, 1))
