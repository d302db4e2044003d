"""A real browser (Debian's Chromium, driven by its chromedriver) on the viewer page over HTTPS.

The server runs in-process on its own event loop thread: a receiver with two demo cameras and
the viewer server with a generated certificate, which the browser trusts by its public key
(`--ignore-certificate-errors-spki-list`, the way Chromium pins one certificate for a test)
rather than by ignoring certificate errors altogether. Chromium or chromedriver missing
fails these tests (they never skip): .ci/run installs both.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from PIL import Image, ImageChops
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from app.devices.lookup import credentials_lookup
from app.protocol.endpoints import local_camera_url
from app.protocol.hello import Suite
from app.receiver.server import Receiver
from app.share.accounts import ALL
from app.share.sharing import Sharing
from app.sim.demo import DemoFleet
from tests.waiting import scaled, wait_until_sync

PASSWORD = "correct horse battery staple"


class LiveShare:
    """Receiver, two demo cameras and the viewer server, on an event loop in a thread."""

    def __init__(self, home: Path, suite: Suite = Suite.NOISE) -> None:
        self.home = home
        self.suite = suite
        self.loop = asyncio.new_event_loop()
        self.fleet = DemoFleet(2)
        self.receiver = Receiver(credentials_lookup(self.fleet.registry), host="127.0.0.1", port=0)
        self.sharing = Sharing(
            home,
            home / "logs",
            lambda: list(self.fleet.names),
            host="127.0.0.1",
            port=0,
            addresses=["127.0.0.1"],
        )
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=scaled(30))

    def start(self) -> None:
        self._thread.start()

        async def start() -> None:
            self.sharing.attach(self.receiver)
            await self.receiver.start()
            await self.sharing.start()
            self.fleet.start(local_camera_url("127.0.0.1", self.receiver.port), self.suite)

        self.call(start())

    def stop(self) -> None:
        async def stop() -> None:
            await self.sharing.stop()
            await self.fleet.stop()
            await self.receiver.stop()

        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=scaled(10))

    @property
    def url(self) -> str:
        assert self.sharing.server is not None
        return f"https://localhost:{self.sharing.server.port}/"

    def spki_hash(self) -> str:
        assert self.sharing.certificate is not None
        spki = self.sharing.certificate.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture
def share(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveShare]:
    live = LiveShare(tmp_path / "home", getattr(request, "param", Suite.NOISE))
    live.sharing.store.add("viewer", cameras=ALL, password=PASSWORD)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def browser(share: LiveShare, tmp_path: Path) -> Iterator[WebDriver]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "install Debian's chromium and chromium-driver (.ci/run does)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
        f"--user-data-dir={tmp_path / 'chromium'}",
        f"--ignore-certificate-errors-spki-list={share.spki_hash()}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(driver))
    try:
        yield browser
    finally:
        browser.quit()


def frames_shown(browser: WebDriver) -> dict[str, int]:
    tiles = browser.find_elements(By.CSS_SELECTOR, "#wall .tile")
    return {
        tile.get_attribute("data-camera") or "": int(tile.get_attribute("data-frames") or 0)
        for tile in tiles
    }


def log_in(browser: WebDriver, share: LiveShare) -> None:
    browser.get(share.url)
    wait_until_sync(lambda: browser.find_element(By.ID, "login").is_displayed(), 20)
    browser.find_element(By.ID, "name").send_keys("viewer")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()


def wall_png(browser: WebDriver) -> Image.Image:
    png = browser.find_element(By.ID, "wall").screenshot_as_png
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_a_viewer_logs_in_and_sees_both_demo_cameras_live_at_their_rate(
    share: LiveShare, browser: WebDriver
) -> None:
    log_in(browser, share)
    names = set(share.fleet.names)
    wait_until_sync(
        lambda: set(frames_shown(browser)) == names and min(frames_shown(browser).values()) >= 5,
        30,
        message="both cameras show frames",
    )
    tiles = browser.find_elements(By.CSS_SELECTOR, "#wall .tile")
    assert {tile.get_attribute("data-encrypted") for tile in tiles} == {"true"}
    assert all("camera link encrypted" in tile.text for tile in tiles)
    assert {tile.get_attribute("data-state") for tile in tiles} == {"live"}
    assert all(tile.get_attribute("data-latency-ms") for tile in tiles)

    # Two screenshots a second apart differ: the picture is live, not a still.
    first = wall_png(browser)
    time.sleep(1.0)  # the interval under test, not a wait for a condition
    second = wall_png(browser)
    assert ImageChops.difference(first, second).getbbox() is not None

    # Frames shown in the page against frames the receiver accepted, over the same interval.
    received_before = {name: share.receiver.stats[name].frames_received for name in names}
    shown_before = frames_shown(browser)
    time.sleep(2.0)  # a measuring window; the assertion is on a ratio, not a duration
    shown = frames_shown(browser)
    received = {name: share.receiver.stats[name].frames_received for name in names}
    for name in names:
        ratio = (shown[name] - shown_before[name]) / (received[name] - received_before[name])
        print(f"{name}: shown/received = {ratio:.2f}")
        assert ratio >= 0.7, f"{name} shows {ratio:.0%} of the camera's frames"

    errors = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "/api/session" not in entry["message"]
    ]
    assert errors == []  # no CSP violation, no script error


def test_a_removed_viewer_loses_the_stream_and_sees_the_login_again(
    share: LiveShare, browser: WebDriver
) -> None:
    log_in(browser, share)
    wait_until_sync(lambda: sum(frames_shown(browser).values()) >= 10, 30)
    removed_at = time.monotonic()
    share.sharing.store.remove("viewer")
    wait_until_sync(
        lambda: browser.find_element(By.ID, "login").is_displayed(),
        10,
        message="the page goes back to the login form",
    )
    print(f"login shown {time.monotonic() - removed_at:.2f} s after the removal")
    wait_until_sync(lambda: not share.sharing.hub.streams(), 5, message="no stream is left open")
    audit = (share.home / "logs" / "share-audit.log").read_text()
    assert '"event": "revoked"' in audit and "viewer removed" in audit
    assert PASSWORD not in audit


@pytest.mark.parametrize("share", [Suite.PLAIN], indirect=True)
def test_a_plain_camera_is_marked_plain_and_insecure_in_the_page(
    share: LiveShare, browser: WebDriver
) -> None:
    log_in(browser, share)
    wait_until_sync(lambda: sum(frames_shown(browser).values()) >= 4, 30)
    for tile in browser.find_elements(By.CSS_SELECTOR, "#wall .tile"):
        assert tile.get_attribute("data-encrypted") == "false"
        assert "PLAIN — INSECURE" in tile.text
        assert "camera link encrypted" not in tile.text


def test_a_tile_opens_in_a_large_view_and_the_page_reconnects_after_a_restart(
    share: LiveShare, browser: WebDriver
) -> None:
    log_in(browser, share)
    wait_until_sync(lambda: min(frames_shown(browser).values(), default=0) >= 3, 30)
    tile = browser.find_elements(By.CSS_SELECTOR, "#wall .tile")[0]
    tile.click()
    wait_until_sync(lambda: "large" in (tile.get_attribute("class") or ""), 10)
    browser.find_element(By.TAG_NAME, "body").send_keys("\ue00c")  # Escape closes it
    wait_until_sync(lambda: "large" not in (tile.get_attribute("class") or ""), 10)

    # The app restarts its viewer server (same port, same session key): the page comes back
    # by itself, without a new login, and frames flow again.
    assert share.sharing.server is not None
    port = share.sharing.server.port
    share.call(share.sharing.stop())
    wait_until_sync(lambda: "reconnecting" in browser.find_element(By.ID, "status").text, 20)
    share.sharing.port = port
    share.call(share.sharing.start())
    before = sum(frames_shown(browser).values())
    wait_until_sync(
        lambda: sum(frames_shown(browser).values()) >= before + 20,
        30,
        message="frames flow again after the restart",
    )
    assert not browser.find_element(By.ID, "login").is_displayed()
