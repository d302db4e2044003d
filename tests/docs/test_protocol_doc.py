"""docs/PROTOCOL.md against the code: its test vectors, tables and numbers can never drift.

The vectors are the `label: hex` lines inside the document's ```text fences (the format the
firmware's C tests read too). They must equal what docs/protocol_example.py computes with the
real protocol code, and they are also checked against two independent implementations: the
`noiseprotocol` package and a from-scratch rendering of the document's own pseudo-code.
"""

import hashlib
import hmac
import importlib.util
import inspect
import re
import runpy
import sys
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from noise.connection import Keypair, NoiseConnection

from app.devices.registry import DeviceKey
from app.protocol import records
from app.protocol.clock import ClockSync
from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.hello import MAGIC, MAX_DEVICE_ID, VERSION, Suite
from app.protocol.limits import Limits
from app.protocol.noise import NNPSK0, protocol_name
from app.receiver import connection
from app.receiver import server as receiver_server
from app.receiver.server import CAMERA_PATH, DEFAULT_PORT
from app.sim import camera as sim_camera

CLOCK_WINDOW = inspect.signature(ClockSync).parameters["window"].default
ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "PROTOCOL.md"
FIRMWARE = ROOT / "firmware"
EXAMPLE_PATH = ROOT / "docs" / "protocol_example.py"
FENCE = re.compile(r"^```text\n(.*?)^```", re.DOTALL | re.MULTILINE)
VECTOR_LINE = re.compile(r"([a-z][a-z0-9_]*): ([0-9a-f]+)")
TRANSPORT = {
    # name: (key label, nonce counter)
    "status": ("k_camera_to_app", 0),
    "ping": ("k_app_to_camera", 0),
    "pong": ("k_camera_to_app", 1),
    "frame_chunk": ("k_camera_to_app", 2),
    "control": ("k_app_to_camera", 1),
    "close": ("k_camera_to_app", 3),
}


def _load_example():
    spec = importlib.util.spec_from_file_location("protocol_example", EXAMPLE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def example():
    return _load_example()


@pytest.fixture(scope="module")
def computed(example):
    return example.compute()


@pytest.fixture(scope="module")
def doc():
    return DOC_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def documented(doc):
    """Every `label: hex` line of the document's text fences, as bytes."""
    found: dict[str, bytes] = {}
    for fence in FENCE.findall(doc):
        for line in fence.splitlines():
            if not line.strip():
                continue
            match = VECTOR_LINE.fullmatch(line)
            assert match, f"not a `label: hexdigits` line in a text fence: {line!r}"
            label, value = match.groups()
            assert label not in found, f"label {label} appears twice"
            assert len(value) % 2 == 0, f"{label}: odd number of hex digits"
            found[label] = bytes.fromhex(value)
    return found


def _table_rows(doc: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in doc.splitlines()
        if line.lstrip().startswith("|")
    ]


# -- the vectors are the code's ---------------------------------------------------------------


def test_document_has_test_vectors(documented):
    assert len(documented) >= 30


def test_vectors_equal_a_fresh_run_of_the_example(documented, computed):
    expected = {label: value.hex() for label, value in computed.vectors.items()}
    assert {label: value.hex() for label, value in documented.items()} == expected


def test_each_group_is_pasted_as_one_fence(doc, computed):
    fences = [fence.strip() for fence in FENCE.findall(doc)]
    for values in computed.groups.values():
        block = "\n".join(f"{label}: {value.hex()}" for label, value in values.items())
        assert block in fences


def test_example_script_prints_the_documented_fences(doc, capsys):
    runpy.run_path(str(EXAMPLE_PATH), run_name="__main__")
    out = capsys.readouterr().out
    for fence in re.findall(r"```text\n.*?```", out, re.DOTALL):
        assert fence in doc


def test_decimal_facts_are_in_the_prose(doc, computed, example):
    facts = computed.facts
    assert facts["clock_offset_us"] == example.CAMERA_T_PONG - (
        (example.APP_T_HELLO + example.APP_T_PONG) // 2
    )
    for name in ("clock_offset_us", "clock_rtt_us", "frame_capture_app_us"):
        assert f"{facts[name]:,}" in doc, name
    assert f"±{facts['clock_rtt_us'] // 2:,} µs" in doc


def test_fingerprint_of_the_example_key(doc, documented):
    key = DeviceKey(documented["psk"])
    assert key.fingerprint.replace("-", "") == documented["psk_fingerprint"].hex()
    assert key.fingerprint in doc
    # the definition as the document states it
    digest = hashlib.sha256(b"securecam-fp-v1:" + documented["psk"]).digest()[:8].hex()
    assert "-".join(digest[i : i + 4] for i in range(0, 16, 4)) == key.fingerprint
    assert documented["psk"] == bytes(range(32))
    assert DeviceKey.from_text(documented["psk"].hex()).raw == documented["psk"]


# -- the vectors agree with independent implementations ---------------------------------------


def test_independent_noise_library_reproduces_the_handshake_and_records(documented, example):
    def connection(initiator: bool) -> NoiseConnection:
        conn = NoiseConnection.from_name(b"Noise_NNpsk0_25519_AESGCM_SHA256")
        conn.set_psks(documented["psk"])
        conn.set_prologue(documented["hello"])
        if initiator:
            conn.set_as_initiator()
        else:
            conn.set_as_responder()
        private = documented["e_camera_private" if initiator else "e_app_private"]
        conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, private)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "fixed ephemeral: tests only"
            conn.start_handshake()
        return conn

    camera, app = connection(True), connection(False)
    msg1 = camera.write_message()
    assert msg1 == documented["noise_msg1"]
    app.read_message(msg1)
    msg2 = app.write_message()
    assert msg2 == documented["noise_msg2"]
    camera.read_message(msg2)
    assert camera.get_handshake_hash() == documented["handshake_hash"]
    # in the order each side sealed them
    for name in ("status", "pong", "frame_chunk", "close"):
        assert camera.encrypt(documented[f"{name}_plaintext"]) == documented[f"{name}_message"]
    for name in ("ping", "control"):
        assert app.encrypt(documented[f"{name}_plaintext"]) == documented[f"{name}_message"]


def _hkdf(ck: bytes, ikm: bytes, outputs: int) -> list[bytes]:
    temp = hmac.new(ck, ikm, hashlib.sha256).digest()
    out = [hmac.new(temp, b"\x01", hashlib.sha256).digest()]
    for i in range(2, outputs + 1):
        out.append(hmac.new(temp, out[-1] + bytes([i]), hashlib.sha256).digest())
    return out


def _x25519_public(private: bytes) -> bytes:
    key = X25519PrivateKey.from_private_bytes(private).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _nonce(n: int) -> bytes:
    return b"\x00" * 4 + n.to_bytes(8, "big")


def test_pseudo_code_of_section_3_reproduces_the_handshake(documented, doc):
    v = documented
    name = b"Noise_NNpsk0_25519_AESGCM_SHA256"
    assert name.decode() in doc and len(name) == 32 and protocol_name(NNPSK0) == name

    h = ck = name
    h = hashlib.sha256(h + v["hello"]).digest()
    assert h == v["h_prologue"]
    # message 1: psk, e, empty payload
    ck, th, k = _hkdf(ck, v["psk"], 3)
    h = hashlib.sha256(h + th).digest()
    e_c = _x25519_public(v["e_camera_private"])
    assert e_c == v["e_camera_public"]
    h = hashlib.sha256(h + e_c).digest()
    ck, k = _hkdf(ck, e_c, 2)
    tag = AESGCM(k).encrypt(_nonce(0), b"", h)
    assert e_c + tag == v["noise_msg1"] and len(v["noise_msg1"]) == 48
    assert v["first_message"] == v["hello"] + v["noise_msg1"]
    h = hashlib.sha256(h + tag).digest()
    assert h == v["h_msg1"]
    # message 2: e, ee, empty payload
    e_a = _x25519_public(v["e_app_private"])
    assert e_a == v["e_app_public"]
    h = hashlib.sha256(h + e_a).digest()
    ck, k = _hkdf(ck, e_a, 2)
    ee = X25519PrivateKey.from_private_bytes(v["e_camera_private"]).exchange(
        X25519PublicKey.from_public_bytes(e_a)
    )
    assert ee == v["ee_shared_secret"]
    ck, k = _hkdf(ck, ee, 2)
    tag = AESGCM(k).encrypt(_nonce(0), b"", h)
    assert e_a + tag == v["noise_msg2"] and len(v["noise_msg2"]) == 48
    h = hashlib.sha256(h + tag).digest()
    assert h == v["handshake_hash"]
    # split: first key camera -> app
    k1, k2 = _hkdf(ck, b"", 2)
    assert (k1, k2) == (v["k_camera_to_app"], v["k_app_to_camera"])


@pytest.mark.parametrize("name", sorted(TRANSPORT))
def test_transport_message_is_aes_gcm_with_empty_ad_and_documented_nonce(documented, name):
    key_label, counter = TRANSPORT[name]
    nonce = documented[f"{name}_nonce"]
    assert nonce == _nonce(counter)
    message = documented[f"{name}_message"]
    plaintext = AESGCM(documented[key_label]).decrypt(nonce, message, b"")
    assert plaintext == documented[f"{name}_plaintext"]
    assert len(message) == len(plaintext) + 16


def test_plain_vectors_are_the_bare_records(documented):
    assert documented["plain_hello"] == MAGIC + bytes([VERSION, Suite.PLAIN, 4]) + b"cam1"
    assert documented["hello"] == MAGIC + bytes([VERSION, Suite.NOISE, 4]) + b"cam1"
    assert documented["plain_frame_chunk"] == documented["frame_chunk_plaintext"]
    assert documented["plain_ping"] == documented["ping_plaintext"]


def test_example_records_parse_back(documented):
    chunk = records.parse(documented["frame_chunk_plaintext"])
    assert isinstance(chunk, records.FrameChunk)
    assert bytes(chunk.data) == documented["jpeg"] and chunk.total_len == len(documented["jpeg"])
    assert documented["jpeg"].startswith(b"\xff\xd8") and documented["jpeg"].endswith(b"\xff\xd9")
    assert isinstance(records.parse(documented["status_plaintext"]), records.Status)
    assert isinstance(records.parse(documented["control_plaintext"]), records.Control)
    close = records.parse(documented["close_plaintext"])
    assert close == records.Close(CloseCode.NORMAL, "camera stopping")


# -- the tables cover every code the code knows -----------------------------------------------


@pytest.mark.parametrize("code", list(CloseCode), ids=lambda c: c.name)
def test_every_close_code_is_in_the_table(doc, code):
    rows = _table_rows(doc)
    assert any(row[:2] == [str(code.value), code.name] and len(row) >= 5 for row in rows)


def _record_length(kind: records.RecordType) -> str:
    samples = {
        records.RecordType.FRAME_CHUNK: None,
        records.RecordType.PING: records.Ping(0, 0),
        records.RecordType.PONG: records.Pong(0, 0, 0),
        records.RecordType.CONTROL: records.Control(),
        records.RecordType.STATUS: records.Status(0, 0, 0, 0, 0, 0, 0, 0, 0, ""),
        records.RecordType.CLOSE: records.Close(0, ""),
    }
    sample = samples[kind]
    if sample is None:
        return f"{records.CHUNK_HEADER_LEN + 1}..{records.MAX_RECORD:,}"
    size = len(records.encode(sample))
    if kind in (records.RecordType.STATUS, records.RecordType.CLOSE):
        return f"{size}..{size + records.MAX_TEXT}"
    return str(size)


@pytest.mark.parametrize("kind", list(records.RecordType), ids=lambda k: k.name)
def test_every_record_type_is_in_the_summary_table_and_has_a_section(doc, kind):
    code = f"0x{kind.value:02x}"
    rows = _table_rows(doc)
    summary = [row for row in rows if row[:2] == [kind.name, code]]
    assert summary, f"no summary row for {kind.name}"
    assert summary[0][2].startswith(_record_length(kind))
    assert re.search(rf"^### {kind.name} \({code}\)", doc, re.MULTILINE)


@pytest.mark.parametrize("size", list(FrameSize), ids=lambda s: s.name)
def test_every_frame_size_is_in_the_table(doc, size):
    rows = _table_rows(doc)
    assert [str(size.value), size.name, f"{size.width}x{size.height}"] in [r[:3] for r in rows]


def test_suites_are_in_the_table(doc):
    rows = _table_rows(doc)
    for suite in Suite:
        assert any(row[:2] == [suite.name, str(suite.value)] for row in rows)


# -- the numbers in the prose are the code's ---------------------------------------------------


def test_numbers_in_the_prose_match_the_code(doc):
    limits = Limits()
    expected = [
        f"ws://HOST:{DEFAULT_PORT}{CAMERA_PATH}",
        f"{records.MAX_RECORD:,} bytes",
        f"**{records.MAX_CHUNK_DATA:,}**",
        f"The header is {records.CHUNK_HEADER_LEN} bytes",
        f"{limits.max_frame_bytes:,} bytes (2 MiB)",
        f"at most {limits.max_chunks_per_frame} chunks",
        f"at most {limits.max_connections} simultaneous connections",
        f"Handshake timeout ({limits.handshake_timeout_s:g} s)",
        f"Idle timeout ({limits.idle_timeout_s:g} s)",
        f"one PING every {limits.ping_interval_s:g} s",
        f"at most **{records.MAX_TEXT} bytes**",
        f"`UNCHANGED = {records.UNCHANGED}`",
        f"{records.NO_FPS_CAP} = NO_FPS_CAP",
        f"id_len | length of the device id, 1..{MAX_DEVICE_ID}",
        f"keeps the last {CLOCK_WINDOW} samples",
        f"initially {sim_camera.BACKOFF_FIRST_S:g} s",
        f"up to at most {sim_camera.BACKOFF_MAX_S:g} s",
        "Noise_NNpsk0_25519_AESGCM_SHA256",
        "securecam-fp-v1:",
    ]
    for text in expected:
        assert text in doc, text


def test_identity_rejections_match_the_simulator(doc):
    codes = sorted(int(code) for code in sim_camera.REJECTIONS)
    assert "After " + ", ".join(str(c) for c in codes[:-1]) + f" or {codes[-1]}" in doc


def _flat(text: str) -> str:
    """The text with every run of whitespace as one space: prose facts survive rewrapping."""
    return " ".join(text.split())


def test_ping_burst_matches_the_receiver(doc):
    # Offsets from the moment of confirmation (each loop.time() + delay), not gaps.
    offsets = [round(delay * 1000) for delay in receiver_server._PING_BURST_S]
    flat = _flat(doc)
    listed = ", ".join(f"{ms} ms" for ms in offsets[:-1]) + f" and {offsets[-1]} ms"
    assert f"PINGs {listed} after confirmation" in flat
    short = ", ".join(str(ms) for ms in offsets[:-1]) + f" and {offsets[-1]} ms"
    assert f"PINGs {short} after confirmation" in flat  # the state diagram
    # and the one ReceiverSession queues with its handshake answer, before confirmation
    assert "PING #1 right after its answer to the hello" in flat


def test_switch_timeout_matches_the_receiver(doc):
    assert f"({Limits().switch_timeout_s:g} s after the CONTROL)" in _flat(doc)


def _c_define(path: Path, name: str) -> int:
    match = re.search(rf"^#define {name} (\d+)u?\b", path.read_text(), re.MULTILINE)
    assert match, f"{name} not found in {path}"
    return int(match.group(1))


def test_camera_timeouts_and_rejection_wait_match_the_firmware(doc):
    """The camera's side of sections 2.1 and 6.3 is the firmware's, which is normative."""
    flat = _flat(doc)
    header = FIRMWARE / "lib" / "securecam_core" / "include" / "securecam" / "sc_protocol.h"
    answer_s = _c_define(header, "SC_ANSWER_TIMEOUT_US") / 1_000_000
    idle_s = _c_define(header, "SC_IDLE_TIMEOUT_US") / 1_000_000
    assert f"within {answer_s:g} s of sending the first message the camera closes with 4006" in (
        flat
    )
    assert f"arrives for {idle_s:g} s in TRANSPORT it sends a CLOSE record" in flat
    assert f"nothing received for {idle_s:g} s → CLOSE 4011" in flat  # the state table
    backoff = FIRMWARE / "src" / "backoff.h"
    low = _c_define(backoff, "BACKOFF_REJECTED_MIN_MS") // 1000
    high = _c_define(backoff, "BACKOFF_REJECTED_MAX_MS") // 1000
    assert f"between {low} s and {high} s" in flat
    # The back-off numbers the prose takes from the simulator are the firmware's too.
    assert _c_define(backoff, "BACKOFF_STREAM_FIRST_MS") / 1000 == sim_camera.BACKOFF_FIRST_S
    assert _c_define(backoff, "BACKOFF_STREAM_MAX_MS") / 1000 == sim_camera.BACKOFF_MAX_S


def test_connection_limits_match_the_receiver(doc):
    flat = _flat(doc)
    limits = Limits()
    assert (
        f"at most {connection.MAX_HEADERS} header lines of at most "
        f"{connection.MAX_HEADER_LINE} bytes each" in flat
    )
    assert f"at most {connection.MAX_UPGRADE_BYTES // 1024} KiB in all" in flat
    assert f"Every close has its own deadline of {connection.CLOSE_DEADLINE_S:g} s" in flat
    # "within 1 s" for registry changes holds only while the receiver re-checks that often.
    assert limits.revalidate_interval_s <= 1
    assert "a change takes effect within 1 s" in flat
