"""The Noise layer against the published vectors and the independent `noiseprotocol` package."""

import json
from pathlib import Path

import pytest
from noise.connection import NoiseConnection

from app.protocol.noise import NN, NNPSK0, DecryptError, HandshakeState, NoiseError

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "noise-25519-AESGCM-SHA256.json").read_text()
)["vectors"]
PATTERNS = {"Noise_NN_25519_AESGCM_SHA256": NN, "Noise_NNpsk0_25519_AESGCM_SHA256": NNPSK0}


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["protocol_name"])
def test_published_vector_reproduces_every_message_and_handshake_hash(vector):
    pattern = PATTERNS[vector["protocol_name"]]
    psk = bytes.fromhex(vector["init_psks"][0]) if "init_psks" in vector else None
    init = HandshakeState(
        pattern,
        initiator=True,
        prologue=bytes.fromhex(vector["init_prologue"]),
        psk=psk,
        ephemeral=bytes.fromhex(vector["init_ephemeral"]),
    )
    resp = HandshakeState(
        pattern,
        initiator=False,
        prologue=bytes.fromhex(vector["resp_prologue"]),
        psk=bytes.fromhex(vector["resp_psks"][0]) if "resp_psks" in vector else None,
        ephemeral=bytes.fromhex(vector["resp_ephemeral"]),
    )
    messages = vector["messages"]
    sides = [(init, resp), (resp, init)]
    for i, message in enumerate(messages[:2]):
        writer, reader = sides[i % 2]
        payload = bytes.fromhex(message["payload"])
        ciphertext = writer.write_message(payload)
        assert ciphertext.hex() == message["ciphertext"]
        assert reader.read_message(ciphertext) == payload
    assert init.handshake_hash.hex() == vector["handshake_hash"]
    assert resp.handshake_hash.hex() == vector["handshake_hash"]
    init_send, init_recv = init.split()
    resp_send, resp_recv = resp.split()
    for i, message in enumerate(messages[2:]):
        send, recv = (init_send, resp_recv) if i % 2 == 0 else (resp_send, init_recv)
        payload = bytes.fromhex(message["payload"])
        ciphertext = send.encrypt_with_ad(b"", payload)
        assert ciphertext.hex() == message["ciphertext"]
        assert recv.decrypt_with_ad(b"", ciphertext) == payload


def _reference(name: bytes, initiator: bool, prologue: bytes, psk: bytes | None) -> NoiseConnection:
    conn = NoiseConnection.from_name(name)
    if psk is not None:
        conn.set_psks(psk)
    conn.set_prologue(prologue)
    if initiator:
        conn.set_as_initiator()
    else:
        conn.set_as_responder()
    conn.start_handshake()
    return conn


@pytest.mark.parametrize("pattern", [NN, NNPSK0], ids=lambda p: p.name)
@pytest.mark.parametrize("we_initiate", [True, False], ids=["we-initiate", "they-initiate"])
def test_interoperates_with_noiseprotocol_package_in_both_directions(pattern, we_initiate):
    psk = bytes(range(32)) if pattern.has_psk else None
    prologue = b"SCAM\x01\x01\x04cam1"
    name = f"Noise_{pattern.name}_25519_AESGCM_SHA256".encode()
    ours = HandshakeState(pattern, initiator=we_initiate, prologue=prologue, psk=psk)
    theirs = _reference(name, not we_initiate, prologue, psk)
    if we_initiate:
        assert theirs.read_message(ours.write_message(b"hello")) == b"hello"
        assert ours.read_message(theirs.write_message(b"world")) == b"world"
    else:
        assert ours.read_message(theirs.write_message(b"hello")) == b"hello"
        assert theirs.read_message(ours.write_message(b"world")) == b"world"
    assert theirs.handshake_finished and ours.complete
    assert ours.handshake_hash == theirs.get_handshake_hash()
    send, recv = ours.split()
    for size in (0, 1, 1000, 65519):
        data = bytes(i % 251 for i in range(size))
        assert theirs.decrypt(send.encrypt_with_ad(b"", data)) == data
        assert recv.decrypt_with_ad(b"", theirs.encrypt(data)) == data


def test_wrong_psk_fails_authentication_on_the_first_message():
    init = HandshakeState(NNPSK0, initiator=True, psk=b"\x01" * 32)
    resp = HandshakeState(NNPSK0, initiator=False, psk=b"\x02" * 32)
    with pytest.raises(DecryptError):
        resp.read_message(init.write_message())


def test_different_prologue_fails_authentication():
    init = HandshakeState(NNPSK0, initiator=True, prologue=b"cam1", psk=b"\x01" * 32)
    resp = HandshakeState(NNPSK0, initiator=False, prologue=b"cam2", psk=b"\x01" * 32)
    with pytest.raises(DecryptError):
        resp.read_message(init.write_message())


def _established():
    init = HandshakeState(NNPSK0, initiator=True, psk=b"\x07" * 32)
    resp = HandshakeState(NNPSK0, initiator=False, psk=b"\x07" * 32)
    resp.read_message(init.write_message())
    init.read_message(resp.write_message())
    return init.split(), resp.split()


def test_transport_rejects_a_flipped_bit():
    (send, _), (_, recv) = _established()
    message = bytearray(send.encrypt_with_ad(b"", b"frame data"))
    message[3] ^= 0x01
    with pytest.raises(DecryptError):
        recv.decrypt_with_ad(b"", bytes(message))


def test_transport_rejects_a_replayed_message():
    (send, _), (_, recv) = _established()
    first = send.encrypt_with_ad(b"", b"one")
    assert recv.decrypt_with_ad(b"", first) == b"one"
    with pytest.raises(DecryptError):
        recv.decrypt_with_ad(b"", first)


def test_transport_rejects_reordered_messages():
    (send, _), (_, recv) = _established()
    first, second = send.encrypt_with_ad(b"", b"one"), send.encrypt_with_ad(b"", b"two")
    with pytest.raises(DecryptError):
        recv.decrypt_with_ad(b"", second)
    del first


def test_a_failed_decrypt_does_not_consume_the_nonce():
    """Noise rev 34 §5.1: after a failed DecryptWithAd the next genuine message still opens."""
    (send, _), (_, recv) = _established()
    first = send.encrypt_with_ad(b"", b"one")
    forged = bytearray(first)
    forged[0] ^= 0x80
    with pytest.raises(DecryptError):
        recv.decrypt_with_ad(b"", bytes(forged))
    assert recv.n == 0
    assert recv.decrypt_with_ad(b"", first) == b"one"
    assert recv.n == 1


def test_decrypt_view_with_ad_opens_messages_in_order_as_read_only_views():
    (send, _), (_, recv) = _established()
    first, second = send.encrypt_with_ad(b"", b"one"), send.encrypt_with_ad(b"", b"two")
    views = [recv.decrypt_view_with_ad(b"", first), recv.decrypt_view_with_ad(b"", second)]
    assert views == [b"one", b"two"]
    assert all(isinstance(view, memoryview) and view.readonly for view in views)
    assert recv.n == 2


def test_a_failed_decrypt_view_does_not_consume_the_nonce():
    (send, _), (_, recv) = _established()
    first = send.encrypt_with_ad(b"", b"one")
    forged = bytearray(first)
    forged[-1] ^= 0x01
    for bad in (bytes(forged), first[:15]):
        with pytest.raises(DecryptError):
            recv.decrypt_view_with_ad(b"", bad)
    assert recv.n == 0
    assert recv.decrypt_view_with_ad(b"", first) == b"one"


def test_transport_rejects_a_message_shorter_than_the_tag():
    (_, _), (_, recv) = _established()
    with pytest.raises(DecryptError):
        recv.decrypt_with_ad(b"", b"\x00" * 15)


def test_two_sessions_with_the_same_key_have_different_transport_keys():
    (send_a, _), _ = _established()
    (send_b, _), _ = _established()
    assert send_a.encrypt_with_ad(b"", b"x") != send_b.encrypt_with_ad(b"", b"x")


def test_low_order_remote_ephemeral_is_rejected():
    init = HandshakeState(NN, initiator=True)
    resp = HandshakeState(NN, initiator=False)
    resp.read_message(init.write_message())
    message = bytearray(resp.write_message())
    message[:32] = bytes(32)  # the all-zero point gives an all-zero shared secret
    with pytest.raises(NoiseError):
        init.read_message(bytes(message))


def test_psk_pattern_requires_a_32_byte_key():
    with pytest.raises(ValueError):
        HandshakeState(NNPSK0, initiator=True, psk=b"short")


def test_writing_out_of_turn_is_refused():
    resp = HandshakeState(NN, initiator=False)
    with pytest.raises(NoiseError):
        resp.write_message()
