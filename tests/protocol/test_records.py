"""Record layouts against byte literals, malformed input, text truncation and properties."""

import struct
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.records import (
    CHUNK_HEADER_LEN,
    MAX_CHUNK_DATA,
    MAX_RECORD,
    MAX_TEXT,
    NO_FPS_CAP,
    STATUS_EXT_FRAMES_DROPPED,
    STATUS_EXT_MAX,
    STATUS_EXT_STACK_MIN_FREE,
    UNCHANGED,
    Close,
    Control,
    FrameChunk,
    Ping,
    Pong,
    RecordType,
    Status,
    encode,
    encode_chunk_header,
    parse,
)

# type 01, seq 1, capture 0x0102030405060708, send 0x1112131415161718, total 3, index 0,
# count 1, data "abc"
CHUNK_HEADER_HEX = "01" + "00000001" + "0102030405060708" + "1112131415161718" + "00000003"
CHUNK_HEX = CHUNK_HEADER_HEX + "0000" + "0001" + "616263"
CHUNK = FrameChunk(1, 0x0102030405060708, 0x1112131415161718, 3, 0, 1, b"abc")
# type 02, id 42, sender time 1,000,000
PING_HEX = "02" + "0000002a" + "00000000000f4240"
PING = Ping(42, 1_000_000)
# type 03, id 42, echoed 1,000,000, responder time 0xfffffffffffffffe
PONG_HEX = "03" + "0000002a" + "00000000000f4240" + "fffffffffffffffe"
PONG = Pong(42, 1_000_000, 2**64 - 2)
# type 04, frame size 10, quality 12, no fps cap
CONTROL_HEX = "04" + "0a" + "0c" + "ff" + "02"
CONTROL = Control(10, 12, NO_FPS_CAP, 2)
# type 05, rssi -60, frame size 6, quality 12, fps cap 25, 800x600, heap 123456,
# psram 4,000,000, uptime 3600 s, firmware "1.2.3"
STATUS_HEX = (
    "05" + "c4" + "06" + "0c" + "19" + "0320" + "0258" + "0001e240" + "003d0900" + "00000e10"
) + ("05" + "312e322e33")
STATUS = Status(-60, 6, 12, 25, 800, 600, 123456, 4_000_000, 3600, "1.2.3")
# The optional extension after the firmware text: flags, then one u32 per set flag.
EXT_HEX = "03" + "0000000c" + "000009b0"  # 12 frames dropped, 2,480 bytes of stack left
STATUS_EXT = replace(STATUS, frames_dropped=12, stack_min_free=2480)
# type 06, code 1000, reason "bye"
CLOSE_HEX = "06" + "03e8" + "03" + "627965"
CLOSE = Close(1000, "bye")

LITERALS = [
    (CHUNK, CHUNK_HEX),
    (PING, PING_HEX),
    (PONG, PONG_HEX),
    (CONTROL, CONTROL_HEX),
    (STATUS, STATUS_HEX),
    (STATUS_EXT, STATUS_HEX + EXT_HEX),
    (replace(STATUS, frames_dropped=12), STATUS_HEX + "01" + "0000000c"),
    (replace(STATUS, stack_min_free=2480), STATUS_HEX + "02" + "000009b0"),
    (CLOSE, CLOSE_HEX),
]
LITERAL_IDS = [
    "chunk",
    "ping",
    "pong",
    "control",
    "status",
    "status-ext",
    "drops",
    "stack",
    "close",
]


def _malformed(message: bytes | bytearray) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(message)
    assert info.value.code is CloseCode.MALFORMED_RECORD
    return info.value


def _truncate_utf8(text: str, limit: int = MAX_TEXT) -> str:
    """Independent oracle: the longest prefix of whole characters within `limit` bytes."""
    out, used = [], 0
    for char in text:
        size = len(char.encode("utf-8"))
        if used + size > limit:
            break
        out.append(char)
        used += size
    return "".join(out)


# ---------------------------------------------------------------- layouts


def test_record_type_codes_and_sizes_match_the_wire_format():
    assert [int(t) for t in RecordType] == [1, 2, 3, 4, 5, 6]
    assert CHUNK_HEADER_LEN == 29
    assert MAX_RECORD == 65535 - 16
    assert MAX_CHUNK_DATA == MAX_RECORD - 29
    assert MAX_TEXT == 123
    assert UNCHANGED == 0
    assert NO_FPS_CAP == 255


@pytest.mark.parametrize(("record", "hex_"), LITERALS, ids=LITERAL_IDS)
def test_encode_writes_the_exact_big_endian_layout(record, hex_):
    assert encode(record) == bytes.fromhex(hex_)


@pytest.mark.parametrize(("record", "hex_"), LITERALS, ids=LITERAL_IDS)
def test_parse_of_the_literal_gives_the_record(record, hex_):
    assert parse(bytes.fromhex(hex_)) == record


def test_frame_chunk_header_is_29_bytes_and_data_follows_unchanged():
    message = bytes.fromhex(CHUNK_HEX)
    assert len(message) == 29 + 3
    assert encode_chunk_header(1, 0x0102030405060708, 0x1112131415161718, 3, 0, 1) == (
        bytes.fromhex(CHUNK_HEADER_HEX + "00000001")
    )


def test_fixed_records_have_sizes_13_21_and_4():
    assert len(encode(PING)) == 13
    assert len(encode(PONG)) == 21
    assert len(encode(CONTROL)) == 5


def test_frame_chunk_index_and_count_are_big_endian_u16():
    record = FrameChunk(0xFFFFFFFF, 0, 2**64 - 1, 0xFFFFFFFF, 0x0102, 0xFFFF, b"\x00")
    assert encode(record) == bytes.fromhex(
        "01" + "ffffffff" + "00" * 8 + "ff" * 8 + "ffffffff" + "0102" + "ffff" + "00"
    )


def test_parsed_chunk_data_is_a_zero_copy_view_into_the_message():
    message = bytearray.fromhex(CHUNK_HEX)
    chunk = parse(message)
    assert isinstance(chunk, FrameChunk)
    assert isinstance(chunk.data, memoryview)
    message[-1] = ord("z")
    assert bytes(chunk.data) == b"abz"


def test_control_defaults_to_unchanged_for_every_setting():
    assert encode(Control()) == bytes.fromhex("0400000000")


def test_status_with_empty_firmware_has_length_zero_and_no_text():
    status = replace(STATUS, firmware="")
    assert encode(status) == bytes.fromhex(STATUS_HEX[:-12] + "00")
    assert parse(bytes.fromhex(STATUS_HEX[:-12] + "00")) == status


def test_status_firmware_is_utf8_and_its_length_counts_bytes():
    status = replace(STATUS, firmware="v€")  # 1 + 3 bytes
    assert encode(status) == bytes.fromhex(STATUS_HEX[:-12] + "04" + "76e282ac")


def test_status_without_optional_fields_reports_them_unknown_and_has_no_extension():
    assert STATUS.frames_dropped is None and STATUS.stack_min_free is None
    assert len(encode(STATUS)) == 22 + len(STATUS.firmware)


def test_status_extension_is_one_flags_byte_and_a_u32_per_reported_field():
    assert (STATUS_EXT_FRAMES_DROPPED, STATUS_EXT_STACK_MIN_FREE, STATUS_EXT_MAX) == (1, 2, 9)
    largest = replace(STATUS_EXT, firmware="x" * MAX_TEXT)
    assert len(encode(largest)) == 22 + MAX_TEXT + STATUS_EXT_MAX


def test_status_extension_keeps_zero_and_the_largest_counter_as_reported_values():
    status = replace(STATUS, frames_dropped=0, stack_min_free=2**32 - 1)
    assert encode(status) == bytes.fromhex(STATUS_HEX + "03" + "00000000" + "ffffffff")
    assert parse(encode(status)) == status


def test_status_extension_may_follow_an_empty_firmware_text():
    message = bytes.fromhex(STATUS_HEX[:-12] + "00" + "01" + "0000000c")
    assert parse(message) == replace(STATUS, firmware="", frames_dropped=12)


@pytest.mark.parametrize(
    ("ext_hex", "dropped", "stack"),
    [
        ("04" + "aabbccdd", None, None),
        ("05" + "00000007" + "aabbccdd", 7, None),
        ("87" + "00000001" + "00000002" + "00000003" + "00000004", 1, 2),
    ],
    ids=["reserved-only", "drops-and-reserved", "all-and-two-reserved"],
)
def test_status_extension_values_of_reserved_flags_are_skipped(ext_hex, dropped, stack):
    status = parse(bytes.fromhex(STATUS_HEX + ext_hex))
    assert status == replace(STATUS, frames_dropped=dropped, stack_min_free=stack)


@pytest.mark.parametrize("ext_hex", ["00", "00" + "0000000c"], ids=["alone", "with-a-value"])
def test_status_extension_whose_flags_report_nothing_is_malformed(ext_hex):
    assert "omit it" in _malformed(bytes.fromhex(STATUS_HEX + ext_hex)).reason


def test_status_extension_length_is_exact_for_every_flags_byte():
    """Accepted exactly when absent, or flags not 0 and 1 + 4 bytes per set flag (as in C)."""
    base = bytes.fromhex(STATUS_HEX)
    for flags in range(256):
        for size in range(41):
            message = base + bytes([flags]) + bytes(size - 1) if size else base
            valid = size == 0 or (flags != 0 and size == 1 + 4 * flags.bit_count())
            if valid:
                assert isinstance(parse(message), Status), (flags, size)
            else:
                _malformed(message)


def test_close_with_utf8_reason_counts_bytes_not_characters():
    assert encode(Close(4013, "ersetzt: größer")) == bytes.fromhex(
        "06" + "0fad" + "11" + "65727365747a743a20" + "6772c3b6c39f6572"
    )
    assert parse(bytes.fromhex("060fad02c3a4")) == Close(4013, "ä")


@pytest.mark.parametrize(
    "record",
    [
        Ping(2**32, 0),
        Ping(0, -1),
        Pong(0, 2**64, 0),
        Control(256, 0, 0),
        Control(0, -1, 0),
        Control(0, 0, 0, 256),
        Close(65536, ""),
        replace(STATUS, rssi_dbm=128),
        replace(STATUS, width=65536),
        replace(STATUS, frames_dropped=2**32),
        replace(STATUS, stack_min_free=-1),
        FrameChunk(2**32, 0, 0, 1, 0, 1, b"x"),
        FrameChunk(0, 0, 0, 1, 0, 65536, b"x"),
    ],
)
def test_encode_refuses_fields_out_of_range(record):
    with pytest.raises((struct.error, ValueError)):
        encode(record)


def test_encode_refuses_a_non_record():
    with pytest.raises(TypeError, match="not a record"):
        encode("ping")  # type: ignore[arg-type]


# ---------------------------------------------------------------- malformed


def test_parse_rejects_an_empty_message():
    assert "empty" in _malformed(b"").reason


@pytest.mark.parametrize("kind", [0x00, 0x07, 0x80, 0xFF])
def test_parse_rejects_an_unknown_record_type(kind):
    assert f"0x{kind:02x}" in _malformed(bytes([kind]) + bytes(12)).reason


@pytest.mark.parametrize(
    "hex_",
    [
        PING_HEX[:-2],
        PING_HEX + "00",
        PONG_HEX[:-2],
        PONG_HEX + "00",
        CONTROL_HEX[:-2],
        CONTROL_HEX + "00",
        "02",
        "03",
        "04",
    ],
    ids=["ping12", "ping14", "pong20", "pong22", "control3", "control5", "ping1", "pong1", "ctl1"],
)
def test_parse_rejects_a_fixed_record_of_the_wrong_length(hex_):
    assert "must be" in _malformed(bytes.fromhex(hex_)).reason


def test_parse_rejects_a_frame_chunk_without_data():
    message = bytes.fromhex(CHUNK_HEX[: 29 * 2])
    assert len(message) == 29
    assert "without data" in _malformed(message).reason


def test_parse_rejects_a_frame_chunk_shorter_than_its_header():
    _malformed(bytes.fromhex(CHUNK_HEX[:20]))


@pytest.mark.parametrize(
    "hex_",
    [STATUS_HEX[:2], STATUS_HEX[: 21 * 2], CLOSE_HEX[:6], "06"],
    ids=["status1", "status21", "close3", "close1"],
)
def test_parse_rejects_a_text_record_shorter_than_its_fixed_part(hex_):
    assert "too short" in _malformed(bytes.fromhex(hex_)).reason


@pytest.mark.parametrize(
    "hex_",
    [
        CLOSE_HEX[:-2],  # declares 3 bytes, carries 2
        CLOSE_HEX + "21",  # declares 3 bytes, carries 4
        "06" + "03e8" + "00" + "61",  # declares 0, carries 1
        STATUS_HEX[:-2],
        STATUS_HEX + "2e",
        STATUS_HEX + "01",
        STATUS_HEX + "01" + "000000",
        STATUS_HEX + "01" + "0000000c" + "00",
        STATUS_HEX + "03" + "0000000c",
        STATUS_HEX + "02" + "0000000c" + "000009b0",
        CLOSE_HEX + "01" + "0000000c",  # CLOSE has no extension
    ],
    ids=[
        "close-short",
        "close-long",
        "close-zero",
        "status-short",
        "status-long",
        "ext-no-value",
        "ext-value-3-bytes",
        "ext-value-5-bytes",
        "ext-two-flags-one-value",
        "ext-one-flag-two-values",
        "close-with-extension",
    ],
)
def test_parse_rejects_text_whose_length_does_not_match_the_record(hex_):
    assert "length" in _malformed(bytes.fromhex(hex_)).reason


@pytest.mark.parametrize(
    "text_hex", ["ff", "c3", "e282", "c328", "eda080"], ids=["ff", "cut2", "cut3", "bad2", "surr"]
)
def test_parse_rejects_text_that_is_not_utf8(text_hex):
    length = f"{len(text_hex) // 2:02x}"
    assert "UTF-8" in _malformed(bytes.fromhex("0603e8" + length + text_hex)).reason
    status = bytes.fromhex(STATUS_HEX[:-12] + length + text_hex)
    assert "UTF-8" in _malformed(status).reason


def test_parse_accepts_a_record_of_exactly_max_record_bytes():
    message = encode_chunk_header(1, 0, 0, MAX_CHUNK_DATA, 0, 1) + bytes(MAX_CHUNK_DATA)
    assert len(message) == MAX_RECORD
    chunk = parse(message)
    assert isinstance(chunk, FrameChunk)
    assert len(chunk.data) == MAX_CHUNK_DATA


def test_parse_rejects_a_record_over_max_record_bytes():
    message = encode_chunk_header(1, 0, 0, MAX_CHUNK_DATA + 1, 0, 1) + bytes(MAX_CHUNK_DATA + 1)
    assert len(message) == MAX_RECORD + 1
    assert "longer" in _malformed(message).reason


def test_parse_rejects_an_oversized_message_even_of_a_fixed_type():
    _malformed(bytes.fromhex(PING_HEX) + bytes(MAX_RECORD))


# ---------------------------------------------------------------- text truncation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 200, "a" * 123),
        ("a" * 123, "a" * 123),
        ("é" * 100, "é" * 61),  # 2-byte characters: 122 bytes, the 62nd would be cut
        ("€" * 50, "€" * 41),  # 3-byte characters: exactly 123 bytes
        ("a" + "€" * 50, "a" + "€" * 40),  # 121 bytes; the next would end at byte 124
        ("😀" * 40, "😀" * 30),  # 4-byte characters: 120 bytes
        ("abc" + "😀" * 40, "abc" + "😀" * 30),  # 123 bytes exactly
        ("ab" + "😀" * 40, "ab" + "😀" * 30),  # 122 bytes; a 31st would need 126
    ],
    ids=["ascii", "ascii-exact", "2byte", "3byte-exact", "3byte-cut", "4byte", "4byte-exact", "4c"],
)
def test_close_reason_is_cut_to_123_bytes_at_a_character_boundary(text, expected):
    message = encode(Close(1000, text))
    reason = message[4:]
    assert message[3] == len(reason) <= 123
    assert reason == expected.encode("utf-8")
    assert parse(message) == Close(1000, expected)


def test_status_firmware_is_cut_to_123_bytes_at_a_character_boundary():
    message = encode(replace(STATUS, firmware="ü" * 70))  # 140 bytes
    assert message[21] == 122
    assert message[22:] == ("ü" * 61).encode("utf-8")
    assert parse(message) == replace(STATUS, firmware="ü" * 61)


# ---------------------------------------------------------------- properties

u8 = st.integers(0, 2**8 - 1)
u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
utf8_text = st.text(st.characters(codec="utf-8"), max_size=80)

chunks = st.builds(
    FrameChunk,
    u32,
    u64,
    u64,
    u32,
    u16,
    u16,
    st.one_of(
        st.binary(min_size=1, max_size=300),
        st.sampled_from([b"\xff" * MAX_CHUNK_DATA, b"\x00" * (MAX_CHUNK_DATA - 1)]),
    ),
)
pings = st.builds(Ping, u32, u64)
pongs = st.builds(Pong, u32, u64, u64)
controls = st.builds(Control, u8, u8, u8, u8)
statuses = st.builds(
    Status,
    st.integers(-128, 127),
    u8,
    u8,
    u8,
    u16,
    u16,
    u32,
    u32,
    u32,
    utf8_text,
    st.none() | u32,
    st.none() | u32,
)
closes = st.builds(Close, u16, utf8_text)
records = st.one_of(chunks, pings, pongs, controls, statuses, closes)


@settings(max_examples=300, deadline=None)
@given(records)
def test_encode_then_parse_round_trips_every_record_type(record):
    message = encode(record)
    assert len(message) <= MAX_RECORD
    parsed = parse(message)
    if isinstance(record, Status):
        record = replace(record, firmware=_truncate_utf8(record.firmware))
    elif isinstance(record, Close):
        record = replace(record, reason=_truncate_utf8(record.reason))
    assert type(parsed) is type(record)
    assert parsed == record


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 65535), utf8_text)
def test_text_truncation_keeps_the_longest_whole_character_prefix(code, text):
    message = encode(Close(code, text))
    reason = message[4:]
    assert len(reason) <= MAX_TEXT
    assert reason.decode("utf-8") == _truncate_utf8(text)
    assert text.startswith(reason.decode("utf-8"))


def _parse_or_protocol_error(message: bytes) -> None:
    try:
        record = parse(message)
    except ProtocolError as exc:
        assert exc.code is CloseCode.MALFORMED_RECORD
    else:
        assert isinstance(record, FrameChunk | Ping | Pong | Control | Status | Close)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_parse_of_arbitrary_bytes_returns_a_record_or_raises_protocol_error(message):
    _parse_or_protocol_error(message)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(1, 8)), st.binary(max_size=200))
def test_parse_of_arbitrary_bytes_behind_a_valid_type_byte_never_crashes(kind, tail):
    _parse_or_protocol_error(bytes([kind]) + tail)


@st.composite
def mutated_records(draw):
    message = bytearray(encode(draw(records)))
    mutation = draw(st.sampled_from(["flip", "truncate", "append", "all"]))
    if mutation in ("flip", "all"):
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(message) - 1))
            message[i] ^= draw(st.integers(1, 255))
    if mutation in ("truncate", "all"):
        message = message[: draw(st.integers(0, len(message)))]
    if mutation in ("append", "all"):
        message += draw(st.binary(min_size=1, max_size=40))
    return bytes(message)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records())
def test_parse_of_mutated_valid_records_returns_a_record_or_raises_protocol_error(message):
    _parse_or_protocol_error(message)
