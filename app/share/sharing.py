"""Sharing assembled: the server with its accounts, certificate, sessions, hub and audit log.

`securecam serve --share` and the window's Share panel both build one `Sharing` from the config
and log directories. It follows the receiver it is attached to (the window restarts its
receiver when the settings change) and never touches Qt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from app.protocol.endpoints import DEFAULT_SHARE_PORT, WILDCARD_HOSTS
from app.receiver.events import FrameArrived, ReceiverEvent
from app.receiver.server import Receiver
from app.receiver.stats import DeviceStats
from app.share.accounts import ViewerStore
from app.share.audit import AUDIT_FILE, AuditLog
from app.share.hub import ShareHub
from app.share.limits import ShareLimits

if TYPE_CHECKING:
    from app.share.certs import ShareCertificate
    from app.share.server import ShareServer

log = logging.getLogger(__name__)


class Sharing:
    """The viewer server for one config directory.

    `known` names the cameras that exist (registered and demo). `start` makes the
    certificate and the session key on first use and binds; it raises OSError (the port is
    taken, a file cannot be written) or CertificateError.
    """

    def __init__(
        self,
        config_dir: Path,
        log_dir: Path | None,
        known: Callable[[], Iterable[str]],
        *,
        host: str = "0.0.0.0",
        port: int = DEFAULT_SHARE_PORT,
        limits: ShareLimits | None = None,
        addresses: list[str] | None = None,
    ) -> None:
        self.config_dir = Path(config_dir)
        self.store = ViewerStore(self.config_dir)
        self.audit = AuditLog(None if log_dir is None else Path(log_dir) / AUDIT_FILE)
        self.hub = ShareHub(self._stats, known)
        self.host = host
        self.port = port
        self.limits = limits or ShareLimits()
        self._addresses = addresses
        self._receiver: Receiver | None = None
        self.server: ShareServer | None = None
        self.certificate: ShareCertificate | None = None

    # -- the receiver it follows ---------------------------------------------------------------

    def attach(self, receiver: Receiver | None) -> None:
        """Take frames and camera state from `receiver` (None: from nothing) from now on."""
        if self._receiver is not None:
            self._receiver.remove_listener(self._on_event)
        self._receiver = receiver
        if receiver is not None:
            receiver.add_listener(self._on_event)

    def _on_event(self, event: ReceiverEvent) -> None:
        if isinstance(event, FrameArrived):
            self.hub.publish(event.frame)

    def _stats(self, camera: str) -> DeviceStats | None:
        return None if self._receiver is None else self._receiver.stats.get(camera)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.server is not None:
            return
        # The server's stack (aiohttp, cryptography) loads here, not with the window: it
        # would add about a quarter of a second to every start-up, shared or not.
        from app.share import certs
        from app.share.server import ShareServer
        from app.share.sessions import SessionKeys, load_or_create_key

        self.certificate = certs.load_or_create(self.config_dir, addresses=self._addresses)
        for name in self.certificate.missing_addresses:
            log.warning(
                "the Share certificate does not cover %s: browsers opening that address will "
                "warn; run `securecam share renew` to make one that does",
                name,
            )
        keys = SessionKeys(load_or_create_key(self.config_dir))
        server = ShareServer(
            self.store,
            self.certificate,
            keys,
            self.hub,
            self.audit,
            host=self.host,
            port=self.port,
            limits=self.limits,
        )
        await server.start()
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    @property
    def running(self) -> bool:
        return self.server is not None

    def urls(self, lan_addresses: Iterable[str] = ()) -> list[str]:
        """Where viewers open the page: each LAN address, or the one listened on."""
        if self.server is None:
            return []
        port = self.server.port
        hosts = [self.host]
        if self.host in WILDCARD_HOSTS:
            # "0.0.0.0" is IPv4 only, "::" IPv6 only (as asyncio binds them), "" both.
            hosts = [
                address
                for address in lan_addresses
                if self.host == "" or (":" in address) == (self.host == "::")
            ] or ["localhost"]
        return [f"https://{_url_host(host)}:{port}/" for host in hosts]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
