"""Share as a Qt service: the window's one door to the viewer server (app.share.sharing).

Widgets never import aiohttp, jwt, cryptography or app.share.server: they call this service and
listen to its signals. It owns one `Sharing` for the app's config and log directories, follows
the ReceiverService's receiver across restarts, polls who is watching once a second while on,
and wraps the viewer accounts (`ViewerStore`) with the errors a user can act on.

Secrets: a generated password or player token is returned once by the method that made it and
kept nowhere here; nothing in this module logs one.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.protocol.endpoints import DEFAULT_SHARE_PORT, WILDCARD_HOSTS
from app.services.devices_service import DevicesService
from app.services.network import lan_addresses
from app.services.receiver_service import ReceiverService
from app.services.settings import Settings, ShareSettings
from app.share.accounts import (
    ALL,
    AllCameras,
    Grant,
    Viewer,
    ViewerError,
    ViewerExists,
    describe_grant,
    validate_viewer_name,
)
from app.share.hub import StreamKind
from app.share.limits import ShareLimits
from app.share.sharing import Sharing

log = logging.getLogger(__name__)

# What the Share panel needs from the accounts, so widgets import this module only.
__all__ = [
    "ALL",
    "AllCameras",
    "Grant",
    "ShareService",
    "ShareState",
    "Viewer",
    "ViewerError",
    "ViewerExists",
    "Watcher",
    "describe_grant",
    "validate_viewer_name",
]

POLL_MS = 1000


class ShareState(Enum):
    OFF = "off"
    STARTING = "starting"
    ON = "on"
    STOPPING = "stopping"
    ERROR = "error"  # the last start failed: `ShareService.error` says why


@dataclass(frozen=True, slots=True)
class Watcher:
    """One open stream, as the Share panel shows it (no session id, nothing secret)."""

    viewer: str
    address: str
    player: bool  # an MJPEG player with a token; False: the web page
    cameras: tuple[str, ...]
    fps: float  # frames sent per second, all its cameras together, to 0.1
    skipped: int  # frames it could not keep up with, all its cameras together


class ShareService(QObject):
    """The viewer server on the app's event loop, and the viewer accounts.

    Signals: `stateChanged` when `state` (or `error`) changes; `viewersChanged` when the
    accounts changed, here or in viewers.json by another program (checked every second),
    or became unreadable (`viewers_problem`); `watchersChanged` when `watchers()` changed
    (polled once a second while on, so never per frame).

    `start` and `stop` are coroutines for the qasync loop. An expected failure to start
    (the port is taken, the address is not this computer's, the certificate cannot be
    used) is not raised: `start` returns False with `error` set and `state` ERROR.

    The account methods raise ValueError (a bad name) or ViewerError (UnknownViewer,
    ViewerExists, an unreadable file) with a message fit to show; the two that hash a
    password with scrypt (about 0.1 s) are coroutines that do it in a worker thread.
    """

    stateChanged = Signal()
    viewersChanged = Signal()
    watchersChanged = Signal()

    def __init__(
        self,
        config_dir: Path,
        log_dir: Path | None,
        settings: Settings,
        devices: DevicesService,
        receiver: ReceiverService,
        parent: QObject | None = None,
        *,
        addresses: list[str] | None = None,
        limits: ShareLimits | None = None,
        poll_ms: int = POLL_MS,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self._devices = devices
        self._receiver = receiver
        self.sharing = Sharing(
            config_dir, log_dir, self.cameras, limits=limits, addresses=addresses
        )
        self.state = ShareState.OFF
        self.error: str | None = None
        self.viewers_problem: str | None = None
        self._watchers: tuple[Watcher, ...] = ()
        self._counts: Counter[str] = Counter()
        self._accounts_seen: object = None
        receiver.listeningChanged.connect(self._follow_receiver)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self._check_viewers()

    # -- the server --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.sharing.running

    @property
    def port(self) -> int | None:
        """The port listened on while on (the chosen one when the setting is 0), else None."""
        server = self.sharing.server
        return None if server is None else server.port

    @property
    def host(self) -> str:
        """The address listened on, or to listen on."""
        return self.sharing.host

    @property
    def fingerprint(self) -> str | None:
        """The certificate's SHA-256 as browsers show it (``AB:CD:…``), while on."""
        certificate = self.sharing.certificate
        return None if certificate is None or not self.running else certificate.fingerprint

    def urls(self) -> list[str]:
        """Where viewers open the page while on (one per LAN address), else []."""
        return self.sharing.urls(lan_addresses())

    def configure(self, host: str, port: int) -> None:
        """Save the address and port the next `start` listens on (the switch stays as it is)."""
        settings = self.settings.share()
        settings.host, settings.port = host.strip(), port
        self.settings.save_share(settings)

    async def start(self, *, remember: bool = True) -> bool:
        """Listen as the settings say; True once listening (at once if already on).

        With `remember`, "share on at start" is saved once it listens. On failure nothing is
        left listening, `error` says why and False is returned.
        """
        if self.running:
            return True
        if self.state in (ShareState.STARTING, ShareState.STOPPING):
            return False
        from app.share.certs import CertificateError  # with the server's stack (Sharing.start)

        if not self._timer.isActive():
            self._timer.start()  # stopped by `close`
        config = self.settings.share()
        self.sharing.host, self.sharing.port = config.host, config.port
        self.sharing.attach(self._receiver.receiver)
        self.error = None
        self._set_state(ShareState.STARTING)
        problem: str | None = None
        try:
            await self.sharing.start()
        except OSError as exc:
            problem = _listen_problem(exc, config)
        except CertificateError as exc:
            problem = f"the Share certificate cannot be used: {exc}"
        except BaseException:
            self.sharing.attach(None)
            self._set_state(ShareState.OFF)
            raise
        if problem is not None:
            self.sharing.attach(None)
            self.error = problem
            log.error("not sharing: %s", problem)
            self._set_state(ShareState.ERROR)
            return False
        if remember:
            self._remember(True)
        log.info("Share on: viewers open %s", " or ".join(self.urls()))
        log.info("Share certificate fingerprint (SHA-256): %s", self.fingerprint)
        self._set_state(ShareState.ON)
        self.poll()
        return True

    async def stop(self, *, remember: bool = True) -> None:
        """Close the port and end every viewer's stream; with `remember`, save "off at start"."""
        if remember:
            self._remember(False)
        if self.state is ShareState.STOPPING:
            return
        if not self.running:
            self.error = None
            self._set_state(ShareState.OFF)
            return
        self._set_state(ShareState.STOPPING)
        try:
            await self.sharing.stop()
        finally:
            self.sharing.attach(None)
            self._set_state(ShareState.OFF)
            self.poll()
        log.info("Share off")

    def close(self) -> None:
        """Stop polling (after `stop`)."""
        self._timer.stop()

    def _remember(self, enabled: bool) -> None:
        settings = self.settings.share()
        if settings.enabled != enabled:
            settings.enabled = enabled
            self.settings.save_share(settings)

    def _set_state(self, state: ShareState) -> None:
        self.state = state
        self.stateChanged.emit()

    def _follow_receiver(self) -> None:
        # The window restarts its receiver when the settings change: viewers follow it.
        if self.running:
            self.sharing.attach(self._receiver.receiver)

    # -- who is watching ---------------------------------------------------------------------

    def watchers(self) -> tuple[Watcher, ...]:
        """The open streams as of the last poll, by viewer then address."""
        return self._watchers

    def viewer_count(self, camera: str) -> int:
        """How many open streams include `camera`, as of the last poll."""
        return self._counts[camera]

    def poll(self) -> None:
        """Read the open streams (and the accounts); emit what changed. Runs every second."""
        self._check_viewers()
        streams = self.sharing.hub.streams() if self.running else []
        watchers = tuple(
            sorted(
                (
                    Watcher(
                        viewer=stream.viewer,
                        address=stream.address,
                        player=stream.kind is StreamKind.MJPEG,
                        cameras=tuple(sorted(stream.cameras)),
                        fps=round(stream.fps(), 1),
                        skipped=sum(stream.dropped.values()),
                    )
                    for stream in streams
                ),
                key=lambda w: (w.viewer, w.address, w.cameras),
            )
        )
        if watchers != self._watchers:
            self._watchers = watchers
            self._counts = Counter(camera for w in watchers for camera in w.cameras)
            self.watchersChanged.emit()

    # -- cameras -----------------------------------------------------------------------------

    def cameras(self) -> list[str]:
        """The cameras a viewer may be granted: registered and demo ones, sorted."""
        return [entry.name for entry in self._devices.entries()]

    # -- viewer accounts ---------------------------------------------------------------------

    def viewers(self) -> list[Viewer]:
        """Every viewer account, by name (expired ones too); raises ViewerError."""
        return self.sharing.store.list()

    async def add_viewer(
        self,
        name: str,
        cameras: Iterable[str] | AllCameras,
        expires: datetime | None = None,
    ) -> str:
        """Add a viewer with a generated password, and return that password (this once).

        Raises ValueError (a bad name), ViewerExists, ViewerError.
        """
        validate_viewer_name(name)
        store = self.sharing.store
        issued = await asyncio.to_thread(store.add, name, cameras=cameras, expires=expires)
        self._check_viewers()
        assert issued.password is not None
        return issued.password

    def remove_viewer(self, name: str) -> None:
        """Remove a viewer: its sessions and streams end within a second. Raises ViewerError."""
        self.sharing.store.remove(name)
        self._check_viewers()

    async def new_password(self, name: str) -> str:
        """Give a viewer a new generated password and return it (this once).

        The old password, the viewer's player token and its open streams stop working.
        Raises ViewerError (UnknownViewer).
        """
        issued = await asyncio.to_thread(self.sharing.store.set_password, name)
        self._check_viewers()
        assert issued.password is not None
        return issued.password

    def set_cameras(self, name: str, cameras: Iterable[str] | AllCameras) -> None:
        """Grant exactly these cameras (or ALL); the viewer's sessions and streams end.

        Raises ValueError (a bad camera name), ViewerError.
        """
        self.sharing.store.set_cameras(name, cameras)
        self._check_viewers()

    def new_token(self, name: str) -> str:
        """A new player token for `name`, returned this once; the previous one stops working.

        Raises ViewerError (UnknownViewer).
        """
        token = self.sharing.store.new_token(name)
        self._check_viewers()
        return token

    def player_url(self, camera: str, token: str) -> str:
        """The MJPEG URL a player (VLC, ffmpeg) opens for `camera` with `token`."""
        urls = self.urls()
        if urls:
            base = urls[0]
        else:
            config = self.settings.share()
            host = config.host
            if host in WILDCARD_HOSTS:
                host = next(iter(lan_addresses()), "localhost")
            host = f"[{host}]" if ":" in host else host
            base = f"https://{host}:{config.port or DEFAULT_SHARE_PORT}/"
        return f"{base}cameras/{camera}/stream.mjpeg?token={token}"

    def _check_viewers(self) -> None:
        """Emit `viewersChanged` if the accounts (or their readability) changed."""
        try:
            seen: object = tuple(
                (v.name, v.generation, v.expires, v.has_token, v.is_expired())
                for v in self.sharing.store.list()
            )
            problem = None
        except ViewerError as exc:
            problem = str(exc)
            seen = problem
        if seen == self._accounts_seen:
            return
        if problem is not None and problem != self.viewers_problem:
            log.error("%s", problem)
        self._accounts_seen = seen
        self.viewers_problem = problem
        self.viewersChanged.emit()


def _listen_problem(exc: OSError, config: ShareSettings) -> str:
    """One line for an OSError from `Sharing.start`: binding, or writing its key files."""
    if exc.filename is not None:  # the session key (the certificate's are CertificateError)
        return f"cannot use {exc.filename}: {exc.strerror or exc}"
    where = f"{config.host or '*'}:{config.port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {config.port} is already in use by another program: choose another port, "
            "or stop the program that uses it"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{config.host} is not an address of this computer: choose another address"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"not allowed to listen on {where}: ports below 1024 need administrator rights"
    return f"cannot listen on {where}: {exc.strerror or exc}"
