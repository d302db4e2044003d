"""Close codes and the one exception the protocol core raises for a misbehaving peer."""

from __future__ import annotations

from enum import IntEnum

from app.errors import InvalidState, SecureCamError

__all__ = ["CloseCode", "InvalidState", "ProtocolError"]


class CloseCode(IntEnum):
    """WebSocket close codes SecureCam uses; 4000-4999 are reserved for applications."""

    NORMAL = 1000
    GOING_AWAY = 1001  # receiver or camera shutting down
    PROTOCOL_ERROR = 1002  # a WebSocket framing violation (sent by the WebSocket layer)
    UNSUPPORTED_DATA = 1003  # a text message
    INVALID_PAYLOAD = 1007  # a text frame that is not UTF-8 (sent by the WebSocket layer)
    POLICY_VIOLATION = 1008  # over a per-connection cap (upgrade size, unread writes); aborted
    MESSAGE_TOO_BIG = 1009  # a WebSocket message over 65,535 bytes
    BAD_HELLO = 4001
    UNSUPPORTED_VERSION = 4002
    UNKNOWN_DEVICE = 4003  # reserved, no longer sent: an unknown device gets AUTH_FAILED
    AUTH_FAILED = 4004  # wrong key, unknown device, or a tampered handshake
    PLAIN_NOT_ALLOWED = 4005
    HANDSHAKE_TIMEOUT = 4006
    DECRYPT_FAILED = 4007  # tampered, replayed, reordered or dropped transport message
    MALFORMED_RECORD = 4008
    FRAME_TOO_LARGE = 4009  # total length or chunk count over the receiver's limits
    CHUNK_SEQUENCE = 4010  # chunks truncated, out of order or inconsistent
    IDLE_TIMEOUT = 4011
    TOO_MANY_CONNECTIONS = 4012
    REPLACED = 4013  # a newer authenticated session of the same device took over
    DEVICE_REMOVED = 4014  # the device was removed from the registry
    SERVER_REJECTED = 4015  # the camera refuses the receiver's handshake answer


class ProtocolError(SecureCamError):
    """The peer broke the protocol; close the connection with `code` and the short `reason`.

    `reason` goes to the peer; `detail` (default: the reason) goes only to the local log, so
    it may say what the peer must not learn, such as whether a device name is registered.
    """

    def __init__(self, code: CloseCode, reason: str, *, detail: str | None = None) -> None:
        super().__init__(f"{code.name.lower()}: {detail or reason}")
        self.code = code
        self.reason = reason
        self.detail = detail or reason
