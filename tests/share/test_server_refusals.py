"""Every access the viewer server must refuse is refused, answered as documented, and logged.

Each attempt below is a real client over TLS on loopback doing one thing the server must not
allow (it may first set the stage: add a viewer, log in, remove the viewer). The table test
runs each against the module's server and checks the answer and the one audit entry it
leaves; the last test runs the whole list against a fresh server and counts: attempts tried,
attempts refused, refusal entries in the audit log (the issue's figure).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import os
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
import pytest

from app.share.accounts import ALL
from app.share.audit import AuditEvent
from app.share.sessions import SessionKeys
from tests.share.conftest import ShareRig
from tests.waiting import scaled, wait_until

EVIL = "https://evil.example"
REFUSALS = {event.value for event in AuditEvent if event.is_refusal}
_names = itertools.count(1)


def fresh_name(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


@dataclass(frozen=True)
class Tried:
    """What the server answered: an HTTP status, 101 and a WebSocket error message, or None
    when it closed the connection without an HTTP answer."""

    status: int | None
    viewer: str | None = None  # the viewer the attempt was made as, when it matters
    refused: bool = True

    @classmethod
    def http(cls, status: int, viewer: str | None = None) -> Tried:
        return cls(status, viewer, refused=400 <= status < 500)


# -- clients ----------------------------------------------------------------------------------


async def get_status(rig: ShareRig, path: str, headers: dict[str, str] | None = None) -> int:
    """The status of a GET (the body is not read: a stream that was wrongly allowed would
    never end)."""
    async with rig.client() as client, client.get(path, headers=headers or {}) as response:
        return response.status


async def post(
    rig: ShareRig,
    path: str,
    *,
    headers: dict[str, str],
    body: Any = None,
    data: bytes | None = None,
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with (
        rig.client() as client,
        client.post(path, json=body, data=data, headers=headers) as response,
    ):
        text = await response.text()
        return response.status, json.loads(text) if text else {}, response


async def ws_status(rig: ShareRig, headers: dict[str, str], origin: str | None) -> int:
    async with rig.client() as client:
        try:
            async with client.ws_connect("/ws", headers=headers, origin=origin):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def raw_exchange(rig: ShareRig, request: bytes) -> tuple[int | None, bytes]:
    """Send bytes over TLS as they are; the status and body of the answer (None: closed)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", rig.port, ssl=rig.ssl_context(), server_hostname="localhost"
    )
    try:
        writer.write(request)
        answer = await asyncio.wait_for(_read_all(reader), scaled(10))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()
    if not answer.startswith(b"HTTP/1.1 "):
        return None, answer
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def jwt_part(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(cookie: str) -> dict[str, Any]:
    return jwt.decode(cookie, options={"verify_signature": False})


async def logged_in(rig: ShareRig, name: str) -> str:
    async with rig.client() as client:
        return await rig.login(client, name, rig.passwords[name])


# -- the attempts -----------------------------------------------------------------------------

Attempt = Callable[[ShareRig], Awaitable[Tried]]


async def api_without_credentials(rig: ShareRig) -> Tried:
    return Tried.http(await get_status(rig, "/api/cameras"))


async def session_without_credentials(rig: ShareRig) -> Tried:
    return Tried.http(await get_status(rig, "/api/session"))


async def ws_without_credentials(rig: ShareRig) -> Tried:
    return Tried.http(await ws_status(rig, {}, rig.base))


async def snapshot_without_credentials(rig: ShareRig) -> Tried:
    return Tried.http(await get_status(rig, "/cameras/demo-1/snapshot.jpg"))


async def mjpeg_without_credentials(rig: ShareRig) -> Tried:
    return Tried.http(await get_status(rig, "/cameras/demo-1/stream.mjpeg"))


async def mjpeg_with_basic_authorization(rig: ShareRig) -> Tried:
    basic = base64.b64encode(f"alice:{rig.passwords['alice']}".encode()).decode()
    rig.secrets.add(basic)
    headers = {"Authorization": f"Basic {basic}"}
    return Tried.http(await get_status(rig, "/cameras/demo-1/stream.mjpeg", headers))


async def wrong_password(rig: ShareRig) -> Tried:
    wrong = "not-alices-password-at-all"
    rig.secrets.add(wrong)
    body = {"name": "alice", "password": wrong}
    status, _, _ = await post(rig, "/api/login", body=body, headers=rig.origin)
    return Tried.http(status, "alice")


async def unknown_name(rig: ShareRig) -> Tried:
    body = {"name": "mallory", "password": rig.passwords["alice"]}
    status, _, _ = await post(rig, "/api/login", body=body, headers=rig.origin)
    return Tried.http(status)  # a name no account has is not logged: see the next one


async def password_in_the_name_field(rig: ShareRig) -> Tried:
    """A password typed into the name field never reaches the audit log (the rig checks)."""
    body = {"name": rig.passwords["alice"], "password": "alice"}
    status, _, _ = await post(rig, "/api/login", body=body, headers=rig.origin)
    return Tried.http(status)


async def expired_session(rig: ShareRig) -> Tried:
    generation = rig.store.get("alice").generation
    keys = SessionKeys(rig.session_key(), lifetime_s=60)
    token, _ = keys.issue("alice", generation, now=time.time() - 120)
    rig.secrets.add(token)
    return Tried.http(await get_status(rig, "/api/cameras", rig.cookie(token)))


async def forged_signature(rig: ShareRig) -> Tried:
    head, payload, signature = (await logged_in(rig, "alice")).split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    forged = f"{head}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"
    rig.secrets.add(forged)
    return Tried.http(await get_status(rig, "/api/cameras", rig.cookie(forged)))


async def alg_none(rig: ShareRig) -> Tried:
    claims = claims_of(await logged_in(rig, "alice"))
    token = f"{jwt_part({'alg': 'none', 'typ': 'JWT'})}.{jwt_part(claims)}."
    rig.secrets.add(token)
    return Tried.http(await get_status(rig, "/api/cameras", rig.cookie(token)))


async def signed_with_another_key(rig: ShareRig) -> Tried:
    claims = claims_of(await logged_in(rig, "alice"))
    token = jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256")
    rig.secrets.add(token)
    return Tried.http(await get_status(rig, "/api/cameras", rig.cookie(token)))


async def token_of_a_removed_viewer(rig: ShareRig) -> Tried:
    name = fresh_name("gone")
    rig.add_viewer(name, ALL)
    token = rig.new_token(name)
    assert await get_status(rig, "/api/cameras", {"Authorization": f"Bearer {token}"}) == 200
    rig.store.remove(name)
    headers = {"Authorization": f"Bearer {token}"}
    return Tried.http(await get_status(rig, "/cameras/demo-1/snapshot.jpg", headers), name)


async def cookie_of_a_removed_viewer(rig: ShareRig) -> Tried:
    name = fresh_name("gone")
    rig.add_viewer(name, ALL)
    cookie = await logged_in(rig, name)
    rig.store.remove(name)
    return Tried.http(await get_status(rig, "/api/cameras", rig.cookie(cookie)), name)


async def token_after_a_password_change(rig: ShareRig) -> Tried:
    name = fresh_name("changed")
    rig.add_viewer(name, ALL)
    token = rig.new_token(name)
    assert await get_status(rig, f"/api/cameras?token={token}") == 200
    new_password = f"{name}-new-password"
    rig.secrets.add(new_password)
    rig.store.set_password(name, new_password)
    return Tried.http(await get_status(rig, f"/cameras/demo-1/snapshot.jpg?token={token}"), name)


async def cookie_after_a_password_change(rig: ShareRig) -> Tried:
    name = fresh_name("changed")
    rig.add_viewer(name, ALL)
    cookie = await logged_in(rig, name)
    new_password = f"{name}-new-password"
    rig.secrets.add(new_password)
    rig.store.set_password(name, new_password)
    return Tried.http(await get_status(rig, "/api/cameras", rig.cookie(cookie)), name)


async def snapshot_not_granted(rig: ShareRig) -> Tried:
    cookie = await logged_in(rig, "bob")
    return Tried.http(await get_status(rig, "/cameras/demo-2/snapshot.jpg", rig.cookie(cookie)))


async def mjpeg_not_granted(rig: ShareRig) -> Tried:
    name = fresh_name("player")
    rig.add_viewer(name, ["demo-1"])
    token = rig.new_token(name)
    headers = {"Authorization": f"Bearer {token}"}
    return Tried.http(await get_status(rig, "/cameras/demo-2/stream.mjpeg", headers), name)


async def ws_subscribe_not_granted(rig: ShareRig) -> Tried:
    """bob asks for demo-1 and demo-2: an error for demo-2, demo-1's frames keep coming."""
    cookie = await logged_in(rig, "bob")
    async with (
        rig.client() as client,
        client.ws_connect("/ws", headers=rig.cookie(cookie), origin=rig.base) as ws,
    ):
        assert (await ws.receive_json(timeout=scaled(10)))["type"] == "hello"
        await ws.send_json({"type": "subscribe", "cameras": ["demo-1", "demo-2"]})
        errors, cameras = [], []
        async with asyncio.timeout(scaled(10)):
            while not (errors and cameras.count("demo-1") >= 3):
                message = await ws.receive()
                if message.type is aiohttp.WSMsgType.TEXT:
                    errors.append(json.loads(message.data))
                elif message.type is aiohttp.WSMsgType.BINARY:
                    length = int.from_bytes(message.data[:4], "big")
                    header = json.loads(message.data[4 : 4 + length])
                    cameras.append(header["camera"])
                    await ws.send_json({"type": "ack", "camera": header["camera"]})
                else:
                    raise AssertionError(f"the stream ended: {message}")
    assert errors == [{"type": "error", "camera": "demo-2", "reason": "camera not granted"}]
    assert set(cameras) == {"demo-1"}
    return Tried(101, "bob", refused=True)


async def reused_logout_cookie(rig: ShareRig) -> Tried:
    cookie = await logged_in(rig, "alice")
    status, body, _ = await post(rig, "/api/logout", headers={**rig.origin, **rig.cookie(cookie)})
    assert (status, body) == (200, {})
    return Tried.http(await get_status(rig, "/api/session", rig.cookie(cookie)))


async def cookie_replaced_by_refresh(rig: ShareRig) -> Tried:
    cookie = await logged_in(rig, "alice")
    status, _, response = await post(
        rig, "/api/refresh", headers={**rig.origin, **rig.cookie(cookie)}
    )
    assert status == 200
    rig.secrets.add(response.cookies["__Host-securecam"].value)
    return Tried.http(await get_status(rig, "/api/cameras", rig.cookie(cookie)))


async def cross_site_login(rig: ShareRig) -> Tried:
    body = {"name": "alice", "password": rig.passwords["alice"]}
    status, _, response = await post(rig, "/api/login", body=body, headers={"Origin": EVIL})
    assert "Set-Cookie" not in response.headers
    return Tried.http(status)


async def cross_site_fetch_login(rig: ShareRig) -> Tried:
    body = {"name": "alice", "password": rig.passwords["alice"]}
    headers = {**rig.origin, "Sec-Fetch-Site": "cross-site"}
    status, _, response = await post(rig, "/api/login", body=body, headers=headers)
    assert "Set-Cookie" not in response.headers
    return Tried.http(status)


async def login_without_origin(rig: ShareRig) -> Tried:
    body = {"name": "alice", "password": rig.passwords["alice"]}
    status, _, _ = await post(rig, "/api/login", body=body, headers={})
    return Tried.http(status)


async def cross_site_refresh(rig: ShareRig) -> Tried:
    cookie = await logged_in(rig, "alice")
    status, _, _ = await post(rig, "/api/refresh", headers={"Origin": EVIL, **rig.cookie(cookie)})
    # Refused before anything happened: the session is still the one it was.
    assert await get_status(rig, "/api/session", rig.cookie(cookie)) == 200
    return Tried.http(status)


async def cross_site_fetch_refresh(rig: ShareRig) -> Tried:
    cookie = await logged_in(rig, "alice")
    headers = {**rig.origin, **rig.cookie(cookie), "Sec-Fetch-Site": "cross-site"}
    status, _, _ = await post(rig, "/api/refresh", headers=headers)
    assert await get_status(rig, "/api/session", rig.cookie(cookie)) == 200
    return Tried.http(status)


async def cross_site_websocket(rig: ShareRig) -> Tried:
    cookie = await logged_in(rig, "alice")
    return Tried.http(await ws_status(rig, rig.cookie(cookie), EVIL))


async def oversized_login(rig: ShareRig) -> Tried:
    body = json.dumps({"name": "alice", "password": "x" * 5000}).encode()
    headers = {**rig.origin, "Content-Type": "application/json"}
    status, _, _ = await post(rig, "/api/login", data=body, headers=headers)
    return Tried.http(status)


async def non_json_login(rig: ShareRig) -> Tried:
    body = f"name=alice&password={rig.passwords['alice']}".encode()
    headers = {**rig.origin, "Content-Type": "application/x-www-form-urlencoded"}
    status, _, _ = await post(rig, "/api/login", data=body, headers=headers)
    return Tried.http(status)


async def long_header_line(rig: ShareRig) -> Tried:
    """A 10 KB Authorization line holding a real token: refused, and the token not logged."""
    name = fresh_name("player")
    rig.add_viewer(name, ALL)
    token = rig.new_token(name)
    request = (
        f"GET /cameras/demo-1/snapshot.jpg HTTP/1.1\r\nHost: localhost:{rig.port}\r\n"
        f"Authorization: Bearer {token}{'A' * 10_000}\r\nConnection: close\r\n\r\n"
    )
    status, _ = await raw_exchange(rig, request.encode())
    return Tried(status, refused=status is None or 400 <= status < 500)


async def too_many_headers(rig: ShareRig) -> Tried:
    many = "".join(f"X-Header-{i}: {i}\r\n" for i in range(100))
    request = f"GET / HTTP/1.1\r\nHost: localhost:{rig.port}\r\n{many}Connection: close\r\n\r\n"
    status, _ = await raw_exchange(rig, request.encode())
    return Tried(status, refused=status is None or 400 <= status < 500)


async def garbage_instead_of_tls(rig: ShareRig) -> Tried:
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" + os.urandom(512))
        answer = await asyncio.wait_for(_read_all(reader), scaled(10))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return Tried(None, refused=not answer.startswith(b"HTTP/1.1 2"))


TRAVERSALS = [
    "/static/../accounts",
    "/static/%2e%2e/viewers.json",
    "/static/..%2fviewers.json",
    "/static/..%2f..%2fconfig%2fshare-session.key",
    "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "//etc/passwd",
    "/static//etc/passwd",
    "/static/..\\viewers.json",
    "/static/index.html",
    "/viewers.json",
    "/share-session.key",
]


def traversal(target: str) -> Attempt:
    async def attempt(rig: ShareRig) -> Tried:
        request = (
            f"GET {target} HTTP/1.1\r\nHost: localhost:{rig.port}\r\nConnection: close\r\n\r\n"
        )
        status, body = await raw_exchange(rig, request.encode())
        # Nothing from outside the allow-list: no account, key, certificate or system file.
        for leak in (b"scrypt$", b"root:", b"PRIVATE KEY", rig.session_key()):
            assert leak not in body
        return Tried(status, refused=status == 404)

    attempt.__name__ = f"traversal {target}"
    return attempt


@dataclass(frozen=True)
class Expected:
    status: int | None  # None: closed without an HTTP answer
    event: AuditEvent
    reason: str  # the audit entry's reason starts with this
    viewer: str | type[Tried] | None = None  # Tried: the viewer the attempt names
    camera: str | None = None
    or_closed: bool = False  # a close without an answer is as good as `status`


NO_CREDENTIALS = Expected(401, AuditEvent.REFUSED, "no credentials")
NOT_OURS = Expected(401, AuditEvent.REFUSED, "session token not signed by this server")
BAD_TOKEN = Expected(401, AuditEvent.REFUSED, "unknown, replaced or expired player token")
WRONG_LOGIN = Expected(401, AuditEvent.LOGIN_REFUSED, "wrong name or password", Tried)
NOT_GRANTED = Expected(403, AuditEvent.REFUSED, "camera not granted", Tried, "demo-2")
LOGGED_OUT = Expected(401, AuditEvent.REFUSED, "session logged out")
CROSS_SITE = Expected(403, AuditEvent.REFUSED, "cross-site request from 'https://evil.example'")
CROSS_FETCH = Expected(403, AuditEvent.REFUSED, "cross-site request (Sec-Fetch-Site: cross-site)")
NOT_FOUND = Expected(404, AuditEvent.REFUSED, "no such page")
# aiohttp answers 400 and closes; a client still sending its request may see only the close.
MALFORMED = Expected(400, AuditEvent.REFUSED, "malformed or oversized request", or_closed=True)

ATTEMPTS: list[tuple[Attempt, Expected]] = [
    (api_without_credentials, NO_CREDENTIALS),
    (session_without_credentials, NO_CREDENTIALS),
    (ws_without_credentials, NO_CREDENTIALS),
    (snapshot_without_credentials, NO_CREDENTIALS),
    (mjpeg_without_credentials, NO_CREDENTIALS),
    (
        mjpeg_with_basic_authorization,
        Expected(401, AuditEvent.REFUSED, "unsupported Authorization scheme"),
    ),
    (wrong_password, WRONG_LOGIN),
    (unknown_name, WRONG_LOGIN),
    (password_in_the_name_field, WRONG_LOGIN),
    (expired_session, Expected(401, AuditEvent.REFUSED, "session expired")),
    (forged_signature, NOT_OURS),
    (alg_none, NOT_OURS),
    (signed_with_another_key, NOT_OURS),
    (token_of_a_removed_viewer, BAD_TOKEN),
    (cookie_of_a_removed_viewer, Expected(401, AuditEvent.REVOKED, "viewer removed", Tried)),
    (token_after_a_password_change, BAD_TOKEN),
    (
        cookie_after_a_password_change,
        Expected(401, AuditEvent.REVOKED, "password, cameras or token changed", Tried),
    ),
    (
        snapshot_not_granted,
        Expected(403, AuditEvent.REFUSED, "camera not granted", "bob", "demo-2"),
    ),
    (mjpeg_not_granted, NOT_GRANTED),
    (
        ws_subscribe_not_granted,
        Expected(101, AuditEvent.REFUSED, "camera not granted", "bob", "demo-2"),
    ),
    (reused_logout_cookie, LOGGED_OUT),
    (cookie_replaced_by_refresh, LOGGED_OUT),
    (cross_site_login, CROSS_SITE),
    (cross_site_fetch_login, CROSS_FETCH),
    (login_without_origin, Expected(403, AuditEvent.REFUSED, "cross-site request (no Origin")),
    (cross_site_refresh, CROSS_SITE),
    (cross_site_fetch_refresh, CROSS_FETCH),
    (cross_site_websocket, CROSS_SITE),
    (oversized_login, Expected(413, AuditEvent.LOGIN_REFUSED, "login body missing or over 4096")),
    (non_json_login, Expected(400, AuditEvent.LOGIN_REFUSED, "malformed login")),
    (long_header_line, MALFORMED),
    (too_many_headers, MALFORMED),
    (garbage_instead_of_tls, Expected(None, AuditEvent.REFUSED, "TLS handshake failed")),
    *((traversal(target), NOT_FOUND) for target in TRAVERSALS),
]


def refusals(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["event"] in REFUSALS]


@pytest.mark.parametrize(
    ("attempt", "expected"), ATTEMPTS, ids=[attempt.__name__ for attempt, _ in ATTEMPTS]
)
async def test_refused_answered_as_documented_and_logged_once(
    share_rig: ShareRig, caplog: pytest.LogCaptureFixture, attempt: Attempt, expected: Expected
) -> None:
    caplog.set_level(logging.DEBUG)
    mark = share_rig.audit_mark()
    tried = await attempt(share_rig)
    assert tried.refused
    if not (expected.or_closed and tried.status is None):
        assert tried.status == expected.status
    # The entry may land just after the client saw the close (a failed TLS handshake).
    await wait_until(lambda: refusals(share_rig.audit_since(mark)), message="the audit entry")
    (entry,) = refusals(share_rig.audit_since(mark))
    assert entry["event"] == expected.event.value
    assert entry["reason"].startswith(expected.reason), entry
    viewer = tried.viewer if expected.viewer is Tried else expected.viewer
    assert entry["viewer"] == viewer
    if expected.camera is not None:
        assert entry["camera"] == expected.camera
    assert entry["address"] == "127.0.0.1"
    share_rig.assert_no_secrets(caplog.text)
    # The server still serves everyone else.
    assert await get_status(share_rig, "/") == 200


async def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(
    share_rig: ShareRig,
) -> None:
    answers = []
    for name in ("alice", "nobody-here"):
        body = {"name": name, "password": "definitely-not-the-password"}
        status, json_body, response = await post(
            share_rig, "/api/login", body=body, headers=share_rig.origin
        )
        answers.append((status, json_body, response.headers.get("Set-Cookie")))
    assert answers[0] == answers[1] == (401, {"error": "wrong name or password"}, None)


async def test_whole_refusal_list_every_attempt_refused_and_logged_once(
    make_share_rig: Callable[..., ShareRig], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rig = make_share_rig(cameras=2)
    rig.add_viewer("alice", ALL)
    rig.add_viewer("bob", ["demo-1"])
    mark = rig.audit_mark()
    tried = refused = 0
    for attempt, _ in ATTEMPTS:
        outcome = await attempt(rig)
        tried += 1
        refused += outcome.refused
    await wait_until(lambda: len(refusals(rig.audit_since(mark))) >= tried, message="entries")
    logged = len(refusals(rig.audit_since(mark)))
    print(f"attempts tried {tried}, refused {refused}, refusal entries in the audit log {logged}")
    assert tried == refused == logged == len(ATTEMPTS)
    rig.assert_no_secrets(caplog.text)
