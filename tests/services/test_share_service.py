"""ShareService: a real viewer server switched on and off on the app's (qasync) loop, its
failures as one line of text, the viewer accounts, and who is watching."""

import asyncio
import hashlib
import json
import logging
import socket
import ssl

import aiohttp
import pytest

from app.services import settings as settings_module
from app.services.app_services import AppServices
from app.services.settings import ReceiverSettings, ShareSettings
from app.services.share_service import ALL, ShareState, ViewerExists
from app.share import server as share_server
from app.share.accounts import UnknownViewer, ViewerStore
from app.share.certs import CERT_FILE, KEY_FILE
from tests.helpers import run
from tests.waiting import wait_until


@pytest.fixture
def services(tmp_path, qloop):
    services = AppServices(tmp_path / "home")
    services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
    services.settings.save_share(ShareSettings(host="127.0.0.1", port=0))
    yield services
    qloop.run_until_complete(services.shutdown())


def client_context(services: AppServices) -> ssl.SSLContext:
    """A TLS client that trusts exactly the certificate Share made (hostname checked)."""
    return ssl.create_default_context(cafile=str(services.config_dir / CERT_FILE))


def browser_fingerprint(der: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def recorder(signal) -> list:
    seen: list = []
    signal.connect(lambda: seen.append(True))
    return seen


def test_the_default_share_port_is_the_servers():
    assert settings_module.DEFAULT_SHARE_PORT == share_server.DEFAULT_SHARE_PORT == 8443
    assert ShareSettings() == ShareSettings(enabled=False, host="0.0.0.0", port=8443)


def test_share_settings_round_trip_and_bad_values_fall_back(tmp_path):
    stored = settings_module.Settings(tmp_path)
    assert stored.share() == ShareSettings()
    stored.save_share(ShareSettings(enabled=True, host="192.168.1.20", port=9443))
    assert settings_module.Settings(tmp_path).share() == ShareSettings(True, "192.168.1.20", 9443)
    stored.save_share(ShareSettings(enabled=False, host="::", port=0))
    assert settings_module.Settings(tmp_path).share() == ShareSettings(False, "::", 0)
    text = (tmp_path / "settings.ini").read_text()
    (tmp_path / "settings.ini").write_text(
        text.replace("enabled=false", "enabled=maybe").replace("port=0", "port=99999")
    )
    assert settings_module.Settings(tmp_path).share() == ShareSettings(False, "::", 8443)


def test_switching_on_serves_https_and_switching_off_closes_the_port(qloop, services):
    share = services.share
    states: list[ShareState] = []
    share.stateChanged.connect(lambda: states.append(share.state))

    async def scenario():
        assert share.state is ShareState.OFF and share.port is None and share.urls() == []
        assert await share.start()
        assert share.state is ShareState.ON and share.error is None
        port = share.port
        assert port and share.urls() == [f"https://127.0.0.1:{port}/"]
        assert services.settings.share().enabled  # on at the next start
        context = client_context(services)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"https://127.0.0.1:{port}/api/session", ssl=context) as response,
        ):
            assert response.status == 401
        # The certificate served is the one whose fingerprint the window shows.
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.transport.abort()
        assert browser_fingerprint(der) == share.fingerprint

        await share.stop()
        assert share.state is ShareState.OFF and not share.running
        assert share.fingerprint is None and share.urls() == []
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        assert not services.settings.share().enabled

    run(qloop, scenario())
    assert states == [ShareState.STARTING, ShareState.ON, ShareState.STOPPING, ShareState.OFF]


def test_a_port_in_use_is_an_error_line_not_an_exception(qloop, services):
    share = services.share
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    share.configure("127.0.0.1", port)
    changes = recorder(share.stateChanged)

    async def scenario():
        assert not await share.start()
        assert share.state is ShareState.ERROR and not share.running
        assert share.error == (
            f"port {port} is already in use by another program: choose another port, "
            "or stop the program that uses it"
        )
        assert changes and share.port is None and share.fingerprint is None
        assert not services.settings.share().enabled
        busy.close()
        assert await share.start()  # the port is free now: the error is gone
        assert share.state is ShareState.ON and share.error is None and share.port == port

    try:
        run(qloop, scenario())
    finally:
        busy.close()


def test_an_unusable_certificate_is_an_error_line_naming_the_file(qloop, services):
    share = services.share
    (services.config_dir / CERT_FILE).write_text("not a certificate\n")
    (services.config_dir / KEY_FILE).write_text("not a key\n")

    async def scenario():
        assert not await share.start()
        assert share.state is ShareState.ERROR and not share.running
        assert share.error.startswith("the Share certificate cannot be used: ")
        assert CERT_FILE in share.error

    run(qloop, scenario())


def test_an_unusable_session_key_file_is_an_error_line_naming_it(qloop, services):
    share = services.share
    key = services.config_dir / "share-session.key"
    key.mkdir()  # unreadable as a key, even for root

    async def scenario():
        assert not await share.start()
        assert share.state is ShareState.ERROR and not share.running
        assert share.error == f"cannot use {key}: Is a directory"

    run(qloop, scenario())


def test_share_comes_back_on_at_start_and_follows_a_receiver_restart(qloop, services):
    services.settings.save_share(ShareSettings(enabled=True, host="127.0.0.1", port=0))
    share = services.share
    hub = share.sharing.hub

    async def scenario():
        assert await services.start(demo=1)
        assert share.state is ShareState.ON
        await wait_until(lambda: hub.latest("demo-1"), 10)
        assert await services.restart_receiver()  # the old receiver is stopped for good
        published = hub.frames_published
        await wait_until(lambda: hub.frames_published > published + 3, 10)
        await services.shutdown()
        assert not share.running
        assert services.settings.share().enabled  # closing the app is not switching it off

    run(qloop, scenario())


def test_viewer_accounts_change_through_the_service(qloop, services, caplog):
    caplog.set_level(logging.DEBUG)
    share = services.share
    store = ViewerStore(services.config_dir)  # another reader, as the CLI would be
    changes = recorder(share.viewersChanged)
    secrets: list[str] = []

    async def scenario():
        password = await share.add_viewer("alice", ["porch"])
        secrets.append(password)
        assert len(password) >= 24 and store.verify_password("alice", password) is not None
        assert store.get("alice").cameras == ("porch",)
        with pytest.raises(ViewerExists):
            await share.add_viewer("alice", ALL)
        with pytest.raises(ValueError, match="invalid viewer name"):
            await share.add_viewer("no spaces", ALL)
        share.set_cameras("alice", ALL)
        assert store.get("alice").cameras is ALL
        token = share.new_token("alice")
        secrets.append(token)
        assert store.viewer_for_token(token).name == "alice"
        renewed = await share.new_password("alice")
        secrets.append(renewed)
        assert store.verify_password("alice", password) is None
        assert store.verify_password("alice", renewed) is not None
        assert store.viewer_for_token(token) is None  # a new password ends the token
        share.remove_viewer("alice")
        assert store.lookup("alice") is None
        with pytest.raises(UnknownViewer):
            share.remove_viewer("alice")
        with pytest.raises(UnknownViewer):
            share.new_token("alice")

    run(qloop, scenario())
    assert len(changes) == 5  # add, cameras, token, password, remove: once each
    assert "alice" in caplog.text  # the accounts logged their changes...
    for secret in secrets:
        assert secret not in caplog.text  # ...never a secret


def test_accounts_changed_by_another_program_are_noticed(qloop, services):
    share = services.share
    changes = recorder(share.viewersChanged)

    async def scenario():
        ViewerStore(services.config_dir).add("bob", cameras=ALL)  # `securecam viewer add`
        await wait_until(lambda: changes, 5)
        assert [viewer.name for viewer in share.viewers()] == ["bob"]
        (services.config_dir / "viewers.json").write_text("{ not json")
        await wait_until(lambda: share.viewers_problem, 5)
        assert "not valid JSON" in share.viewers_problem
        assert len(changes) == 2

    run(qloop, scenario())


def test_a_player_watching_is_counted_until_it_leaves(qloop, services):
    share = services.share
    changes = recorder(share.watchersChanged)

    async def scenario():
        await services.start(demo=1)
        assert await share.start()
        await share.add_viewer("tv", ["demo-1"])
        token = share.new_token("tv")
        url = share.player_url("demo-1", token)
        assert url == f"https://127.0.0.1:{share.port}/cameras/demo-1/stream.mjpeg?token={token}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, ssl=client_context(services)) as response,
        ):
            assert response.status == 200
            await response.content.readuntil(b"--" + share_server.BOUNDARY.encode())
            await wait_until(lambda: share.viewer_count("demo-1") == 1, 5)
            [watcher] = share.watchers()
            assert (watcher.viewer, watcher.address, watcher.player) == ("tv", "127.0.0.1", True)
            assert watcher.cameras == ("demo-1",)
            assert share.viewer_count("porch") == 0
        await wait_until(lambda: share.watchers() == (), 5)
        assert share.viewer_count("demo-1") == 0
        assert len(changes) >= 2

    run(qloop, scenario())


def test_the_audit_log_is_written_to_the_log_directory(qloop, services):
    share = services.share

    async def scenario():
        assert await share.start()
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"https://127.0.0.1:{share.port}/api/session", ssl=client_context(services)
            ) as response,
        ):
            assert response.status == 401

    run(qloop, scenario())
    lines = (services.config_dir / "logs" / "share-audit.log").read_text().splitlines()
    entry = json.loads(lines[-1])
    assert (entry["event"], entry["address"], entry["reason"]) == (
        "refused",
        "127.0.0.1",
        "no credentials",
    )
