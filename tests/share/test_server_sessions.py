"""What the viewer server grants: sessions, the camera list, player tokens, headers, limits.

Real clients over TLS on loopback against a running receiver with demo cameras
(tests/share/conftest.py). The refusals themselves are in test_server_refusals.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp

from app.share.accounts import ALL
from app.share.limits import ShareLimits
from app.share.server import CSP
from tests.share.conftest import ShareRig, eventually, read_mjpeg_part
from tests.waiting import wait_until

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
CAMERA_FIELDS = {
    "name",
    "state",
    "suite",
    "encrypted",
    "fps",
    "width",
    "height",
    "latency_ms",
    "viewers",
}


def cookie_attributes(set_cookie: str) -> tuple[str, str, dict[str, str]]:
    """A Set-Cookie header: name, value and attributes (names lower-cased)."""
    first, *rest = (part.strip() for part in set_cookie.split(";"))
    name, _, value = first.partition("=")
    attributes = {}
    for part in rest:
        key, _, attribute = part.partition("=")
        attributes[key.lower()] = attribute
    return name, value, attributes


def assert_session_cookie(set_cookie: str) -> str:
    name, value, attributes = cookie_attributes(set_cookie)
    assert name == "__Host-securecam"
    assert {"httponly", "secure", "path", "samesite"} <= attributes.keys()
    assert attributes["path"] == "/"
    assert attributes["samesite"] == "Strict"
    assert "domain" not in attributes  # a __Host- cookie must not name a domain
    return value


def assert_session_body(body: dict[str, Any], viewer: str) -> None:
    assert body.keys() == {"viewer", "expires_in", "refresh_in"}
    assert body["viewer"] == viewer
    assert 0 < body["refresh_in"] < body["expires_in"] <= 15 * 60


async def live(rig: ShareRig, cookie: str, cameras: set[str]) -> dict[str, Any]:
    """The camera list, once every one of `cameras` is live with its size known."""

    async def poll() -> dict[str, Any] | None:
        async with (
            rig.client() as client,
            client.get("/api/cameras", headers=rig.cookie(cookie)) as response,
        ):
            assert response.status == 200
            answer: dict[str, Any] = await response.json()
        states = {camera["name"]: camera for camera in answer["cameras"]}
        ready = all(
            states.get(name, {}).get("state") == "live" and states[name]["width"]
            for name in cameras
        )
        return answer if ready else None

    return await eventually(poll, 10, message=f"{sorted(cameras)} live")


# -- sessions ---------------------------------------------------------------------------------


async def test_login_sets_a_host_only_secure_httponly_same_site_strict_cookie(
    share_rig: ShareRig,
) -> None:
    body = {"name": "alice", "password": share_rig.passwords["alice"]}
    async with (
        share_rig.client() as client,
        client.post("/api/login", json=body, headers=share_rig.origin) as response,
    ):
        assert response.status == 200
        (set_cookie,) = response.headers.getall("Set-Cookie")
        assert_session_body(await response.json(), "alice")
    value = assert_session_cookie(set_cookie)
    _, _, attributes = cookie_attributes(set_cookie)
    assert int(attributes["max-age"]) == 15 * 60
    share_rig.secrets.add(value)
    (entry,) = [e for e in share_rig.audit_entries() if e["event"] == "login"][-1:]
    assert entry["viewer"] == "alice"


async def test_session_answers_who_is_logged_in(share_rig: ShareRig) -> None:
    async with share_rig.client() as client:
        cookie = await share_rig.login(client, "bob", share_rig.passwords["bob"])
        async with client.get("/api/session", headers=share_rig.cookie(cookie)) as response:
            assert response.status == 200
            assert_session_body(await response.json(), "bob")


async def test_refresh_gives_a_new_cookie_and_the_old_one_is_refused(share_rig: ShareRig) -> None:
    rig = share_rig
    async with rig.client() as client:
        old = await rig.login(client, "alice", rig.passwords["alice"])
        headers = {**rig.origin, **rig.cookie(old)}
        async with client.post("/api/refresh", headers=headers) as response:
            assert response.status == 200
            assert_session_body(await response.json(), "alice")
            new = assert_session_cookie(response.headers["Set-Cookie"])
        rig.secrets.add(new)
        assert new != old
        async with client.get("/api/session", headers=rig.cookie(new)) as response:
            assert response.status == 200
        async with client.get("/api/session", headers=rig.cookie(old)) as response:
            assert response.status == 401
            assert await response.json() == {"error": "session logged out"}


async def test_logout_clears_the_cookie_and_ends_the_session(share_rig: ShareRig) -> None:
    rig = share_rig
    async with rig.client() as client:
        cookie = await rig.login(client, "alice", rig.passwords["alice"])
        headers = {**rig.origin, **rig.cookie(cookie)}
        async with client.post("/api/logout", headers=headers) as response:
            assert response.status == 200
            assert await response.json() == {}
            name, value, attributes = cookie_attributes(response.headers["Set-Cookie"])
        assert (name, value.strip('"'), attributes["max-age"]) == ("__Host-securecam", "", "0")
        assert {"secure", "path"} <= attributes.keys()  # or a browser would keep the cookie
        async with client.get("/api/cameras", headers=rig.cookie(cookie)) as response:
            assert response.status == 401
    assert [e["event"] for e in rig.audit_entries()[-2:]] == ["logout", "refused"]


async def test_cameras_lists_only_the_granted_cameras_with_the_documented_fields(
    share_rig: ShareRig,
) -> None:
    rig = share_rig
    async with rig.client() as client:
        bob = await rig.login(client, "bob", rig.passwords["bob"])
        alice = await rig.login(client, "alice", rig.passwords["alice"])
    answer = await live(rig, alice, {"demo-1", "demo-2"})
    assert [camera["name"] for camera in answer["cameras"]] == ["demo-1", "demo-2"]
    answer = await live(rig, bob, {"demo-1"})
    assert answer.keys() == {"cameras", "server_time_ms"}
    assert abs(answer["server_time_ms"] - time.time() * 1000) < 60_000
    (camera,) = answer["cameras"]
    assert camera.keys() == CAMERA_FIELDS
    assert camera["name"] == "demo-1"
    assert camera["state"] == "live"
    assert camera["suite"] == "noise"
    assert camera["encrypted"] is True
    assert isinstance(camera["fps"], int | float) and camera["fps"] >= 0
    assert (camera["width"], camera["height"]) == (320, 240)
    assert camera["latency_ms"] is None or camera["latency_ms"] >= 0
    assert isinstance(camera["viewers"], int)


# -- headers ----------------------------------------------------------------------------------


async def test_security_headers_on_the_page_api_answers_snapshots_and_streams(
    share_rig: ShareRig,
) -> None:
    rig = share_rig
    assert "'unsafe-inline'" not in CSP and "frame-ancestors 'none'" in CSP
    async with rig.client() as client:
        cookie = await rig.login(client, "alice", rig.passwords["alice"])
        await live(rig, cookie, {"demo-1"})
        auth = rig.cookie(cookie)
        requests = [
            ("/", {}, 200, "text/html"),
            ("/static/app.js", {}, 200, "text/javascript"),
            ("/static/style.css", {}, 200, "text/css"),
            ("/api/session", auth, 200, "application/json"),
            ("/api/cameras", auth, 200, "application/json"),
            ("/api/cameras", {}, 401, "application/json"),
            ("/static/viewers.json", {}, 404, "application/json"),
            ("/cameras/demo-1/snapshot.jpg", auth, 200, "image/jpeg"),
            ("/cameras/demo-1/stream.mjpeg", auth, 200, "multipart/x-mixed-replace"),
        ]
        for path, headers, status, content_type in requests:
            async with client.get(path, headers=headers) as response:
                assert response.status == status, path
                assert response.headers["Content-Type"].startswith(content_type), path
                for name, value in SECURITY_HEADERS.items():
                    assert response.headers.get(name) == value, (path, name)
        async with client.post("/api/login", json={}, headers=rig.origin) as response:
            assert response.status == 400
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, ("/api/login", name)


# -- player tokens ----------------------------------------------------------------------------


async def test_a_player_token_gets_the_latest_accepted_frame_as_bearer_and_as_query(
    share_rig: ShareRig,
) -> None:
    rig = share_rig
    rig.add_viewer("player", ALL)
    token = rig.new_token("player")
    await wait_until(lambda: rig.accepted_count["demo-1"] > 0, 10, message="a frame")
    for how in ({"headers": {"Authorization": f"Bearer {token}"}}, {"params": {"token": token}}):
        async with rig.client() as client:
            before = rig.accepted_count["demo-1"]
            async with client.get("/cameras/demo-1/snapshot.jpg", **how) as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "image/jpeg"
                body = await response.read()
            after = rig.accepted_count["demo-1"]
        # The frame the hub held while the request ran: the receiver's latest, byte for byte.
        candidates = [jpeg for number, jpeg in rig.accepted["demo-1"] if before <= number <= after]
        assert body in candidates
    entries = [e for e in rig.audit_entries() if e["event"] == "token used"][-2:]
    assert [(e["viewer"], e["camera"]) for e in entries] == [("player", "demo-1")] * 2


async def test_a_player_token_streams_mjpeg_frames_byte_for_byte(share_rig: ShareRig) -> None:
    rig = share_rig
    rig.add_viewer("streamer", ["demo-2"])
    token = rig.new_token("streamer")
    for how in ({"headers": {"Authorization": f"Bearer {token}"}}, {"params": {"token": token}}):
        async with (
            rig.client() as client,
            client.get("/cameras/demo-2/stream.mjpeg", **how) as response,
        ):
            assert response.status == 200
            content_type = response.headers["Content-Type"]
            assert content_type == "multipart/x-mixed-replace; boundary=securecamframe"
            for _ in range(3):
                part = await read_mjpeg_part(response)
                assert part in {jpeg for _, jpeg in rig.accepted["demo-2"]}


async def test_a_snapshot_of_a_granted_camera_without_frames_is_404(share_rig: ShareRig) -> None:
    rig = share_rig
    rig.add_viewer("ghostwatcher", ["ghost"])
    token = rig.new_token("ghostwatcher")
    async with (
        rig.client() as client,
        client.get(f"/cameras/ghost/snapshot.jpg?token={token}") as response,
    ):
        assert response.status == 404


async def test_a_camera_that_no_longer_exists_is_not_served_from_its_last_frame(
    make_share_rig: Callable[..., ShareRig],
) -> None:
    rig = make_share_rig(cameras=1)
    rig.add_viewer("everything", ALL)
    token = rig.new_token("everything")
    await wait_until(lambda: rig.accepted_count["demo-1"] > 0, message="a frame arrives")
    url = f"/cameras/demo-1/snapshot.jpg?token={token}"
    async with rig.client() as client:
        async with client.get(url) as response:
            assert response.status == 200
        rig.camera_names.remove("demo-1")  # the device was removed from the registry
        async with client.get(url) as response:
            assert response.status == 404
            assert (await response.json())["error"] == "no such camera"


# -- failed logins ----------------------------------------------------------------------------


async def login_status(
    rig: ShareRig, name: str, password: str
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with (
        rig.client() as client,
        client.post(
            "/api/login", json={"name": name, "password": password}, headers=rig.origin
        ) as response,
    ):
        return response.status, await response.json(), response


def assert_too_many(status: int, body: dict[str, Any], response: aiohttp.ClientResponse) -> None:
    assert status == 429
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 300
    assert body == {
        "error": f"too many failed logins; try again in {retry_after} s",
        "retry_after": retry_after,
    }


async def test_failed_logins_lock_that_account_but_not_another(
    make_share_rig: Callable[..., ShareRig],
) -> None:
    rig = make_share_rig(
        cameras=0, limits=ShareLimits(failures_per_account=3, failures_per_address=1000)
    )
    rig.add_viewer("carol")
    rig.add_viewer("dave")
    for _ in range(3):
        status, _, _ = await login_status(rig, "carol", "a-wrong-password")
        assert status == 401
    # Even the right password waits now: the guesser cannot tell it was right.
    assert_too_many(*await login_status(rig, "carol", rig.passwords["carol"]))
    status, _, _ = await login_status(rig, "dave", rig.passwords["dave"])
    assert status == 200
    refused = [e for e in rig.audit_entries() if e["event"] == "login refused"]
    assert [e["viewer"] for e in refused] == ["carol"] * 4
    assert refused[-1]["reason"].startswith("too many failed logins")
    rig.assert_no_secrets()


async def test_failed_logins_lock_the_address_whatever_the_name(
    make_share_rig: Callable[..., ShareRig],
) -> None:
    rig = make_share_rig(
        cameras=0, limits=ShareLimits(failures_per_address=3, failures_per_account=1000)
    )
    rig.add_viewer("carol")
    for name in ("x1", "x2", "x3"):
        status, _, _ = await login_status(rig, name, "a-wrong-password")
        assert status == 401
    assert_too_many(*await login_status(rig, "carol", rig.passwords["carol"]))
    entry = rig.audit_entries()[-1]
    assert (entry["event"], entry["viewer"]) == ("login refused", "carol")


async def test_bad_player_tokens_count_against_the_address(
    make_share_rig: Callable[..., ShareRig],
) -> None:
    rig = make_share_rig(
        cameras=0, limits=ShareLimits(failures_per_address=3, failures_per_account=1000)
    )
    rig.add_viewer("carol")
    token = rig.new_token("carol")
    async with rig.client() as client:
        for i in range(3):
            async with client.get(f"/api/cameras?token=sc_guess{i}") as response:
                assert response.status == 401
        async with client.get(f"/api/cameras?token={token}") as response:
            assert response.status == 429
            assert int(response.headers["Retry-After"]) >= 1
    assert rig.audit_entries()[-1]["reason"] == "too many failed attempts from this address"
