"""The cleartext hello, checked against byte literals written out by hand."""

import pytest

from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.hello import (
    HEADER_LEN,
    MAGIC,
    MAX_DEVICE_ID,
    VERSION,
    Hello,
    Suite,
    is_valid_device_id,
    parse_hello,
    validate_device_id,
)

# "SCAM", version 1, suite 1 (Noise), id length 4, "cam1"
NOISE_CAM1 = bytes.fromhex("5343414d" + "01" + "01" + "04" + "63616d31")
# "SCAM", version 1, suite 2 (plain), id length 3, "c-7"
PLAIN_C7 = bytes.fromhex("5343414d" + "01" + "02" + "03" + "632d37")


def _reject(message: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse_hello(message)
    return info.value


def test_constants_match_the_wire_format():
    assert bytes.fromhex("5343414d") == MAGIC
    assert VERSION == 1
    assert HEADER_LEN == 7
    assert MAX_DEVICE_ID == 32
    assert int(Suite.NOISE) == 1
    assert int(Suite.PLAIN) == 2


def test_encode_writes_magic_version_suite_id_length_and_ascii_id():
    assert Hello(Suite.NOISE, "cam1").encode() == NOISE_CAM1
    assert Hello(Suite.PLAIN, "c-7").encode() == PLAIN_C7


def test_encode_writes_an_explicit_version_byte():
    assert Hello(Suite.NOISE, "a", version=2).encode() == bytes.fromhex("5343414d02010161")


def test_encode_of_a_32_character_id_writes_length_0x20():
    device = "A" * 31 + "9"
    assert Hello(Suite.NOISE, device).encode() == bytes.fromhex("5343414d010120" + "41" * 31 + "39")


@pytest.mark.parametrize("device", ["", "-cam", "cam 1", "x" * 33, "cäm"])
def test_encode_refuses_an_invalid_device_id(device):
    with pytest.raises(ValueError, match="invalid device name"):
        Hello(Suite.NOISE, device).encode()


def test_parse_of_a_bare_hello_returns_it_and_no_trailing_bytes():
    hello, rest = parse_hello(NOISE_CAM1)
    assert hello == Hello(Suite.NOISE, "cam1", 1)
    assert rest == b""


def test_parse_of_a_plain_hello_reports_the_plain_suite():
    hello, rest = parse_hello(PLAIN_C7)
    assert (hello.suite, hello.device_id, hello.version, rest) == (Suite.PLAIN, "c-7", 1, b"")


def test_parse_splits_off_the_trailing_noise_message_unchanged():
    noise = bytes.fromhex("00112233445566778899aabbccddeeff" * 3)
    hello, rest = parse_hello(NOISE_CAM1 + noise)
    assert hello.device_id == "cam1"
    assert rest == noise


def test_parse_trailing_bytes_that_look_like_id_characters_are_not_part_of_the_id():
    hello, rest = parse_hello(NOISE_CAM1 + b"xyz")
    assert hello.device_id == "cam1"
    assert rest == b"xyz"


def test_parse_accepts_a_32_byte_id():
    message = bytes.fromhex("5343414d010120" + "61" * 32)
    hello, rest = parse_hello(message)
    assert hello.device_id == "a" * 32
    assert rest == b""


def test_hello_suite_labels_say_which_is_insecure():
    assert Suite.NOISE.label == "encrypted"
    assert "INSECURE" in Suite.PLAIN.label


@pytest.mark.parametrize(
    "message",
    [
        bytes.fromhex("5343414e01010463616d31"),  # "SCAN"
        bytes.fromhex("7363616d01010463616d31"),  # "scam": the magic is case-sensitive
        bytes.fromhex("00000000000000"),
    ],
    ids=["SCAN", "lowercase", "zeros"],
)
def test_parse_rejects_bad_magic_as_bad_hello(message):
    error = _reject(message)
    assert error.code is CloseCode.BAD_HELLO


@pytest.mark.parametrize(
    "message",
    [b"", bytes.fromhex("5343"), bytes.fromhex("5343414d"), bytes.fromhex("5343414d0101")],
    ids=["empty", "2-bytes", "magic-only", "6-bytes"],
)
def test_parse_rejects_a_message_shorter_than_the_header_as_bad_hello(message):
    error = _reject(message)
    assert error.code is CloseCode.BAD_HELLO


@pytest.mark.parametrize("version", ["00", "02", "ff"])
def test_parse_rejects_other_versions_as_unsupported_version(version):
    error = _reject(bytes.fromhex("5343414d" + version + "010463616d31"))
    assert error.code is CloseCode.UNSUPPORTED_VERSION
    assert str(int(version, 16)) in error.reason


def test_parse_checks_the_version_before_the_suite():
    error = _reject(bytes.fromhex("5343414d02ff0463616d31"))
    assert error.code is CloseCode.UNSUPPORTED_VERSION


@pytest.mark.parametrize("suite", ["00", "03", "ff"])
def test_parse_rejects_an_unknown_suite_as_bad_hello(suite):
    error = _reject(bytes.fromhex("5343414d01" + suite + "0463616d31"))
    assert error.code is CloseCode.BAD_HELLO
    assert "suite" in error.reason


def test_parse_rejects_a_zero_id_length_as_bad_hello():
    error = _reject(bytes.fromhex("5343414d010100" + "63616d31"))
    assert error.code is CloseCode.BAD_HELLO
    assert "length" in error.reason


def test_parse_rejects_an_id_length_of_33_even_when_33_bytes_follow():
    error = _reject(bytes.fromhex("5343414d010121" + "61" * 33))
    assert error.code is CloseCode.BAD_HELLO
    assert "length" in error.reason


def test_parse_rejects_an_id_length_reaching_beyond_the_message_as_bad_hello():
    error = _reject(bytes.fromhex("5343414d010105" + "63616d31"))
    assert error.code is CloseCode.BAD_HELLO
    assert "length" in error.reason


@pytest.mark.parametrize(
    "device_hex",
    ["63c3a46d", "63616dff", "80616d31"],
    ids=["utf8-umlaut", "0xff", "0x80"],
)
def test_parse_rejects_a_non_ascii_id_as_bad_hello(device_hex):
    length = f"{len(device_hex) // 2:02x}"
    error = _reject(bytes.fromhex("5343414d0101" + length + device_hex))
    assert error.code is CloseCode.BAD_HELLO
    assert error.reason == "bad device id"


@pytest.mark.parametrize(
    "device",
    [b"cam 1", b"cam/1", b"cam\x00", b"cam\n", b"-cam", b".cam", b"_cam", b"cam:1", b"cam@1"],
)
def test_parse_rejects_an_id_with_forbidden_characters_as_bad_hello(device):
    message = bytes.fromhex("5343414d0101") + bytes([len(device)]) + device
    error = _reject(message)
    assert error.code is CloseCode.BAD_HELLO
    assert error.reason == "bad device id"


def test_protocol_error_message_names_the_code_and_reason():
    error = _reject(b"")
    assert str(error) == "bad_hello: not a SecureCam hello"


@pytest.mark.parametrize(
    "device",
    ["a", "7", "cam1", "Cam_01.front-left", "A" * 32, "0.-_", "x-" * 16],
)
def test_device_id_of_1_to_32_allowed_characters_starting_alphanumeric_is_valid(device):
    assert is_valid_device_id(device)
    assert validate_device_id(device) == device


@pytest.mark.parametrize(
    "device",
    [
        "",
        "a" * 33,
        "-cam",
        ".cam",
        "_cam",
        "cam 1",
        "cam/1",
        "cam\n",
        "cam1\n",  # `$` would let a trailing newline through; fullmatch must not
        "\ncam1",
        "cäm",
        "ｃａｍ",  # full-width letters
        "cam١",  # Arabic-Indic digit one
        "cam\x00",
        "cam:1",
    ],
)
def test_device_id_outside_the_rules_is_invalid(device):
    assert not is_valid_device_id(device)
    with pytest.raises(ValueError, match="invalid device name"):
        validate_device_id(device)
