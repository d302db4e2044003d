"""The cleartext hello that opens every connection and becomes the Noise prologue."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from app.protocol.errors import CloseCode, ProtocolError

MAGIC = b"SCAM"
VERSION = 1
MAX_DEVICE_ID = 32
HEADER_LEN = len(MAGIC) + 3  # magic, version, suite, device id length
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


class Suite(IntEnum):
    NOISE = 1  # Noise_NNpsk0_25519_AESGCM_SHA256
    PLAIN = 2  # no encryption at all: only for measuring what encryption costs

    @property
    def label(self) -> str:
        return "encrypted" if self is Suite.NOISE else "plain (INSECURE)"


def is_valid_device_id(name: str) -> bool:
    """1-32 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit."""
    return _DEVICE_ID.fullmatch(name) is not None


def validate_device_id(name: str) -> str:
    if not is_valid_device_id(name):
        raise ValueError(
            f"invalid device name {name!r}: use 1-32 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True, slots=True)
class Hello:
    suite: Suite
    device_id: str
    version: int = VERSION

    def encode(self) -> bytes:
        device = validate_device_id(self.device_id).encode("ascii")
        return MAGIC + bytes([self.version, self.suite, len(device)]) + device


def parse_hello(message: bytes) -> tuple[Hello, bytes]:
    """Split the first message into the hello and what follows it (Noise message 1, or nothing)."""
    if len(message) < HEADER_LEN or message[:4] != MAGIC:
        raise ProtocolError(CloseCode.BAD_HELLO, "not a SecureCam hello")
    version, suite, id_len = message[4], message[5], message[6]
    if version != VERSION:
        raise ProtocolError(
            CloseCode.UNSUPPORTED_VERSION, f"protocol version {version} unsupported"
        )
    try:
        suite = Suite(suite)
    except ValueError:
        raise ProtocolError(CloseCode.BAD_HELLO, f"unknown suite {suite}") from None
    end = HEADER_LEN + id_len
    if id_len == 0 or id_len > MAX_DEVICE_ID or len(message) < end:
        raise ProtocolError(CloseCode.BAD_HELLO, "bad device id length")
    try:
        device_id = message[HEADER_LEN:end].decode("ascii")
    except UnicodeDecodeError:
        device_id = ""
    if not is_valid_device_id(device_id):
        raise ProtocolError(CloseCode.BAD_HELLO, "bad device id")
    return Hello(suite, device_id, version), message[end:]
