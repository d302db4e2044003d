"""The Improv codec, sans I/O: encoders, the noise-tolerant reader, results, the doc's hex."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.devices.registry import DeviceKey
from app.errors import SecureCamError
from app.protocol.framesize import FrameSize
from app.serial.camera_settings import CameraSettings
from app.serial.improv_codec import (
    EXTENSION_PREFIX,
    BadChecksum,
    CameraConfig,
    Command,
    ConfigTag,
    ConfigUpdate,
    ErrorCode,
    ExtensionError,
    ImprovError,
    ImprovErrorState,
    ImprovProtocolError,
    ImprovTimeout,
    Packet,
    PacketReader,
    PacketType,
    State,
    checksum,
    decode_strings,
    encode_config,
    encode_extension,
    encode_packet,
    encode_rpc,
    encode_strings,
    encode_wifi_settings,
    parse_config,
    parse_result,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "PROVISIONING.md"
KEY = DeviceKey(bytes(range(32)))
CAMERA = CameraSettings(FrameSize.SVGA, jpeg_quality=10, fps_cap=15)


def update(**fields: object) -> ConfigUpdate:
    """A ConfigUpdate from flat fields; camera settings (defaults for the rest) go in `camera`."""
    names = set(CameraSettings.__dataclass_fields__)
    camera = {name: value for name, value in fields.items() if name in names}
    rest = {name: value for name, value in fields.items() if name not in names}
    return ConfigUpdate(**rest, camera=CameraSettings(**camera) if camera else None)


# -- encoders ----------------------------------------------------------------------------


def test_spec_example_wifi_settings():
    # improv-wifi.com/serial: "01 1E 0C {MyWirelessAP} 10 {mysecurepassword}".
    packet = encode_wifi_settings("MyWirelessAP", "mysecurepassword")
    assert packet == bytes.fromhex(
        "494d50524f5601032001 1e0c 4d79576972656c6573734150 10 6d7973656375726570617373776f7264 c1"
        " 0a"
    )
    assert packet[9:12] == b"\x01\x1e\x0c"


def test_packet_checksum_covers_header():
    assert encode_packet(PacketType.CURRENT_STATE, b"\x02", newline=False) == bytes.fromhex(
        "494d50524f5601010102e2"
    )
    assert checksum(b"IMPROV\x01\x01\x01\x02") == 0xE2
    assert encode_rpc(Command.GET_STATE) == bytes.fromhex("494d50524f560103020200e50a")
    with pytest.raises(ValueError):
        encode_packet(PacketType.RPC_RESULT, bytes(256))
    with pytest.raises(ValueError):
        encode_rpc(Command.SC_SET_CONFIG, bytes(254))
    assert len(encode_rpc(Command.SC_SET_CONFIG, bytes(253), newline=False)) == 265


def test_strings_round_trip():
    data = encode_strings(["a", b"", "é" * 3])
    assert data == b"\x01a\x00\x06" + "ééé".encode()
    assert decode_strings(data) == [b"a", b"", "ééé".encode()]
    assert decode_strings(b"") == []
    with pytest.raises(ImprovProtocolError):
        decode_strings(b"\x03ab")
    with pytest.raises(ValueError):
        encode_strings([b"x" * 256])


def test_wifi_settings_limits():
    assert encode_wifi_settings("x" * 32, "p" * 64)
    assert encode_wifi_settings("open", "")
    for ssid, password in [("", "p"), ("x" * 33, "p"), ("x", "p" * 65)]:
        with pytest.raises(ValueError):
            encode_wifi_settings(ssid, password)


def test_config_fields():
    body = encode_config(
        ConfigUpdate(
            server_host="192.168.1.50",
            server_port=8888,
            device_name="cam-lab1",
            key=KEY,
            camera=CAMERA,
        )
    )
    assert body == (
        b"\x01\x0c192.168.1.50"
        + b"\x02\x02\x22\xb8"
        + b"\x03\x08cam-lab1"
        + b"\x04\x20"
        + bytes(range(32))
        + b"\x05\x01\x06\x06\x01\x0a\x07\x01\x0f"
    )
    assert encode_config(update(key=bytes(range(32)))) == encode_config(update(key=KEY))
    assert encode_config(update(fps_cap=255)).endswith(bytes([ConfigTag.FPS_CAP, 1, 255]))
    assert encode_config(update(server_host="h" * 63))
    # Camera settings go together, the defaults where not given.
    assert encode_config(update(jpeg_quality=4)) == bytes([5, 1, 5, 6, 1, 4, 7, 1, 25])
    assert "key" not in repr(update(key=KEY)) and KEY.raw.hex() not in repr(update(key=KEY))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"server_host": ""},
        {"server_host": "h" * 64},
        {"server_host": "-host"},
        {"server_host": "ws://host"},
        {"server_host": "fe80::1"},
        {"server_host": "hôst"},
        {"server_port": 0},
        {"server_port": 65536},
        {"device_name": "-cam"},
        {"device_name": "c" * 33},
        {"key": bytes(31)},
        {"frame_size": 0},
        {"frame_size": 11},
        {"jpeg_quality": 3},
        {"jpeg_quality": 64},
        {"fps_cap": 0},
        {"fps_cap": 256},
    ],
)
def test_config_fields_validation(fields):
    with pytest.raises(ValueError):
        encode_config(update(**fields))


def test_errors_are_one_family_under_the_app_root():
    for error in (
        ImprovErrorState(ErrorCode.UNKNOWN_RPC),
        ExtensionError("invalid_value", "server_port: 1-65535"),
        ImprovProtocolError("garbage"),
        ImprovTimeout("no answer"),
    ):
        assert isinstance(error, ImprovError) and isinstance(error, SecureCamError)
    assert isinstance(ImprovTimeout("no answer"), TimeoutError)
    assert ImprovErrorState(ErrorCode.UNKNOWN_RPC).code == ErrorCode.UNKNOWN_RPC


def test_extension_prefix():
    assert encode_extension(Command.SC_GET_CONFIG) == encode_rpc(0xE0, b"SC\x01")
    assert EXTENSION_PREFIX == b"SC\x01"
    with pytest.raises(ValueError):
        encode_extension(Command.GET_STATE)


# -- the reader --------------------------------------------------------------------------

BOOT_LOG = (
    b"\x00\xff\x13\x8e\xe0IM\r\nets Jun  8 2016 00:22:57\r\n\r\n"
    b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
    b"I (318) securecam: IMPROV serial console on UART0, 115200 8N1\r\n"
)


def test_reader_skips_boot_log_and_keeps_its_lines():
    state = encode_packet(PacketType.CURRENT_STATE, b"\x02")
    reader = PacketReader()
    assert (
        reader.feed(BOOT_LOG + state + b"IMPROVED\r\n" + state)
        == [Packet(PacketType.CURRENT_STATE, b"\x02")] * 2
    )
    assert "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)" in reader.lines
    assert "I (318) securecam: IMPROV serial console on UART0, 115200 8N1" in reader.lines
    assert "IMPROVED" in reader.lines
    assert not reader.pending


def test_reader_byte_by_byte():
    packet = encode_rpc(Command.SCAN, b"xyz")
    reader = PacketReader()
    events = [e for byte in b"IMP" + packet for e in reader.feed(bytes([byte]))]
    assert events == [Packet(PacketType.RPC_COMMAND, b"\x04\x03xyz")]


def test_reader_resyncs_after_bad_checksum():
    good = encode_rpc(Command.GET_STATE)
    bad = bytearray(good)
    bad[-2] ^= 1
    # A bogus header claiming 40 bytes swallows a real packet; the rescan finds it.
    bogus = b"IMPROV\x01\x03\x28"
    events = PacketReader().feed(bytes(bad) + bogus + good + b"x" * 40)
    assert [type(e) for e in events] == [BadChecksum, BadChecksum, Packet]
    assert events[0] == BadChecksum(bytes(bad[:-1]))
    assert events[2] == Packet(PacketType.RPC_COMMAND, b"\x02\x00")


def test_reader_abandon_partial():
    packet = encode_rpc(Command.GET_INFO)
    reader = PacketReader()
    assert reader.feed(packet[:10]) == []
    assert reader.pending
    assert reader.abandon() == []
    assert not reader.pending
    assert reader.feed(packet) == [Packet(PacketType.RPC_COMMAND, b"\x03\x00")]
    assert reader.abandon() == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.binary(max_size=40) | st.text("IMPROV\x01\r\n x", max_size=40).map(str.encode),
            st.integers(0, 255),
            st.binary(max_size=253),
        ),
        max_size=8,
    ),
    st.integers(1, 300),
)
def test_reader_property(items, step):
    """Any noise (not itself a header) between packets, any split: every packet, in order."""
    stream = b""
    expected = []
    for noise, command, payload in items:
        assume(b"IMPROV\x01" not in noise)
        stream += noise + encode_rpc(command, payload, newline=False)
        expected.append(Packet(PacketType.RPC_COMMAND, bytes([command, len(payload)]) + payload))
    reader = PacketReader()
    got = []
    for i in range(0, len(stream), step):
        got += reader.feed(stream[i : i + step])
    assert got == expected


# -- results -----------------------------------------------------------------------------


def result(command: int, *strings: bytes | str) -> bytes:
    return encode_packet(PacketType.RPC_RESULT, bytes([command]) + _with_len(strings))


def _with_len(strings: tuple[bytes | str, ...]) -> bytes:
    body = encode_strings(strings)
    return bytes([len(body)]) + body


def state(value: State) -> bytes:
    return encode_packet(PacketType.CURRENT_STATE, bytes([value]))


def error(code: ErrorCode) -> bytes:
    return encode_packet(PacketType.ERROR_STATE, bytes([code]))


CONFIG_STRINGS = [
    b"ssid=HomeNet",
    b"pass=set",
    b"host=192.168.1.50",
    b"port=8888",
    b"name=cam-lab1",
    b"key_fp=e4a5-37e2-d346-a02b",
    b"frame_size=6",
    b"quality=10",
    b"fps_cap=15",
]


def test_parse_result_and_config():
    packet = PacketReader().feed(result(0xE0, "OK", *CONFIG_STRINGS))[0]
    command, strings = parse_result(packet)
    assert command == 0xE0 and strings[0] == b"OK"
    config = parse_config(strings[1:])
    assert config == CameraConfig(
        "HomeNet", True, "192.168.1.50", 8888, "cam-lab1", KEY.fingerprint, CAMERA
    )
    assert config.server_url == "ws://192.168.1.50:8888/camera"
    unset = parse_config(
        [
            *(b"ssid=", b"pass=unset", b"host=", b"port=8888", b"name=", b"key_fp="),
            *(b"frame_size=99", b"quality=12", b"fps_cap=25"),
        ]
    )
    assert unset.key_fingerprint is None and unset.server_url is None
    assert unset.camera.frame_size == 99  # an unknown code is kept as a number
    with pytest.raises(ImprovProtocolError):
        parse_config([b"ssid=x"])
    with pytest.raises(ImprovProtocolError):
        parse_config([b"no equals sign"])
    with pytest.raises(ImprovProtocolError):
        parse_result(Packet(PacketType.RPC_RESULT, b"\x01\x05\x00"))
    with pytest.raises(ImprovProtocolError):
        parse_result(Packet(PacketType.CURRENT_STATE, b"\x02"))


# -- docs/PROVISIONING.md ----------------------------------------------------------------

FENCE = re.compile(r"^```text\n(.*?)^```", re.DOTALL | re.MULTILINE)


def doc_transcript() -> list[tuple[str, bytes]]:
    """The example session: ("> " or "< ", packet) for every hex line in the text fences."""
    lines = []
    for block in FENCE.findall(DOC.read_text()):
        for line in block.splitlines():
            if line[:2] in ("> ", "< "):
                lines.append((line[0], bytes.fromhex(line[2:].replace(" ", ""))))
    return lines


# The client side of the documented session, in order (tests/firmware runs it through the
# console and checks the device side).
DOC_COMMANDS: list[Callable[[], bytes]] = [
    lambda: encode_rpc(Command.GET_STATE),
    lambda: encode_rpc(Command.GET_INFO),
    lambda: encode_rpc(Command.SCAN),
    lambda: encode_extension(
        Command.SC_SET_CONFIG,
        encode_config(
            ConfigUpdate(
                server_host="192.168.1.50",
                server_port=8888,
                device_name="cam-lab1",
                key=KEY,
                camera=CAMERA,
            )
        ),
    ),
    lambda: encode_wifi_settings("HomeNet", "correct horse battery"),
    lambda: encode_extension(Command.SC_GET_CONFIG),
    lambda: encode_wifi_settings("HomeNet", "wrong"),
    lambda: encode_extension(Command.SC_SET_CONFIG, bytes([ConfigTag.SERVER_PORT, 2, 0, 0])),
    lambda: encode_extension(Command.SC_REBOOT),
]


def test_doc_transcript_is_well_formed():
    transcript = doc_transcript()
    assert transcript, "docs/PROVISIONING.md has no example session"
    for direction, raw in transcript:
        events = PacketReader().feed(raw)
        assert events == [Packet(raw[7], raw[9:-1])], raw.hex()
        kind = raw[7]
        assert (kind == PacketType.RPC_COMMAND) == (direction == ">")
        if kind in (PacketType.RPC_COMMAND, PacketType.RPC_RESULT):
            assert raw[10] == raw[8] - 2  # the inner length
    sent = [raw for direction, raw in transcript if direction == ">"]
    assert sent == [make()[:-1] for make in DOC_COMMANDS]  # the doc omits the newline


def test_doc_key_fingerprint_example():
    text = DOC.read_text()
    assert "e4a5-37e2-d346-a02b" in text
    assert KEY.fingerprint == "e4a5-37e2-d346-a02b"


def test_doc_transcript_never_shows_the_key_from_the_device():
    received = b"".join(raw for direction, raw in doc_transcript() if direction == "<")
    assert KEY.raw not in received
    assert KEY.to_text().encode() not in received


def test_deque_bound():
    reader = PacketReader(keep_lines=2)
    reader.feed(b"a\nb\nc\n")
    assert reader.lines == deque(["b", "c"])
