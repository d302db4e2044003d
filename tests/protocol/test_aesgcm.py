"""AES-GCM with the key's set-up kept (app/protocol/aesgcm.py): the same bytes as pycryptodome's
public GCM and as OpenSSL, the published test vectors, tampering refused before decrypting,
the pycryptodome internal it relies on tested directly, the public path as the fallback, and
the plaintext left in the buffer the cipher wrote it into, never copied."""

from __future__ import annotations

import tracemalloc

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from app.protocol import aesgcm
from app.protocol.aesgcm import TAG_LEN, AesGcm, TagMismatch

# NIST GCM specification (McGrew & Viega), test cases 14 and 16: AES-256.
ZERO_KEY = bytes(32)
CASE_14 = (
    ZERO_KEY,
    bytes(12),
    b"",
    bytes(16),
    "cea7403d4d606b6e074ec5d3baf39d18",
    "d0d1c8a799996bf0265b98b5d48ab919",
)
CASE_16_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
CASE_16_NONCE = bytes.fromhex("cafebabefacedbaddecaf888")
CASE_16_AD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
CASE_16_PLAIN = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
CASE_16_CIPHER = bytes.fromhex(
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
)
CASE_16_TAG = bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b")

messages = st.binary(max_size=3000) | st.sampled_from([b"", bytes(15), bytes(16), bytes(17)])


def test_the_kept_key_path_is_what_this_pycryptodome_gets():
    assert aesgcm.FAST_PATH, "the pinned pycryptodome should offer the kept-key path"
    assert AesGcm(ZERO_KEY).cached


@pytest.mark.parametrize("cached", [True, False])
def test_published_test_vectors(cached):
    key, nonce, ad, plain, cipher, tag = CASE_14
    sealed = AesGcm(key, cached=cached).encrypt(nonce, ad, plain)
    assert sealed == bytes.fromhex(cipher) + bytes.fromhex(tag)
    gcm = AesGcm(CASE_16_KEY, cached=cached)
    sealed = gcm.encrypt(CASE_16_NONCE, CASE_16_AD, CASE_16_PLAIN)
    assert sealed == CASE_16_CIPHER + CASE_16_TAG
    assert gcm.decrypt(CASE_16_NONCE, CASE_16_AD, sealed) == CASE_16_PLAIN


@settings(max_examples=150, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    nonce=st.binary(min_size=12, max_size=12),
    ad=st.binary(max_size=40),
    plain=messages,
)
def test_same_bytes_as_pycryptodomes_public_gcm_and_openssl(key, nonce, ad, plain):
    kept, public = AesGcm(key), AesGcm(key, cached=False)
    sealed = kept.encrypt(nonce, ad, plain)
    assert sealed == public.encrypt(nonce, ad, plain) == AESGCM(key).encrypt(nonce, plain, ad)
    assert kept.decrypt(nonce, ad, sealed) == plain
    assert kept.decrypt(nonce, ad, memoryview(sealed)) == plain  # as the receiver passes it


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize("where", ["ciphertext", "tag", "ad", "nonce", "short"])
def test_any_change_is_refused(cached, where):
    gcm = AesGcm(CASE_16_KEY, cached=cached)
    nonce, ad = CASE_16_NONCE, CASE_16_AD
    sealed = bytearray(gcm.encrypt(nonce, ad, CASE_16_PLAIN))
    if where == "ciphertext":
        sealed[3] ^= 1
    elif where == "tag":
        sealed[-1] ^= 0x80
    elif where == "ad":
        ad = ad[:-1]
    elif where == "nonce":
        nonce = bytes(12)
    else:
        sealed = sealed[: TAG_LEN - 1]
    with pytest.raises(TagMismatch):
        gcm.decrypt(nonce, ad, bytes(sealed))


class Watched:
    """The CTR cipher, recording how many bytes it is asked for and where it writes them."""

    def __init__(self, ctr):
        self.ctr = ctr
        self.used: list[int] = []
        self.outputs: list[object] = []

    def encrypt(self, data, **kwargs):
        self.used.append(len(data))
        self.outputs.append(kwargs.get("output"))
        return self.ctr.encrypt(data, **kwargs)


def _watch(monkeypatch) -> list[Watched]:
    real_ctr = AesGcm._ctr
    made: list[Watched] = []

    def watched(self, nonce):
        made.append(Watched(real_ctr(self, nonce)))
        return made[-1]

    monkeypatch.setattr(AesGcm, "_ctr", watched)
    return made


@pytest.mark.parametrize("method", ["decrypt", "decrypt_view"])
def test_a_forged_message_is_refused_before_any_decryption(monkeypatch, method):
    gcm = AesGcm(CASE_16_KEY)
    sealed = bytearray(gcm.encrypt(CASE_16_NONCE, b"", b"secret" * 10))
    sealed[0] ^= 1
    ctrs = _watch(monkeypatch)
    with pytest.raises(TagMismatch):
        getattr(gcm, method)(CASE_16_NONCE, b"", bytes(sealed))
    assert ctrs[0].used == [16]  # only the mask: no byte of the forged message was decrypted


def test_the_pycryptodome_internal_it_relies_on():
    """GHASH with the table kept (Crypto.Cipher._mode_gcm._GHASH): the NIST test case 2 GHASH,
    and a reset state that hashes the same again."""
    from Crypto.Cipher import AES

    subkey = AES.new(bytes(16), AES.MODE_ECB).encrypt(bytes(16))  # test case 2: K = 0^128
    ghash = aesgcm._new_ghash(subkey)
    cipher_block = bytes.fromhex("0388dace60b6a392f328c2b971b2fe78")
    lengths = (0).to_bytes(8, "big") + (128).to_bytes(8, "big")
    expected = bytes.fromhex("f38cbb1ad69223dcc3457ae5b6b0f885")
    assert ghash.update(cipher_block).update(lengths).digest() == expected
    aesgcm._ghash_reset(ghash)
    assert ghash.update(cipher_block).update(lengths).digest() == expected


def test_without_the_internal_it_falls_back_to_the_public_path(monkeypatch):
    monkeypatch.setattr(aesgcm, "_GHASH_BACKEND", None)
    assert aesgcm._self_check() is False
    monkeypatch.setattr(aesgcm, "FAST_PATH", False)
    gcm = AesGcm(CASE_16_KEY)
    assert not gcm.cached
    sealed = gcm.encrypt(CASE_16_NONCE, CASE_16_AD, CASE_16_PLAIN)
    assert sealed == CASE_16_CIPHER + CASE_16_TAG


# ---------------------------------------------------------------- decrypt_view

VGA_FRAME = bytes(range(256)) * 154  # 39,424 bytes: a VGA frame's size, under pycryptodome's 64 KB


@pytest.mark.parametrize("cached", [True, False])
@settings(max_examples=60, deadline=None)
@given(plain=messages | st.binary(min_size=3000, max_size=70_000))
def test_decrypt_view_is_a_read_only_view_of_exactly_the_plaintext(cached, plain):
    gcm = AesGcm(CASE_16_KEY, cached=cached)
    sealed = gcm.encrypt(CASE_16_NONCE, CASE_16_AD, plain)
    view = gcm.decrypt_view(CASE_16_NONCE, CASE_16_AD, memoryview(sealed))
    assert view == plain
    assert view.readonly
    assert type(view.obj) is bytearray and len(view.obj) == len(plain)  # its own buffer


def test_the_view_is_of_the_buffer_the_cipher_wrote_into(monkeypatch):
    gcm = AesGcm(CASE_16_KEY)
    sealed = gcm.encrypt(CASE_16_NONCE, b"", VGA_FRAME)
    ctrs = _watch(monkeypatch)
    view = gcm.decrypt_view(CASE_16_NONCE, b"", sealed)
    (ctr,) = ctrs
    assert ctr.used == [16, len(VGA_FRAME)]
    assert view.obj is ctr.outputs[-1]  # written there by the cipher, never copied after
    assert view == VGA_FRAME


@pytest.mark.parametrize("cached", [True, False])
def test_a_vga_sized_decrypt_allocates_its_plaintext_once(cached):
    gcm = AesGcm(CASE_16_KEY, cached=cached)
    sealed = gcm.encrypt(CASE_16_NONCE, b"", VGA_FRAME)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        view = gcm.decrypt_view(CASE_16_NONCE, b"", sealed)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert view == VGA_FRAME
    assert len(VGA_FRAME) <= peak < 1.5 * len(VGA_FRAME)  # a copy would double it
