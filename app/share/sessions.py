"""Browser sessions: short-lived HS256 JWTs, their signing key, and the logged-out list.

A session token names the viewer (`sub`), the viewer's generation when it logged in (`gen`),
and carries a random id (`jti`), issue and expiry times. The server accepts a token only if
its signature is ours (HS256 and nothing else: `alg: none` and other algorithms are refused
by PyJWT's allow-list), it has not expired, its id was not logged out, and the viewer still
exists with the same generation (checked by the caller against the accounts). The signing key
is 32 random bytes in `share-session.key` (0600) in the config directory, so sessions survive
a restart of the app; deleting the file ends every session.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import jwt

from app.jsonfile import exclusive_lock, write_private

KEY_FILE = "share-session.key"
KEY_SIZE = 32
ALGORITHM = "HS256"
LIFETIME_S = 15 * 60
# The page refreshes its cookie this often, well before the token expires.
REFRESH_S = 5 * 60
_ISSUER = "securecam-share"
_REQUIRED = ("exp", "iat", "sub", "gen", "jti", "iss")


class SessionRefused(Enum):
    """Why a session token was not accepted; the value is the audit log's reason."""

    MALFORMED = "malformed session token"
    BAD_SIGNATURE = "session token not signed by this server"
    EXPIRED = "session expired"
    LOGGED_OUT = "session logged out"


class InvalidSession(Exception):
    """A session token was refused; `refused` says why."""

    def __init__(self, refused: SessionRefused) -> None:
        super().__init__(refused.value)
        self.refused = refused


@dataclass(frozen=True, slots=True)
class Claims:
    """What a valid session token says."""

    viewer: str
    generation: int
    session_id: str
    expires: float  # Unix time


def load_or_create_key(directory: Path) -> bytes:
    """The session signing key in `directory`, created (0600) on first use.

    Raises OSError if it cannot be read or written.
    """
    path = directory / KEY_FILE
    with exclusive_lock(directory / f".{KEY_FILE}.lock"):
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            key = b""
        if len(key) != KEY_SIZE:  # missing, or truncated by hand: start over
            key = secrets.token_bytes(KEY_SIZE)
            write_private(path, key)
    return key


class SessionKeys:
    """Issues and checks session tokens with one key; remembers logged-out session ids.

    The logged-out list holds each id only until its token would have expired anyway, so it
    stays as small as the number of logouts within one lifetime. It is kept in memory: after
    a restart of the app a logged-out token is accepted again until it expires (at most
    `LIFETIME_S`), unless the viewer's generation changed.
    """

    def __init__(self, key: bytes, *, lifetime_s: float = LIFETIME_S) -> None:
        if len(key) < KEY_SIZE:
            raise ValueError("the session key must be at least 32 bytes")
        self._key = key
        self.lifetime_s = lifetime_s
        self._logged_out: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"SessionKeys(lifetime_s={self.lifetime_s})"  # never the key

    def issue(self, viewer: str, generation: int, now: float | None = None) -> tuple[str, Claims]:
        now = time.time() if now is None else now
        claims = Claims(viewer, generation, secrets.token_urlsafe(16), now + self.lifetime_s)
        payload = {
            "iss": _ISSUER,
            "sub": viewer,
            "gen": generation,
            "jti": claims.session_id,
            "iat": int(now),
            "exp": claims.expires,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def verify(self, token: str, now: float | None = None) -> Claims:
        """The claims of a token this server issued, unexpired and not logged out.

        Raises InvalidSession. The caller still checks the viewer and its generation.
        """
        now = time.time() if now is None else now
        self._forget_expired(now)
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=_ISSUER,
                options={"require": list(_REQUIRED), "verify_exp": False},
            )
        except jwt.InvalidSignatureError:
            raise InvalidSession(SessionRefused.BAD_SIGNATURE) from None
        except jwt.InvalidAlgorithmError:
            raise InvalidSession(SessionRefused.BAD_SIGNATURE) from None
        except jwt.PyJWTError:
            raise InvalidSession(SessionRefused.MALFORMED) from None
        viewer, generation = payload["sub"], payload["gen"]
        session_id, expires = payload["jti"], payload["exp"]
        if not (
            isinstance(viewer, str)
            and isinstance(generation, int)
            and isinstance(session_id, str)
            and isinstance(expires, int | float)
        ):
            raise InvalidSession(SessionRefused.MALFORMED)
        # Our own clock, not PyJWT's, so tests and the logged-out list agree on "now".
        if now >= expires:
            raise InvalidSession(SessionRefused.EXPIRED)
        if session_id in self._logged_out:
            raise InvalidSession(SessionRefused.LOGGED_OUT)
        return Claims(viewer, generation, session_id, float(expires))

    def log_out(self, claims: Claims) -> None:
        """Refuse this session's token from now on."""
        self._forget_expired(time.time())
        self._logged_out[claims.session_id] = claims.expires

    def is_logged_out(self, session_id: str) -> bool:
        return session_id in self._logged_out

    def _forget_expired(self, now: float) -> None:
        for session_id in [sid for sid, expires in self._logged_out.items() if expires <= now]:
            del self._logged_out[session_id]
