"""Regenerate docs/images/share-panel.png: `xvfb-run -a -s "-screen 0 1600x1000x24"
.venv/bin/python docs/share_screenshots.py` (or without xvfb-run: offscreen).

The real window with four demo cameras and Share switched on through its switch; a viewer
added through the Add viewer dialog, another with a player token; then a browser-like client
(login and /ws) and a player (MJPEG with the token) watch while the window is grabbed. The
generated password and token are never on screen when it is: their dialogs are closed first.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
import ssl
import sys
import tempfile
from pathlib import Path

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import aiohttp
import qasync
from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from app.services.app_services import AppServices
from app.services.settings import ReceiverSettings, ShareSettings
from app.services.share_service import ShareState
from app.share.certs import CERT_FILE
from app.ui.main_window import MainWindow

OUT = Path(__file__).resolve().parent / "images"
SHARE_PORT = 8443


async def until(predicate, timeout: float = 20.0):  # noqa: ANN001, ANN201
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := predicate()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the window did not get there")
        await asyncio.sleep(0.05)
    return value


async def watch_page(base: str, context: ssl.SSLContext, name: str, password: str) -> None:
    """Log in like the page and take frames of two cameras until cancelled."""
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
            async for _ in ws:
                pass


async def watch_player(url: str, context: ssl.SSLContext) -> None:
    """Read an MJPEG stream like VLC until cancelled."""
    async with aiohttp.ClientSession() as session, session.get(url, ssl=context) as response:
        response.raise_for_status()
        async for _ in response.content.iter_chunked(65536):
            pass


async def shoot(window: MainWindow, services: AppServices) -> None:
    panel = window.share_panel
    share = services.share
    await services.start(demo=4)
    await until(lambda: len(services.receiver.live_devices()) == 4)
    panel.raise_()
    panel.switch.click()
    await until(lambda: share.state is ShareState.ON)

    # A viewer added the way a user does it: through the dialog.
    panel.add_button.click()
    dialog = panel.add_dialog
    assert dialog is not None
    dialog.name_edit.setText("alice")
    dialog.chooser.only_radio.setChecked(True)
    dialog.chooser.set_checked(["demo-1", "demo-2"])
    dialog.expiry_combo.setCurrentIndex(dialog.expiry_combo.findText("In 30 days"))
    dialog.grab().save("/tmp/share-add-dialog.png")
    dialog.add_button.click()
    secret = await until(lambda: panel.secret_dialog)
    password = secret.secret_edit.text()
    secret.grab().save("/tmp/share-password-dialog.png")  # for review only: holds a password
    secret.done_button.click()

    await share.add_viewer("livingroom-tv", ["demo-3"])
    token = share.new_token("livingroom-tv")
    await share.add_viewer("grandma", ["demo-1"])
    panel.select_viewer("livingroom-tv")
    panel.new_token_for_selected()
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
    await until(lambda: len(share.watchers()) == 2)
    await asyncio.sleep(3)  # fps over a full window, tiles refreshed
    window.refresh_tiles()
    panel.select_viewer("alice")
    await asyncio.sleep(0.3)
    assert password not in str([e.text() for e in window.findChildren(type(secret.secret_edit))])
    save_small(window.grab().toImage(), OUT / "share-panel.png")
    for task in watchers:
        task.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    await services.shutdown()


def save_small(image: QImage, path: Path) -> None:
    """A 256-colour PNG: the demo cameras' noise would make a true-colour one ~650 KB."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    picture = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    picture = picture.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    picture.save(path, optimize=True)


def free(port: int) -> bool:
    with contextlib.closing(socket.socket()) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def main() -> int:
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as home:
        services = AppServices(Path(home))
        services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
        port = SHARE_PORT if free(SHARE_PORT) else 0
        services.settings.save_share(ShareSettings(host="0.0.0.0", port=port))
        window = MainWindow(services)
        window.resize(1600, 1000)
        window.show()
        window.resizeDocks([window.share_panel], [350], Qt.Orientation.Vertical)
        window.move(QPoint(0, 0))
        OUT.mkdir(exist_ok=True)
        try:
            loop.run_until_complete(shoot(window, services))
        finally:
            loop.close()  # also ends the worker threads viewer passwords were hashed in
    return 0


if __name__ == "__main__":
    sys.exit(main())
