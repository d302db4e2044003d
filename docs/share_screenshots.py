"""The Share panel's screenshots, taken by docs/screenshots.py (the one entry point).

In the real window with four demo cameras: Share switched on through its switch; a viewer added
through the Add viewer dialog, another with a player token; then a browser-like client (login
and /ws) and a player (MJPEG with the token) watch while the window is grabbed.

Secrets never reach a screenshot: the dialog showing the generated password is closed
unseen, the secret dialog is shot showing PLACEHOLDER instead, and every shot is checked
against the real password and token (`Shot.secrets`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from app.services.app_services import AppServices
from app.services.share_service import ShareState
from app.share.certs import CERT_FILE
from app.ui.main_window import MainWindow

SHARE_PORT = 8443
PLACEHOLDER = "●" * 20  # what the secret dialog shows in a screenshot


class Shot:
    """What the shooting functions are handed: `await shot(name, widget)` saves a grab of
    `widget` as NN-name.png; `secrets` are texts no grab may contain (checked before saving)."""

    secrets: set[str]

    async def __call__(self, name: str, widget: QWidget) -> None:  # pragma: no cover
        raise NotImplementedError


async def until(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := predicate()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the window did not get there")
        await asyncio.sleep(0.05)
    return value


async def watch_page(base: str, context: ssl.SSLContext, name: str, password: str) -> None:
    """Log in like the page and take frames of two cameras until cancelled, acknowledging
    each as the page does (the server sends a page only a few frames ahead)."""
    origin = base.rstrip("/")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post(
            f"{base}api/login",
            json={"name": name, "password": password},
            headers={"Origin": origin},
            ssl=context,
        ) as response:
            response.raise_for_status()
        ws_url = origin.replace("https://", "wss://") + "/ws"
        async with session.ws_connect(ws_url, ssl=context, origin=origin) as ws:
            await ws.send_json({"type": "subscribe", "cameras": ["demo-1", "demo-2"]})
            async for message in ws:
                if message.type is aiohttp.WSMsgType.BINARY:
                    (length,) = struct.unpack(">I", message.data[:4])
                    camera = json.loads(message.data[4 : 4 + length])["camera"]
                    await ws.send_json({"type": "ack", "camera": camera})


async def watch_player(url: str, context: ssl.SSLContext) -> None:
    """Read an MJPEG stream like VLC until cancelled."""
    async with aiohttp.ClientSession() as session, session.get(url, ssl=context) as response:
        response.raise_for_status()
        async for _ in response.content.iter_chunked(65536):
            pass


def free(port: int) -> bool:
    with contextlib.closing(socket.socket()) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


async def shoot_share(
    window: MainWindow,
    services: AppServices,
    shot: Callable[[str, QWidget], Awaitable[None]],
    secrets: set[str],
) -> None:
    """The Share panel with viewers and watchers, and its dialogs (cameras already live).

    Adds the real password and token to `secrets` as soon as they exist.
    """
    panel = window.share_panel
    share = services.share
    panel.show()
    panel.raise_()
    window.resizeDocks([panel], [max(300, window.height() * 2 // 5)], Qt.Orientation.Vertical)
    panel.switch.click()
    await until(lambda: share.state is ShareState.ON)

    # A viewer added the way a user does it: through the dialog.
    dialog = panel.open_add_dialog()
    dialog.name_edit.setText("alice")
    dialog.chooser.only_radio.setChecked(True)
    dialog.chooser.set_checked(["demo-1", "demo-2"])
    dialog.expiry_combo.setCurrentIndex(dialog.expiry_combo.findText("In 30 days"))
    await shot("share-add-viewer", dialog)
    dialog.add_button.click()
    secret = await until(lambda: panel.secret_dialog)
    password = secret.secret_edit.text()
    secrets.add(password)
    secret.done_button.click()  # closed unseen: it holds the password
    await until(lambda: panel.secret_dialog is None)

    await share.add_viewer("livingroom-tv", ["demo-3"])
    token = share.new_token("livingroom-tv")
    secrets.add(token)
    await share.add_viewer("grandma", ["demo-1"])
    panel.select_viewer("livingroom-tv")
    panel.new_token_for_selected()
    assert panel.confirm_box is not None
    panel.confirm_box.button(panel.confirm_box.StandardButton.No).click()

    context = ssl.create_default_context(cafile=str(services.config_dir / CERT_FILE))
    context.check_hostname = False  # the LAN address may be newer than the certificate
    base = f"https://127.0.0.1:{share.port}/"
    watchers = [
        asyncio.ensure_future(watch_page(base, context, "alice", password)),
        asyncio.ensure_future(
            watch_player(f"{base}cameras/demo-3/stream.mjpeg?token={token}", context)
        ),
    ]
    try:
        await until(lambda: len(share.watchers()) == 2)
        await asyncio.sleep(3)  # fps over a full window, tiles refreshed
        window.refresh_tiles()
        panel.select_viewer("alice")
        await asyncio.sleep(0.3)
        await shot("share-panel", window)

        cameras = panel.open_cameras_dialog()
        assert cameras is not None
        await shot("share-cameras", cameras)
        cameras.reject()

        # The password dialog as a viewer's creator sees it, with a placeholder for the secret.
        panel._show_password("alice", PLACEHOLDER, "added")
        shown = await until(lambda: panel.secret_dialog)
        await shot("share-password", shown)
        shown.done_button.click()
        await until(lambda: panel.secret_dialog is None)
    finally:
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
