"""Session tokens: only ours, unexpired, not logged out; the key file is private and kept."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import jwt
import pytest

from app.share.sessions import (
    KEY_FILE,
    InvalidSession,
    SessionKeys,
    SessionRefused,
    load_or_create_key,
)

KEY = b"k" * 32


def refused(keys: SessionKeys, token: str, now: float | None = None) -> SessionRefused:
    with pytest.raises(InvalidSession) as caught:
        keys.verify(token, now)
    return caught.value.refused


def test_a_token_it_issued_verifies_with_the_viewer_and_generation() -> None:
    keys = SessionKeys(KEY)
    token, issued = keys.issue("alice", 7, now=1000.0)
    claims = keys.verify(token, now=1001.0)
    assert (claims.viewer, claims.generation, claims.session_id) == ("alice", 7, issued.session_id)
    assert claims.expires == 1000.0 + keys.lifetime_s


def test_an_expired_token_is_refused_as_expired() -> None:
    keys = SessionKeys(KEY, lifetime_s=60)
    token, _ = keys.issue("alice", 1, now=1000.0)
    assert refused(keys, token, now=1060.0) is SessionRefused.EXPIRED


def test_a_token_signed_with_another_key_is_refused() -> None:
    token, _ = SessionKeys(b"x" * 32).issue("alice", 1)
    assert refused(SessionKeys(KEY), token) is SessionRefused.BAD_SIGNATURE


def test_a_token_with_a_forged_payload_is_refused() -> None:
    keys = SessionKeys(KEY)
    token, _ = keys.issue("alice", 1)
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert refused(keys, f"{head}.{forged}.{signature}") is SessionRefused.BAD_SIGNATURE


def test_an_alg_none_token_is_refused() -> None:
    keys = SessionKeys(KEY)
    unsigned = jwt.encode(
        {"iss": "securecam-share", "sub": "alice", "gen": 1, "jti": "x", "iat": 1, "exp": 2e9},
        None,
        algorithm="none",
    )
    assert refused(keys, unsigned) is SessionRefused.BAD_SIGNATURE


def test_an_hs256_token_with_missing_claims_is_malformed() -> None:
    token = jwt.encode({"sub": "alice", "exp": 2e9}, KEY, algorithm="HS256")
    assert refused(SessionKeys(KEY), token) is SessionRefused.MALFORMED
    assert refused(SessionKeys(KEY), "not a jwt") is SessionRefused.MALFORMED


def test_a_logged_out_token_is_refused_until_it_would_expire_and_then_forgotten() -> None:
    keys = SessionKeys(KEY, lifetime_s=60)
    token, claims = keys.issue("alice", 1, now=1000.0)
    keys.log_out(claims)
    assert refused(keys, token, now=1001.0) is SessionRefused.LOGGED_OUT
    assert refused(keys, token, now=1061.0) is SessionRefused.EXPIRED
    assert not keys.is_logged_out(claims.session_id)  # the list does not grow for ever


def test_the_key_is_made_once_private_and_reused(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    assert len(key) == 32
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path) == key


def test_a_truncated_key_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"short")
    assert len(load_or_create_key(tmp_path)) == 32


def test_the_key_never_appears_in_the_repr() -> None:
    assert "kkkk" not in repr(SessionKeys(KEY))


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError):
        SessionKeys(b"short")
