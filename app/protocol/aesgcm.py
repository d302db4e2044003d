"""AES-256-GCM for one key, with what depends only on the key computed once.

pycryptodome's public `AES.new(key, MODE_GCM, nonce=...)` builds, for every message, an ECB
cipher for the hash subkey H, GHASH's multiplication table for H, and two CTR ciphers: about
half of a 40 KB message's decrypt. A Noise CipherState keeps one key for a whole session, so
`AesGcm` keeps GHASH's table for H, and per message builds only one CTR cipher, from J0:

- its first block is E_K(J0), the tag's mask: tag = E_K(J0) XOR GHASH_H(A || pad || C || pad ||
  len(A) || len(C)), J0 = nonce || 1;
- the rest, from J0 + 1, carries the data (NIST SP 800-38D, algorithms 4 and 5).

GHASH with a kept table needs pycryptodome's internal `_GHASH` (Crypto.Cipher._mode_gcm). The
pin in pyproject.toml keeps it to the versions tested, tests/protocol/test_aesgcm.py tests the
internal directly, and an import-time self-check against the public path falls back to
`AES.new(MODE_GCM)` per message whenever the internal is missing or disagrees.

`decrypt_view` has the cipher write the plaintext into a buffer of its own (`output=`) and
returns a read-only view of it: no copy is made, here or in pycryptodome, which returns outputs
under 64 KB through a zeroed buffer and a copy. A receiver keeps a frame as a slice of it.
"""

from __future__ import annotations

import hmac
from typing import Any

from Crypto.Cipher import AES

TAG_LEN = 16
NONCE_LEN = 12
_BLOCK = 16
_ZEROS = bytes(_BLOCK)

try:
    from Crypto.Cipher._mode_gcm import _GHASH, _ghash_clmul, _ghash_portable
    from Crypto.Util._raw_api import create_string_buffer

    _GHASH_BACKEND: Any = _ghash_clmul or _ghash_portable
except ImportError:  # another pycryptodome layout: the public path only
    _GHASH_BACKEND = None


class TagMismatch(ValueError):
    """The ciphertext, its associated data or its tag was altered (or the key is wrong)."""


class AesGcm:
    """AES-GCM with a 12-byte nonce and a 16-byte tag, for one key."""

    __slots__ = ("_ghash", "_key")

    def __init__(self, key: bytes, *, cached: bool | None = None) -> None:
        """`cached` None: the kept-key path when this pycryptodome supports it; False: the
        public path per message (the reference the tests compare against)."""
        self._key = bytes(key)
        self._ghash: Any = None
        if FAST_PATH if cached is None else cached:
            self._ghash = _new_ghash(AES.new(self._key, AES.MODE_ECB).encrypt(_ZEROS))

    @property
    def cached(self) -> bool:
        return self._ghash is not None

    def encrypt(self, nonce: bytes, ad: bytes, plaintext: bytes | bytearray | memoryview) -> bytes:
        """ciphertext || tag."""
        size = len(plaintext)
        out = bytearray(size + TAG_LEN)
        view = memoryview(out)
        if self._ghash is None:
            cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_LEN)
            cipher.update(ad)
            cipher.encrypt(plaintext, output=view[:size])
            view[size:] = cipher.digest()
        else:
            ctr = self._ctr(nonce)
            mask = ctr.encrypt(_ZEROS)
            ctr.encrypt(plaintext, output=view[:size])
            view[size:] = self._tag(mask, ad, view[:size])
        return bytes(out)

    def decrypt(self, nonce: bytes, ad: bytes, sealed: bytes | memoryview) -> bytes:
        """The plaintext of ciphertext || tag; TagMismatch if anything was altered. The tag is
        checked before anything is decrypted."""
        return bytes(self.decrypt_view(nonce, ad, sealed))

    def decrypt_view(self, nonce: bytes, ad: bytes, sealed: bytes | memoryview) -> memoryview:
        """`decrypt`'s plaintext as a read-only view of the new buffer the cipher wrote it into:
        nothing else holds that buffer, so the view's bytes never change."""
        if len(sealed) < TAG_LEN:
            raise TagMismatch("shorter than the tag")
        view = memoryview(sealed)
        ciphertext, tag = view[:-TAG_LEN], view[-TAG_LEN:]
        plaintext = bytearray(len(ciphertext))
        if self._ghash is None:
            cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_LEN)
            cipher.update(ad)
            cipher.decrypt(ciphertext, output=plaintext)
            try:
                cipher.verify(tag)
            except ValueError:
                raise TagMismatch("tag mismatch") from None
        else:
            ctr = self._ctr(nonce)
            if not hmac.compare_digest(self._tag(ctr.encrypt(_ZEROS), ad, ciphertext), tag):
                raise TagMismatch("tag mismatch")
            ctr.encrypt(ciphertext, output=plaintext)  # CTR: decrypting is encrypting
        return memoryview(plaintext).toreadonly()

    def _ctr(self, nonce: bytes) -> Any:
        """AES-CTR from J0 = nonce || 1: one block for the tag's mask, then the data."""
        return AES.new(self._key, AES.MODE_CTR, nonce=nonce, initial_value=1)

    def _tag(self, mask: bytes, ad: bytes, ciphertext: bytes | memoryview) -> bytes:
        ghash = self._ghash
        _ghash_reset(ghash)
        if ad:
            _ghash_padded(ghash, ad)
        lengths = (8 * len(ad)).to_bytes(8, "big") + (8 * len(ciphertext)).to_bytes(8, "big")
        _ghash_padded(ghash, ciphertext, lengths)
        value = int.from_bytes(ghash.digest(), "big") ^ int.from_bytes(mask, "big")
        return value.to_bytes(_BLOCK, "big")


def _new_ghash(subkey: bytes) -> Any:
    """GHASH for the hash subkey H, its multiplication table computed once."""
    ghash: Any = _GHASH(subkey, _GHASH_BACKEND)  # type: ignore[no-untyped-call]
    return ghash


def _ghash_reset(ghash: Any) -> None:
    """Back to GHASH's zero state, the table kept (an internal of _GHASH: its running value)."""
    ghash._last_y = create_string_buffer(_BLOCK)


def _ghash_padded(ghash: Any, data: bytes | memoryview, trailer: bytes = b"") -> None:
    """GHASH `data` zero-padded to whole blocks, then `trailer` (whole blocks), in at most two
    calls: the whole blocks of data in place, then its padded tail with the trailer."""
    whole = len(data) - len(data) % _BLOCK
    if whole:
        ghash.update(data[:whole])
    rest = len(data) - whole
    tail = bytes(data[whole:]) + _ZEROS[: _BLOCK - rest] if rest else b""
    if tail or trailer:
        ghash.update(tail + trailer)


def _self_check() -> bool:
    """True when the kept-key path agrees with the public one on a few fixed messages."""
    if _GHASH_BACKEND is None:
        return False
    try:
        key = bytes(range(32))
        fast, reference = AesGcm(key, cached=True), AesGcm(key, cached=False)
        for size in (0, 1, 16, 17, 1000):
            nonce = size.to_bytes(NONCE_LEN, "big")
            message = bytes(range(256)) * 4
            sealed = fast.encrypt(nonce, b"ad", message[:size])
            if sealed != reference.encrypt(nonce, b"ad", message[:size]):
                return False
            if fast.decrypt(nonce, b"ad", sealed) != message[:size]:
                return False
    except Exception:  # any failure of the internal means: do not use it
        return False
    return True


FAST_PATH: bool = _self_check()
