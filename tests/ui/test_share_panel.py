"""The Share panel as a user meets it: a real viewer server on loopback, real dialogs, a real
viewer over TLS and WebSocket; passwords and tokens shown once and never logged."""

import ast
import asyncio
import json
import socket
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox, QTableWidget

from app.devices.registry import Registry
from app.services.share_service import ALL, ShareState
from app.share.accounts import VIEWERS_FILE, ViewerStore
from app.share.certs import CERT_FILE
from app.ui.main_window import MainWindow
from app.ui.share_panel import SecretDialog, expires_text
from app.ui.tile import CameraTile, TileInfo
from tests.helpers import run
from tests.waiting import wait_until

UI = Path(__file__).resolve().parents[2] / "app" / "ui"


def client_context(services) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(services.config_dir / CERT_FILE))


def shown_text(window) -> str:
    """Every text the window and its open dialogs show, the log dock included."""
    parts = [edit.text() for edit in window.findChildren(QLineEdit)]
    parts += [label.text() for label in window.findChildren(QLabel)]
    for table in window.findChildren(QTableWidget):
        parts += [
            table.item(row, column).text()
            for row in range(table.rowCount())
            for column in range(table.columnCount())
            if table.item(row, column) is not None
        ]
    parts.append(window.log_dock.plain_text())
    return "\n".join(parts)


def register(services, *names: str) -> None:
    registry = Registry(services.config_dir)
    for name in names:
        registry.add(name)
    services.devices.devicesChanged.emit()


async def switch_on(panel) -> int:
    panel.switch.click()
    await wait_until(lambda: panel.service.state is ShareState.ON, 10)
    return panel.service.port


async def secret_shown(panel) -> SecretDialog:
    def shown():
        dialog = panel.secret_dialog
        return dialog if dialog is not None and dialog.isVisible() else None

    return await wait_until(shown)


async def close_secret(window, panel) -> None:
    panel.secret_dialog.done_button.click()
    await wait_until(lambda: not window.findChildren(SecretDialog))  # deleted, not just hidden


def test_the_switch_runs_a_real_server_and_shows_where_and_which_certificate(
    qloop, services, window
):
    panel = window.share_panel
    share = services.share

    async def scenario():
        assert not panel.switch.isChecked() and panel.switch.text() == "Share: off"
        assert panel.url_edits == [] and panel.fingerprint_label.isHidden()
        port = await switch_on(panel)
        assert panel.switch.isChecked() and panel.switch.text() == "Share: on"
        assert panel.state_label.text() == f"On: port {port}, 127.0.0.1."
        assert [edit.text() for edit in panel.url_edits] == [f"https://127.0.0.1:{port}/"]
        assert all(edit.isReadOnly() for edit in panel.url_edits)
        assert panel.fingerprint_label.text().replace("\n", "") == share.fingerprint
        assert "fingerprint their browser shows" in panel.fingerprint_hint.text()
        assert not panel.port_spin.isEnabled() and not panel.host_combo.isEnabled()
        assert "Share on" in window.share_label.text()

        # A real HTTPS server, with the certificate whose fingerprint the panel shows.
        context = client_context(services)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"https://127.0.0.1:{port}/api/session", ssl=context) as response,
        ):
            assert response.status == 401
        # Its audit line (logger app.share.audit) reaches the log dock.
        await wait_until(lambda: "no credentials" in window.log_dock.plain_text())
        [line] = [
            line for line in window.log_dock.plain_text().splitlines() if "no credentials" in line
        ]
        assert "WARNING app.share.audit: refused from 127.0.0.1" in line

        panel.switch.click()
        await wait_until(lambda: share.state is ShareState.OFF, 10)
        assert not panel.switch.isChecked() and panel.url_edits == []
        assert panel.fingerprint_label.isHidden() and panel.port_spin.isEnabled()
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)

    run(qloop, scenario())


def test_a_port_in_use_is_shown_and_the_switch_goes_back_off(qloop, services, window):
    panel = window.share_panel
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]

    async def scenario():
        panel.port_spin.setValue(port)
        panel.switch.click()
        await wait_until(lambda: services.share.state is ShareState.ERROR, 10)
        assert not panel.switch.isChecked() and panel.switch.isEnabled()
        text = panel.state_label.text()
        assert text.startswith("Not sharing: ") and f"port {port} is already in use" in text
        assert panel.port_spin.isEnabled()  # choose another port and try again
        assert "not started" in window.share_label.text()

    try:
        run(qloop, scenario())
    finally:
        busy.close()


def test_adding_a_viewer_through_the_dialog_shows_the_password_once(qloop, services, window, qtbot):
    register(services, "porch", "garden")
    panel = window.share_panel
    accounts = services.config_dir / VIEWERS_FILE

    async def scenario():
        panel.add_button.click()
        dialog = panel.add_dialog
        assert dialog is not None and dialog.isVisible() and not dialog.add_button.isEnabled()
        qtbot.keyClicks(dialog.name_edit, "alice")
        assert dialog.add_button.isEnabled()
        radio = dialog.chooser.only_radio
        # on its circle: a radio button takes clicks on its indicator and label only
        qtbot.mouseClick(radio, Qt.MouseButton.LeftButton, pos=QPoint(6, radio.height() // 2))
        assert radio.isChecked()
        assert not dialog.add_button.isEnabled()  # "only these", and none ticked yet
        [porch] = dialog.chooser.camera_list.findItems("porch", Qt.MatchFlag.MatchExactly)
        porch.setCheckState(Qt.CheckState.Checked)
        assert dialog.add_button.isEnabled()
        dialog.expiry_combo.setCurrentIndex(dialog.expiry_combo.findText("In 7 days"))
        qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)

        secret = await secret_shown(panel)
        assert panel.add_dialog is None  # closed (and deleted) once the account exists
        password = secret.secret_edit.text()
        assert secret.secret_edit.isReadOnly() and len(password) == 24
        assert "shown only now" in secret.notice_label.text()
        stored = ViewerStore(services.config_dir)
        assert stored.verify_password("alice", password) is not None
        entry = json.loads(accounts.read_text())["viewers"]["alice"]
        assert entry["cameras"] == {"only": ["porch"]}
        expires = datetime.strptime(entry["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=5)
        assert password not in accounts.read_text()
        viewer = stored.get("alice")
        assert panel.viewer_rows() == [["alice", "porch", expires_text(viewer), "no"]]
        assert panel.selected_viewer().name == "alice"

        await close_secret(window, panel)
        assert password not in shown_text(window)  # shown once: gone with its dialog
        assert "added viewer alice" in window.log_dock.plain_text()

        # The same name again is refused in the dialog itself.
        panel.add_button.click()
        again = panel.add_dialog
        qtbot.keyClicks(again.name_edit, "alice")
        assert not again.add_button.isEnabled()
        assert "already exists" in again.status_label.text()
        again.reject()

    run(qloop, scenario())


def test_remove_asks_first_and_ends_the_account(qloop, services, window):
    panel = window.share_panel
    store = ViewerStore(services.config_dir)

    async def scenario():
        await services.share.add_viewer("bob", ALL)
        await wait_until(lambda: panel.select_viewer("bob"))
        panel.remove_button.click()
        box = panel.confirm_box
        assert box is not None and "'bob'" in box.text()
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.No).click()
        assert store.lookup("bob") is not None and panel.viewer_rows()[0][0] == "bob"

        panel.remove_button.click()
        panel.confirm_box.button(QMessageBox.StandardButton.Yes).click()
        assert store.lookup("bob") is None
        assert panel.viewer_rows() == []
        assert not panel.remove_button.isEnabled()

    run(qloop, scenario())


def test_new_password_player_token_and_cameras_from_the_panel(qloop, services, window):
    register(services, "porch", "garden")
    panel = window.share_panel
    store = ViewerStore(services.config_dir)
    secrets: list[str] = []

    async def scenario():
        port = await switch_on(panel)
        first = await services.share.add_viewer("carol", ["porch"])
        secrets.append(first)
        await wait_until(lambda: panel.select_viewer("carol"))

        panel.token_button.click()  # no token yet: nothing to confirm
        secret = await secret_shown(panel)
        token = secret.secret_edit.text()
        secrets.append(token)
        assert token.startswith("sc_") and store.viewer_for_token(token).name == "carol"
        url = f"https://127.0.0.1:{port}/cameras/porch/stream.mjpeg?token={token}"
        assert [edit.text() for edit in secret.extra_edits] == [url, f'ffplay "{url}"']
        assert "shown only now" in secret.notice_label.text()
        assert panel.viewer_rows()[0][3] == "yes"
        await close_secret(window, panel)

        panel.token_button.click()  # one exists now: replacing it is asked first
        panel.confirm_box.button(QMessageBox.StandardButton.Yes).click()
        replaced = (await secret_shown(panel)).secret_edit.text()
        secrets.append(replaced)
        assert replaced != token and store.viewer_for_token(token) is None
        await close_secret(window, panel)

        panel.password_button.click()
        panel.confirm_box.button(QMessageBox.StandardButton.Yes).click()
        secret = await secret_shown(panel)
        password = secret.secret_edit.text()
        secrets.append(password)
        assert f"https://127.0.0.1:{port}/" in secret.intro_label.text()
        assert store.verify_password("carol", first) is None
        assert store.verify_password("carol", password) is not None
        assert panel.viewer_rows()[0][3] == "no"  # a new password ends the token
        await close_secret(window, panel)

        panel.cameras_button.click()
        dialog = panel.cameras_dialog
        assert dialog.chooser.checked() == ["porch"] and dialog.chooser.only_radio.isChecked()
        dialog.chooser.all_radio.click()
        dialog.ok_button.click()
        assert store.get("carol").cameras is ALL
        assert panel.viewer_rows()[0][1] == "all cameras"

        text = shown_text(window)
        for value in secrets:
            assert value not in text

    run(qloop, scenario())


def test_a_viewer_watching_shows_in_watching_now_and_on_the_tile(qloop, services, window):
    panel = window.share_panel
    share = services.share

    async def scenario():
        await services.start(demo=1)
        tile = await wait_until(lambda: window.wall.tiles.get("demo-1"), 10)
        await switch_on(panel)
        password = await share.add_viewer("dave", ALL)
        base = share.urls()[0]
        origin = base.rstrip("/")
        context = client_context(services)
        assert panel.watchers_label.text() == "Nobody is watching."
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.post(
                f"{base}api/login",
                json={"name": "dave", "password": password},
                headers={"Origin": origin},
                ssl=context,
            ) as response:
                assert response.status == 200
            ws_url = f"wss://{origin.removeprefix('https://')}/ws"
            async with session.ws_connect(ws_url, ssl=context, origin=origin) as ws:
                assert (await ws.receive_json())["type"] == "hello"
                await ws.send_json({"type": "subscribe", "cameras": ["demo-1"]})
                while (await ws.receive()).type is not aiohttp.WSMsgType.BINARY:
                    pass
                await wait_until(lambda: panel.watcher_rows() and panel.watcher_rows()[0][2], 5)
                [row] = panel.watcher_rows()
                assert row[:3] == ["dave", "127.0.0.1", "demo-1"]
                assert float(row[3]) >= 0 and int(row[4]) >= 0
                assert panel.watchers_label.text() == "1 stream, 1 viewer"
                await wait_until(lambda: tile.info.viewers == 1, 5)
                assert tile.viewers_badge == "1 viewer"
                assert "watched by 1 viewer" in tile.toolTip()
                assert "1 watching" in window.share_label.text()
        await wait_until(lambda: panel.watcher_rows() == [], 5)
        await wait_until(lambda: tile.info.viewers == 0, 5)
        assert tile.viewers_badge is None
        assert password not in shown_text(window)

    run(qloop, scenario(), timeout=60)


def test_the_viewer_count_is_painted_on_the_tile_only_when_someone_watches(qtbot):
    tile = CameraTile("porch")
    qtbot.addWidget(tile)
    tile.resize(320, 240)
    tile.show()
    corner = tile.rect().bottomRight() + QPoint(-12, -8)  # in the bottom bar, right-aligned

    def corner_colour():
        return tile.grab().toImage().pixelColor(corner)

    nobody = corner_colour()
    tile.set_info(TileInfo(viewers=2))
    assert tile.viewers_badge == "2 viewers"
    assert corner_colour() != nobody
    tile.set_info(TileInfo())
    assert corner_colour() == nobody


def test_the_share_panel_is_a_remembered_dock_with_a_view_menu_toggle(qloop, services, window):
    panel = window.share_panel
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert panel.toggleViewAction() in view_menu.actions()
    assert window.dockWidgetArea(panel) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert panel in window.tabifiedDockWidgets(window.log_dock)
    panel.toggleViewAction().trigger()  # hidden by the user...
    assert panel.isHidden()
    window.close()
    reopened = MainWindow(services)  # ...stays hidden next time
    try:
        assert reopened.share_panel.isHidden()
    finally:
        reopened.close()
        reopened.deleteLater()


def test_the_window_reaches_the_viewer_server_only_through_its_service():
    forbidden = ("aiohttp", "jwt", "cryptography", "app.share.server", "app.share.sharing")
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert not module.startswith(forbidden), f"{path.name} imports {module}"
