"""Noise protocol framework (revision 34) for the two patterns SecureCam uses.

Noise_NN_25519_AESGCM_SHA256 and Noise_NNpsk0_25519_AESGCM_SHA256, built on pycryptodome's
X25519, AES-256-GCM (through aesgcm.py, which keeps each key's set-up), SHA-256 and HMAC.
Sans-I/O: bytes in, bytes out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from Crypto.Hash import HMAC, SHA256
from Crypto.Protocol import DH

from app.errors import SecureCamError
from app.protocol.aesgcm import AesGcm, TagMismatch
from app.protocol.sizes import MAX_MESSAGE as MAX_MESSAGE
from app.protocol.sizes import TAGLEN as TAGLEN

DHLEN = 32
HASHLEN = 32
_MAX_NONCE = 2**64 - 1  # reserved by the spec: never used to encrypt


class NoiseError(SecureCamError):
    """A handshake or transport message could not be processed."""


class DecryptError(NoiseError):
    """Authentication failed: wrong key, tampered, replayed, reordered or truncated data."""


@dataclass(frozen=True, slots=True)
class HandshakePattern:
    name: str
    messages: tuple[tuple[str, ...], ...]

    @property
    def has_psk(self) -> bool:
        return any(token.startswith("psk") for message in self.messages for token in message)


NN = HandshakePattern("NN", (("e",), ("e", "ee")))
NNPSK0 = HandshakePattern("NNpsk0", (("psk", "e"), ("e", "ee")))


def protocol_name(pattern: HandshakePattern) -> bytes:
    return f"Noise_{pattern.name}_25519_AESGCM_SHA256".encode()


def _nonce(n: int) -> bytes:
    return b"\x00\x00\x00\x00" + n.to_bytes(8, "big")


def _hmac(key: bytes, data: bytes) -> bytes:
    return HMAC.new(key, data, digestmod=SHA256).digest()


def _hkdf(chaining_key: bytes, ikm: bytes, outputs: int) -> list[bytes]:
    temp_key = _hmac(chaining_key, ikm)
    out = [_hmac(temp_key, b"\x01")]
    for i in range(2, outputs + 1):
        out.append(_hmac(temp_key, out[-1] + bytes([i])))
    return out


class KeyPair:
    """An X25519 key pair; the private half never leaves this object in repr or logs."""

    __slots__ = ("_private", "public")

    def __init__(self, private: bytes | None = None) -> None:
        self._private = DH.import_x25519_private_key(private or os.urandom(DHLEN))
        self.public: bytes = self._private.public_key().export_key(format="raw")

    def dh(self, remote_public: bytes) -> bytes:
        try:
            remote = DH.import_x25519_public_key(remote_public)
            return DH.key_agreement(static_priv=self._private, static_pub=remote, kdf=_identity)
        except ValueError as exc:  # low-order or malformed point
            raise NoiseError("invalid remote public key") from exc

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.hex()})"


def _identity(secret: bytes) -> bytes:
    return secret


class CipherState:
    """AES-256-GCM with the implicit 64-bit Noise nonce counter (one key, kept: aesgcm.py)."""

    __slots__ = ("_aead", "n")

    def __init__(self, key: bytes | None = None) -> None:
        self._aead = AesGcm(key) if key is not None else None
        self.n = 0

    @property
    def has_key(self) -> bool:
        return self._aead is not None

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes | bytearray | memoryview) -> bytes:
        if self._aead is None:
            return bytes(plaintext)
        sealed = self._aead.encrypt(self._nonce(), ad, plaintext)
        self.n += 1
        return sealed

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes | memoryview) -> bytes:
        if self._aead is None:
            return bytes(ciphertext)
        return bytes(self.decrypt_view_with_ad(ad, ciphertext))

    def decrypt_view_with_ad(self, ad: bytes, ciphertext: bytes | memoryview) -> memoryview:
        """`decrypt_with_ad`'s plaintext as a read-only view of the buffer the cipher wrote it
        into (AesGcm.decrypt_view), not a copy: what a receiver keeps of a frame."""
        if self._aead is None:
            return memoryview(bytes(ciphertext))
        if len(ciphertext) < TAGLEN:
            raise DecryptError("message shorter than the authentication tag")
        try:
            plaintext = self._aead.decrypt_view(self._nonce(), ad, ciphertext)
        except TagMismatch:
            # Noise rev 34 §5.1: a failed decrypt leaves the nonce where it was.
            raise DecryptError("authentication tag mismatch") from None
        self.n += 1
        return plaintext

    def _nonce(self) -> bytes:
        if self.n >= _MAX_NONCE:
            raise NoiseError("nonce space exhausted; rekey by starting a new session")
        return _nonce(self.n)

    def __repr__(self) -> str:
        return f"CipherState(keyed={self.has_key}, n={self.n})"


class SymmetricState:
    __slots__ = ("cipher", "ck", "h")

    def __init__(self, name: bytes) -> None:
        self.h = name.ljust(HASHLEN, b"\x00") if len(name) <= HASHLEN else SHA256.new(name).digest()
        self.ck = self.h
        self.cipher = CipherState()

    def mix_key(self, ikm: bytes) -> None:
        self.ck, temp_k = _hkdf(self.ck, ikm, 2)
        self.cipher = CipherState(temp_k)

    def mix_hash(self, data: bytes) -> None:
        self.h = SHA256.new(self.h + data).digest()

    def mix_key_and_hash(self, ikm: bytes) -> None:
        self.ck, temp_h, temp_k = _hkdf(self.ck, ikm, 3)
        self.mix_hash(temp_h)
        self.cipher = CipherState(temp_k)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        k1, k2 = _hkdf(self.ck, b"", 2)
        return CipherState(k1), CipherState(k2)


class HandshakeState:
    """One side of a handshake; after the last message, `split()` gives the transport ciphers."""

    def __init__(
        self,
        pattern: HandshakePattern,
        *,
        initiator: bool,
        prologue: bytes = b"",
        psk: bytes | None = None,
        ephemeral: bytes | None = None,
    ) -> None:
        if pattern.has_psk and (psk is None or len(psk) != 32):
            raise ValueError("this pattern needs a 32-byte pre-shared key")
        self.pattern = pattern
        self.initiator = initiator
        self._psk = psk
        self._fixed_ephemeral = ephemeral  # only for published test vectors
        self._e: KeyPair | None = None
        self._re: bytes | None = None
        self._symmetric = SymmetricState(protocol_name(pattern))
        self._symmetric.mix_hash(prologue)
        self._index = 0

    @property
    def complete(self) -> bool:
        return self._index >= len(self.pattern.messages)

    @property
    def handshake_hash(self) -> bytes:
        return self._symmetric.h

    @property
    def is_my_turn(self) -> bool:
        return not self.complete and (self._index % 2 == 0) == self.initiator

    def write_message(self, payload: bytes = b"") -> bytes:
        if not self.is_my_turn:
            raise NoiseError("not this side's turn to write a handshake message")
        out = bytearray()
        for token in self.pattern.messages[self._index]:
            if token == "e":
                self._e = KeyPair(self._fixed_ephemeral)
                out += self._e.public
                self._mix_ephemeral(self._e.public)
            else:
                self._mix_token(token)
        out += self._symmetric.encrypt_and_hash(payload)
        if len(out) > MAX_MESSAGE:
            raise NoiseError("handshake message exceeds 65535 bytes")
        self._index += 1
        return bytes(out)

    def read_message(self, message: bytes) -> bytes:
        if self.complete or self.is_my_turn:
            raise NoiseError("not expecting a handshake message")
        if len(message) > MAX_MESSAGE:
            raise NoiseError("handshake message exceeds 65535 bytes")
        offset = 0
        for token in self.pattern.messages[self._index]:
            if token == "e":
                if len(message) < offset + DHLEN:
                    raise NoiseError("handshake message too short")
                self._re = bytes(message[offset : offset + DHLEN])
                offset += DHLEN
                self._mix_ephemeral(self._re)
            else:
                self._mix_token(token)
        payload = self._symmetric.decrypt_and_hash(bytes(message[offset:]))
        self._index += 1
        return payload

    def split(self) -> tuple[CipherState, CipherState]:
        """Return (send, receive) cipher states for this side."""
        if not self.complete:
            raise NoiseError("handshake not complete")
        c1, c2 = self._symmetric.split()
        return (c1, c2) if self.initiator else (c2, c1)

    def _mix_ephemeral(self, public: bytes) -> None:
        self._symmetric.mix_hash(public)
        if self.pattern.has_psk:
            self._symmetric.mix_key(public)

    def _mix_token(self, token: str) -> None:
        if token == "ee":
            assert self._e is not None and self._re is not None
            self._symmetric.mix_key(self._e.dh(self._re))
        elif token.startswith("psk"):
            assert self._psk is not None
            self._symmetric.mix_key_and_hash(self._psk)
        else:  # pragma: no cover - only NN and NNpsk0 are defined here
            raise NoiseError(f"unsupported token {token!r}")
