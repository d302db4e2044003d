"""The viewer server: HTTPS and WSS on the receiver's event loop, frames straight from the hub.

Endpoints (docs/SHARE.md has the contract): ``/`` and ``/static/*`` (the page), ``/api/login``,
``/api/refresh``, ``/api/logout``, ``/api/session``, ``/api/cameras``, ``/ws`` (live frames for
the page), ``/cameras/NAME/stream.mjpeg`` and ``/cameras/NAME/snapshot.jpg`` (players).

Every request is authenticated here, before any handler sees it, by one of: the session
cookie (the page), or a player token (``Authorization: Bearer`` or ``?token=``). Every access
decision goes to the audit log. Open streams are checked against the accounts every
`ShareLimits.revalidate_interval_s`, so a removal or a change of password, cameras or token
ends them within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from app.protocol.endpoints import DEFAULT_SHARE_PORT
from app.protocol.timeline import Frame
from app.share.accounts import Viewer as Account
from app.share.accounts import ViewerError, ViewerStore, is_valid_viewer_name
from app.share.audit import AuditEvent, AuditLog
from app.share.certs import ShareCertificate
from app.share.hub import ShareHub, Stream, StreamKind, wall_ms
from app.share.limits import FailureLimiter, ShareLimits
from app.share.sessions import Claims, InvalidSession, SessionKeys
from app.tasks import spawn

log = logging.getLogger(__name__)

COOKIE = "__Host-securecam"
BOUNDARY = "securecamframe"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_WEB = resources.files("app.share") / "web"
_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


_SHUTTING_DOWN = "server shutting down"  # the one end of a stream that is not about the viewer
_Ender = Callable[[str], Coroutine[Any, Any, None]]  # ends one open stream, saying why


class CloseReason(Enum):
    """WebSocket close codes the page acts on (docs/SHARE.md)."""

    SESSION_ENDED = 4401  # log in again
    FORBIDDEN = 4403
    TOO_MANY_STREAMS = 4429


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is from: an account, and the session it logged in with (None: a token)."""

    account: Account
    session: Claims | None

    @property
    def name(self) -> str:
        return self.account.name


class _Refused(Exception):
    """An access decision against the request: the status, the reason shown and logged."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        event: AuditEvent = AuditEvent.REFUSED,
        viewer: str | None = None,
        camera: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.event = event
        self.viewer = viewer
        self.camera = camera
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Open:
    """An open stream, how to end it politely, and its connection (to abort it)."""

    stream: Stream
    end: _Ender
    transport: asyncio.Transport


class _Connection(asyncio.Protocol):
    """One TCP connection: counted and capped from the moment it is accepted, TLS set up here,
    then handed to aiohttp's protocol; on a deadline until its first request is complete.

    The TLS handshake runs here (`loop.start_tls`) rather than in the listener, so that a
    connection still in its handshake holds one of the `max_connections` slots, and a failed
    handshake (plain bytes instead of TLS, a client that distrusts the certificate, no
    handshake within `tls_handshake_timeout_s`) is one audit entry instead of nothing. A
    connection beyond the limits is aborted before a byte is read; one that has not completed
    a request within `first_request_deadline_s` of being accepted is aborted too, so
    slow-header clients cannot hold the slots.
    """

    def __init__(self, inner: RequestHandler, server: ShareServer) -> None:
        self.inner = inner
        self._server = server
        self.transport: asyncio.Transport | None = None  # TCP, then TLS once set up
        self.address = "?"
        self.had_request = False
        self._deadline: asyncio.TimerHandle | None = None
        self._handshake: asyncio.Task[None] | None = None
        self._connected = False  # `inner` has the TLS transport
        self._lost = False
        # Decrypted bytes that arrive between the handshake and handing over to `inner`.
        self._early: list[bytes] = []
        self._early_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"
        refusal = self._server._admit(self)
        if refusal is not None:
            self._server.audit.record(AuditEvent.REFUSED, self.address, reason=refusal)
            transport.abort()
            return
        transport.pause_reading()  # the first bytes are TLS, read by start_tls's protocol
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDBUF, self._server.limits.socket_send_buffer
                )
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(
            self._server.limits.first_request_deadline_s, self._too_slow
        )
        self._handshake = spawn(self._start_tls(transport), name="share: TLS handshake")

    async def _start_tls(self, tcp: asyncio.Transport) -> None:
        limits = self._server.limits
        context = self._server.tls_context
        assert context is not None
        reason: str | None = None
        tls: asyncio.Transport | None = None
        try:
            tls = await asyncio.get_running_loop().start_tls(
                tcp,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=limits.tls_handshake_timeout_s,
                # Closing flushes what is queued first: a viewer that takes nothing is cut
                # off like one that stalls mid-stream, not after asyncio's 30 s.
                ssl_shutdown_timeout=limits.stall_timeout_s,
            )
        except ssl.SSLError as exc:
            reason = f"TLS handshake failed ({exc.reason or type(exc).__name__})"
        except ConnectionAbortedError:  # start_tls's own timeout
            reason = f"no TLS handshake within {limits.tls_handshake_timeout_s:g} s"
        except OSError as exc:  # the client went away first: nothing was attempted
            log.debug("a client at %s left during the TLS handshake: %r", self.address, exc)
        if reason is not None:
            self._server.audit.record(AuditEvent.REFUSED, self.address, reason=reason)
        if tls is None or self._lost:
            tcp.abort()
            # asyncio does not always tell (not after a handshake timeout): forget it here.
            self.connection_lost(None)
            return
        self.transport = tls
        self._connected = True
        self.inner.connection_made(tls)
        early, self._early = self._early, []
        for data in early:
            self.inner.data_received(data)
        if self._early_eof:
            self.inner.eof_received()

    def _too_slow(self) -> None:
        if not self.had_request and self.transport is not None:
            self._server.audit.record(
                AuditEvent.REFUSED,
                self.address,
                reason="no complete request within "
                f"{self._server.limits.first_request_deadline_s:g} s",
            )
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._connected:
            self.inner.data_received(data)
        else:
            self._early.append(data)

    def eof_received(self) -> None:
        if self._connected:
            self.inner.eof_received()
        else:
            self._early_eof = True

    def pause_writing(self) -> None:
        if self._connected:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self._connected:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._deadline is not None:
            self._deadline.cancel()
        if self._server._release(self) and self._connected:
            self.inner.connection_lost(exc)


class _HttpErrors(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger: a request it could not parse becomes one audit entry.

    aiohttp answers such a request (oversized line or headers, malformed syntax) with a 4xx
    by itself and reports it through its logger; the exception's text may quote the request,
    so only its type reaches the audit log. Everything else aiohttp reports (a handler's
    unexpected error) is logged under this module's name, inside the app's logger tree.
    """

    def __init__(self, audit: AuditLog) -> None:
        super().__init__(log, {})
        self._audit = audit

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(msg, str) and msg.startswith("Error handling request"):
            address = str(args[0]) if args else "?"
            # The parser's errors (HttpProcessingError: LineTooLong, BadHttpMessage,
            # BadHttpMethod...) carry `code`, 400 or 413; anything else is our own 500.
            if isinstance(exc, HttpProcessingError) and exc.code < 500:
                kind = type(exc).__name__
                self._audit.record(
                    AuditEvent.REFUSED, address, reason=f"malformed or oversized request ({kind})"
                )
                return
        super().log(level, msg, *args, **kwargs)


def _frame_message(stream: Stream, frame: Frame) -> bytes:
    timeline = frame.timeline
    capture = timeline.capture_us
    header = json.dumps(
        {
            "camera": frame.device,
            "seq": frame.seq,
            "suite": timeline.suite.name.lower(),
            "capture_ms": None if capture is None else round(wall_ms(capture), 3),
            "sent_ms": round(time.time() * 1000.0, 3),
            "dropped": stream.dropped[frame.device],
        },
        separators=(",", ":"),
    ).encode()
    return struct.pack(">I", len(header)) + header + frame.jpeg


def _mjpeg_part(jpeg: bytes | memoryview) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


class ShareServer:
    """Serves the page, the API, the live frames and the players' streams over HTTPS.

    Runs on the caller's event loop; `start` binds (raises OSError, e.g. the port is taken),
    `stop` ends every stream and connection.
    """

    def __init__(
        self,
        store: ViewerStore,
        certificate: ShareCertificate,
        sessions: SessionKeys,
        hub: ShareHub,
        audit: AuditLog,
        *,
        host: str | None = "0.0.0.0",
        port: int = DEFAULT_SHARE_PORT,
        limits: ShareLimits | None = None,
    ) -> None:
        self.store = store
        self.certificate = certificate
        self.sessions = sessions
        self.hub = hub
        self.audit = audit
        self.host = host
        self.limits = limits or ShareLimits()
        self._requested_port = port
        self._by_address = FailureLimiter(
            self.limits.failures_per_address, self.limits.failure_window_s
        )
        self._by_account = FailureLimiter(
            self.limits.failures_per_account, self.limits.failure_window_s
        )
        self._logins = asyncio.Semaphore(self.limits.max_concurrent_logins)
        self._connections: dict[object, _Connection] = {}  # by aiohttp's protocol
        self.tls_context: ssl.SSLContext | None = None
        self._open: dict[int, _Open] = {}
        # A full send queue per stream: its size when the viewer last took bytes, and when.
        self._backlogs: dict[int, tuple[int, float]] = {}
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._static = {
            name: (_WEB / name).read_bytes()
            for name in (*_STATIC, "index.html")
            if (_WEB / name).is_file()
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(
            middlewares=[self._guard], client_max_size=self.limits.max_request_bytes
        )
        app.on_response_prepare.append(_add_security_headers)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static_file)
        app.router.add_post("/api/login", self._login)
        app.router.add_post("/api/refresh", self._refresh)
        app.router.add_post("/api/logout", self._logout)
        app.router.add_get("/api/session", self._session)
        app.router.add_get("/api/cameras", self._cameras)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/cameras/{camera}/snapshot.jpg", self._snapshot)
        app.router.add_get("/cameras/{camera}/stream.mjpeg", self._mjpeg)
        runner = web.AppRunner(
            app,
            access_log=None,  # a query string may hold a token: the audit log is the access log
            handle_signals=False,
            shutdown_timeout=1.0,
            keepalive_timeout=15.0,
            max_line_size=self.limits.max_header_line,
            max_field_size=self.limits.max_header_line,
            max_headers=self.limits.max_headers,
            logger=_HttpErrors(self.audit),
        )
        await runner.setup()
        server = runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        try:
            self.tls_context = self.certificate.ssl_context()
            # Plain TCP: each _Connection does its own TLS handshake (see there why).
            self._listener = await loop.create_server(
                lambda: _Connection(server(), self),
                self.host,
                self._requested_port,
                reuse_address=True,
            )
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._requested_port = self._listener.sockets[0].getsockname()[1]
        self._watcher = spawn(self._watch_accounts(), name="share: account watch")
        log.info("sharing on https://%s:%d/", self.host or "*", self.port)

    async def stop(self) -> None:
        if self._runner is None:
            return
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        assert self._listener is not None
        self._listener.close()
        ends = [open_.end(_SHUTTING_DOWN) for open_ in list(self._open.values())]
        # A viewer that takes nothing does not get its close: its connection is aborted below.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*ends, return_exceptions=True), 1.0)
        runner, self._runner = self._runner, None
        await runner.cleanup()
        for connection in list(self._connections.values()):
            if connection.transport is not None:
                connection.transport.abort()
        self._listener = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def port(self) -> int:
        return self._requested_port

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # -- connections -------------------------------------------------------------------------

    def _admit(self, connection: _Connection) -> str | None:
        """Count a new connection, or say why it is refused."""
        if len(self._connections) >= self.limits.max_connections:
            return f"too many connections (limit {self.limits.max_connections})"
        mine = sum(1 for c in self._connections.values() if c.address == connection.address)
        if mine >= self.limits.max_connections_per_address:
            limit = self.limits.max_connections_per_address
            return f"too many connections from this address (limit {limit})"
        self._connections[connection.inner] = connection
        return None

    def _release(self, connection: _Connection) -> bool:
        """Forget a connection; False if it was never admitted."""
        return self._connections.pop(connection.inner, None) is connection

    # -- decisions ---------------------------------------------------------------------------

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        connection = self._connections.get(request.protocol)
        if connection is not None:
            connection.had_request = True
        try:
            return await handler(request)
        except _Refused as refused:
            self.audit.record(
                refused.event,
                _address(request),
                viewer=refused.viewer,
                camera=refused.camera,
                reason=refused.reason,
            )
            body: dict[str, object] = {"error": refused.reason}
            headers = {}
            if refused.retry_after is not None:
                retry = max(1, round(refused.retry_after))
                body["retry_after"] = retry
                headers["Retry-After"] = str(retry)
            return web.json_response(body, status=refused.status, headers=headers)
        except web.HTTPNotFound:
            self.audit.record(
                AuditEvent.REFUSED, _address(request), reason=f"no such page {request.path!r:.80}"
            )
            return web.json_response({"error": "not found"}, status=404)
        except web.HTTPMethodNotAllowed:
            self.audit.record(
                AuditEvent.REFUSED,
                _address(request),
                reason=f"method {request.method!r:.12} not allowed on {request.path!r:.80}",
            )
            return web.json_response({"error": "method not allowed"}, status=405)

    def _check_same_origin(self, request: web.Request) -> None:
        """Refuse a request a browser sent from another site (needed with the cookie)."""
        origin = request.headers.get("Origin")
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            raise _Refused(403, f"cross-site request (Sec-Fetch-Site: {fetch_site:.20})")
        if origin is None:
            if request.method != "GET":
                raise _Refused(403, "cross-site request (no Origin header)")
            return
        if origin != f"https://{request.host}":
            raise _Refused(403, f"cross-site request from {origin!r:.80}")

    def _authenticate(self, request: web.Request, *, tokens: bool = True) -> Principal:
        """Who sent `request`: a token (players) or the session cookie (the page)."""
        address = _address(request)
        authorization = request.headers.get("Authorization")
        token = request.query.get("token")
        if authorization is not None or token is not None:
            if not tokens:
                raise _Refused(401, "player tokens are not accepted here")
            if authorization is not None:
                scheme, _, value = authorization.partition(" ")
                if scheme.lower() != "bearer" or not value.strip():
                    raise _Refused(401, "unsupported Authorization scheme")
                token = value.strip()
            assert token is not None
            return self._by_token(address, token)
        cookie = request.cookies.get(COOKIE)
        if cookie is None:
            raise _Refused(401, "no credentials")
        self._check_same_origin(request)
        return self._by_session(cookie)

    def _by_token(self, address: str, token: str) -> Principal:
        now = time.monotonic()
        wait = self._by_address.retry_after(address, now)
        if wait > 0:
            raise _Refused(429, "too many failed attempts from this address", retry_after=wait)
        account = self._read_accounts(lambda: self.store.viewer_for_token(token))
        if account is None:
            self._by_address.failed(address, now)
            raise _Refused(401, "unknown, replaced or expired player token")
        return Principal(account, None)

    def _by_session(self, cookie: str) -> Principal:
        try:
            claims = self.sessions.verify(cookie)
        except InvalidSession as exc:
            raise _Refused(401, exc.refused.value) from None
        account = self._read_accounts(lambda: self.store.lookup(claims.viewer))
        problem = _session_problem(account, claims.generation)
        if problem is not None or account is None:
            raise _Refused(
                401, problem or "viewer removed", event=AuditEvent.REVOKED, viewer=claims.viewer
            )
        return Principal(account, claims)

    def _read_accounts(self, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except ViewerError as exc:
            log.error("refusing viewers: %s", exc)
            raise _Refused(503, "viewer accounts unreadable; see the app's log") from None

    def _granted(self, principal: Principal, camera: str) -> None:
        """Refuse a camera not granted (403, whether it exists or not: names are not probed),
        or, granted all cameras, one that does not exist (404; a removed camera's last frame
        is not served)."""
        if not principal.account.can_watch(camera):
            raise _Refused(
                403, "camera not granted to this viewer", viewer=principal.name, camera=camera
            )
        if camera not in self.hub.cameras():
            raise _Refused(404, "no such camera", viewer=principal.name, camera=camera)

    # -- the page and the session API --------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        return self._file("index.html", "text/html; charset=utf-8")

    async def _static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _STATIC or name not in self._static:
            raise web.HTTPNotFound()
        return self._file(name, _STATIC[name])

    def _file(self, name: str, content_type: str) -> web.Response:
        body = self._static.get(name)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _login(self, request: web.Request) -> web.Response:
        address = _address(request)
        self._check_same_origin(request)
        name, password = await _login_form(request, self.limits.max_request_bytes)
        account_key = name.lower() if is_valid_viewer_name(name) else "?"
        # The audit log names only accounts that exist: what was typed as a name may be a
        # password typed in the wrong field.
        logged = name if self._exists(name) else None
        now = time.monotonic()
        wait = max(
            self._by_address.retry_after(address, now),
            self._by_account.retry_after(account_key, now),
        )
        if wait > 0:
            raise _Refused(
                429,
                f"too many failed logins; try again in {max(1, round(wait))} s",
                event=AuditEvent.LOGIN_REFUSED,
                viewer=logged,
                retry_after=wait,
            )
        async with self._logins:
            account = await asyncio.to_thread(
                self._read_accounts, lambda: self.store.verify_password(name, password)
            )
        if account is None:
            now = time.monotonic()
            self._by_address.failed(address, now)
            self._by_account.failed(account_key, now)
            raise _Refused(
                401, "wrong name or password", event=AuditEvent.LOGIN_REFUSED, viewer=logged
            )
        self._by_account.succeeded(account_key)
        self.audit.record(AuditEvent.LOGIN, address, viewer=account.name)
        return self._new_session(account)[0]

    def _exists(self, name: str) -> bool:
        try:
            return is_valid_viewer_name(name) and self.store.lookup(name) is not None
        except ViewerError:
            return False

    def _new_session(self, account: Account) -> tuple[web.Response, Claims]:
        token, claims = self.sessions.issue(account.name, account.generation)
        response = web.json_response(self._session_json(claims))
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(self.sessions.lifetime_s),
            path="/",
            secure=True,
            httponly=True,
            samesite="Strict",
        )
        return response, claims

    def _session_json(self, claims: Claims) -> dict[str, object]:
        expires_in = max(0.0, claims.expires - time.time())
        return {
            "viewer": claims.viewer,
            "expires_in": round(expires_in),
            "refresh_in": round(min(expires_in / 2, self.sessions.lifetime_s / 3)),
        }

    async def _refresh(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request, tokens=False)
        self._check_same_origin(request)
        old = principal.session
        assert old is not None
        self.sessions.log_out(old)  # the old cookie dies with its replacement
        response, new = self._new_session(principal.account)
        # The page's open streams carry on under the new session (and end with it).
        for stream in self.hub.streams():
            if stream.session_id == old.session_id:
                stream.session_id = new.session_id
                stream.session_expires = new.expires
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request, tokens=False)
        self._check_same_origin(request)
        assert principal.session is not None
        self.sessions.log_out(principal.session)
        self.audit.record(AuditEvent.LOGOUT, _address(request), viewer=principal.name)
        session_id = principal.session.session_id
        await self._end_streams(lambda stream: stream.session_id == session_id, "logged out")
        response = web.json_response({})
        response.del_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
        return response

    async def _session(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request, tokens=False)
        assert principal.session is not None
        return web.json_response(self._session_json(principal.session))

    async def _cameras(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request)
        views = [
            self.hub.view(camera).to_json()
            for camera in self.hub.cameras()
            if principal.account.can_watch(camera)
        ]
        return web.json_response({"cameras": views, "server_time_ms": time.time() * 1000.0})

    # -- players -----------------------------------------------------------------------------

    async def _snapshot(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request)
        camera = request.match_info["camera"]
        self._granted(principal, camera)
        frame = self.hub.latest(camera)
        if frame is None:
            return web.json_response({"error": "no frame from this camera yet"}, status=404)
        if principal.session is None:
            self.audit.record(
                AuditEvent.TOKEN_USED, _address(request), viewer=principal.name, camera=camera
            )
        return web.Response(body=frame.jpeg, headers={"Content-Type": "image/jpeg"})

    async def _mjpeg(self, request: web.Request) -> web.StreamResponse:
        principal = self._authenticate(request)
        camera = request.match_info["camera"]
        self._granted(principal, camera)
        stream = self._open_stream(request, principal, StreamKind.MJPEG)
        self.hub.subscribe(stream, [camera])
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"}
        )

        async def end(reason: str) -> None:
            stream.stop(reason)

        self._track(request, stream, end)
        try:
            await response.prepare(request)
            while (frame := await stream.next()) is not None:
                part = _mjpeg_part(frame.jpeg)
                if not await self._send(request, stream, frame, part, response.write):
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._close_stream(stream, "client went away")
        if response.prepared:  # the end of the stream, unless the player takes nothing
            await self._or_abort(request, response.write_eof())
        return response

    # -- the page's frames -------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        principal = self._authenticate(request)
        stream = self._open_stream(request, principal, StreamKind.PAGE)
        ws = web.WebSocketResponse(
            max_msg_size=self.limits.max_ws_message, heartbeat=20.0, compress=False
        )

        async def end(reason: str) -> None:
            code = 1001 if reason == _SHUTTING_DOWN else CloseReason.SESSION_ENDED.value
            stream.stop(reason)
            await self._or_abort(request, ws.close(code=code, message=reason.encode()[:120]))

        self._track(request, stream, end)
        sender: asyncio.Task[None] | None = None
        try:
            await ws.prepare(request)
            await ws.send_json({"type": "hello", "viewer": principal.name, "server_ms": _now_ms()})
            sender = spawn(self._feed_page(request, ws, stream), name=f"share: {stream.viewer}")
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    stream.stop("page sent a message that is not JSON text")
                    await ws.close(code=1003, message=b"text JSON only")
                    break
                await self._page_message(request, ws, stream, principal, message.data)
        finally:
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await sender
            self._close_stream(stream, "page closed")
        return ws

    async def _page_message(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        stream: Stream,
        principal: Principal,
        data: str,
    ) -> None:
        try:
            message = json.loads(data)
            kind = message["type"]
        except (ValueError, TypeError, KeyError):
            await ws.send_json({"type": "error", "camera": None, "reason": "malformed message"})
            return
        if kind == "ack":
            camera = message.get("camera")
            if isinstance(camera, str):
                stream.acked(camera)
        elif kind == "ping":
            await ws.send_json(
                {
                    "type": "pong",
                    "id": message.get("id"),
                    "client_ms": message.get("client_ms"),
                    "server_ms": _now_ms(),
                }
            )
        elif kind == "subscribe":
            cameras = message.get("cameras")
            if not isinstance(cameras, list) or not all(isinstance(c, str) for c in cameras):
                await ws.send_json({"type": "error", "camera": None, "reason": "bad camera list"})
                return
            granted = []
            for camera in dict.fromkeys(cameras):
                if principal.account.can_watch(camera):
                    granted.append(camera)
                else:
                    self.audit.record(
                        AuditEvent.REFUSED,
                        _address(request),
                        viewer=principal.name,
                        camera=camera,
                        reason="camera not granted to this viewer",
                    )
                    await ws.send_json(
                        {"type": "error", "camera": camera, "reason": "camera not granted"}
                    )
            new = set(granted) - stream.cameras
            self.hub.subscribe(stream, granted)
            for camera in sorted(new):
                self.audit.record(
                    AuditEvent.STREAM_START, _address(request), viewer=stream.viewer, camera=camera
                )
        else:
            await ws.send_json({"type": "error", "camera": None, "reason": "unknown message"})

    async def _feed_page(
        self, request: web.Request, ws: web.WebSocketResponse, stream: Stream
    ) -> None:
        with contextlib.suppress(ConnectionError):  # the receive loop ends with the connection
            while (frame := await stream.next()) is not None and not ws.closed:
                encoded = _frame_message(stream, frame)
                if not await self._send(request, stream, frame, encoded, ws.send_bytes):
                    return

    async def _send(
        self,
        request: web.Request,
        stream: Stream,
        frame: Frame,
        data: bytes,
        write: Callable[[bytes], Awaitable[None]],
    ) -> bool:
        """Send one frame unless the viewer's buffer is full; False if the viewer went away.

        No timer per frame: `_abort_stalled`, on the account watcher's tick, aborts a viewer
        whose write, backlog or acknowledgements have not moved for `stall_timeout_s`.
        """
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > self.limits.max_send_buffer:
            stream.skipped(frame)
            return True
        stream.writing_since = time.monotonic()
        try:
            await write(data)
        finally:
            stream.writing_since = None
        stream.delivered(frame)
        return True

    def _abort_stalled(self, now: float) -> None:
        """Abort each viewer that took nothing for `stall_timeout_s`: a write that has not
        finished, a backlog above `max_send_buffer` that has not shrunk, or frames waiting
        on acknowledgements that have not come. A close handshake would only wait on it too.
        """
        stall = self.limits.stall_timeout_s
        for open_ in list(self._open.values()):
            stream, transport = open_.stream, open_.transport
            if stream.stopped:
                continue
            queued = transport.get_write_buffer_size()
            if queued > self.limits.max_send_buffer:
                # Nothing more is written while it is full, so the queue only shrinks if the
                # viewer takes bytes: the last time it did is when the stall clock started.
                seen = self._backlogs.get(stream.id)
                if seen is None or queued < seen[0]:
                    self._backlogs[stream.id] = seen = (queued, now)
                backlog_stuck = now - seen[1] >= stall
            else:
                self._backlogs.pop(stream.id, None)
                backlog_stuck = False
            writing = stream.writing_since
            if not (
                backlog_stuck
                or (writing is not None and now - writing >= stall)
                or (stream.blocked() and now - stream.last_progress >= stall)
            ):
                continue
            log.info(
                "%s (%s) took nothing for %g s: disconnected", stream.viewer, stream.address, stall
            )
            stream.stop(f"took nothing for {stall:g} s")
            transport.abort()

    async def _or_abort(self, request: web.Request, action: Awaitable[Any]) -> None:
        """Await `action` (a close, the end of a stream), aborting the connection instead if
        the viewer takes nothing for `stall_timeout_s`."""
        try:
            async with asyncio.timeout(self.limits.stall_timeout_s):
                await action
        except TimeoutError:
            if request.transport is not None:
                request.transport.abort()
        except ConnectionError:
            pass

    # -- streams -----------------------------------------------------------------------------

    def _open_stream(self, request: web.Request, principal: Principal, kind: StreamKind) -> Stream:
        streams = self.hub.streams()
        if len(streams) >= self.limits.max_streams:
            raise _Refused(
                429, f"too many streams (limit {self.limits.max_streams})", viewer=principal.name
            )
        mine = sum(1 for stream in streams if stream.viewer == principal.name)
        if mine >= self.limits.max_streams_per_viewer:
            raise _Refused(
                429,
                f"too many streams for this viewer (limit {self.limits.max_streams_per_viewer})",
                viewer=principal.name,
            )
        session = principal.session
        stream = self.hub.open(
            kind,
            principal.name,
            _address(request),
            principal.account.generation,
            None if session is None else session.session_id,
            None if session is None else session.expires,
            self.limits.frames_in_flight if kind is StreamKind.PAGE else None,
        )
        if principal.session is None:
            self.audit.record(AuditEvent.TOKEN_USED, stream.address, viewer=principal.name)
        if kind is StreamKind.MJPEG:
            camera = request.match_info["camera"]
            self.audit.record(
                AuditEvent.STREAM_START, stream.address, viewer=principal.name, camera=camera
            )
        return stream

    def _track(self, request: web.Request, stream: Stream, end: _Ender) -> None:
        assert request.transport is not None  # a handler runs on an open connection
        self._open[stream.id] = _Open(stream, end, request.transport)

    def _close_stream(self, stream: Stream, default_reason: str) -> None:
        """Forget an ended stream and log its end: why the server ended it, if it did, else
        `default_reason`."""
        reason = stream.end_reason or default_reason
        self._open.pop(stream.id, None)
        self._backlogs.pop(stream.id, None)
        self.hub.close(stream)
        sent = sum(stream.sent.values())
        dropped = sum(stream.dropped.values())
        cameras = sorted(stream.cameras | set(stream.sent) | set(stream.dropped))
        detail = ""
        if len(cameras) > 1:  # one camera goes in `camera`; several, sent/skipped each
            counts = ", ".join(f"{c} {stream.sent[c]}/{stream.dropped[c]}" for c in cameras)
            detail = f" ({counts})"
        self.audit.record(
            AuditEvent.STREAM_STOP,
            stream.address,
            viewer=stream.viewer,
            camera=cameras[0] if len(cameras) == 1 else None,
            reason=f"{reason}; {sent} frames sent, {dropped} skipped{detail}",
        )

    async def _end_streams(self, which: Callable[[Stream], bool], reason: str) -> None:
        ends = [open_.end(reason) for open_ in list(self._open.values()) if which(open_.stream)]
        await asyncio.gather(*ends, return_exceptions=True)

    async def _watch_accounts(self) -> None:
        while True:
            await asyncio.sleep(self.limits.revalidate_interval_s)
            try:
                self.revalidate()
                self._abort_stalled(time.monotonic())
            except Exception:
                log.exception("checking open streams against the viewer accounts failed")

    def revalidate(self) -> None:
        """End every open stream its account or its session no longer allows (non-blocking)."""
        for open_ in list(self._open.values()):
            stream = open_.stream
            try:
                account = self.store.lookup(stream.viewer)
            except ViewerError:
                problem: str | None = "viewer accounts unreadable"
            else:
                problem = _session_problem(account, stream.generation)
            logged_out = stream.session_id is not None and self.sessions.is_logged_out(
                stream.session_id
            )
            if problem is None and logged_out:
                problem = "logged out"
            expires = stream.session_expires
            if problem is None and expires is not None and time.time() >= expires:
                problem = "session expired"
            if problem is None:
                continue
            self.audit.record(
                AuditEvent.REVOKED, stream.address, viewer=stream.viewer, reason=problem
            )
            self._open.pop(stream.id, None)
            spawn(open_.end(problem), name=f"share: ending {stream.viewer}")


def _session_problem(account: Account | None, generation: int) -> str | None:
    """Why a session or stream authenticated at `generation` must end, or None."""
    if account is None:
        return "viewer removed"
    if account.generation != generation:
        return "password, cameras or token changed"
    if account.is_expired():
        return "account expired"
    return None


async def _login_form(request: web.Request, limit: int) -> tuple[str, str]:
    if request.content_length is None or request.content_length > limit:
        raise _Refused(
            413 if request.content_length else 411,
            f"login body missing or over {limit} bytes",
            event=AuditEvent.LOGIN_REFUSED,
        )
    try:
        form = await request.json()
    except (ValueError, UnicodeDecodeError, web.HTTPException):
        raise _Refused(400, "malformed login", event=AuditEvent.LOGIN_REFUSED) from None
    name, password = (form.get("name"), form.get("password")) if isinstance(form, dict) else (0, 0)
    if not isinstance(name, str) or not isinstance(password, str) or len(name) > 64:
        raise _Refused(400, "malformed login", event=AuditEvent.LOGIN_REFUSED)
    return name, password


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _address(request: web.Request) -> str:
    return request.remote or "?"


def _now_ms() -> float:
    return round(time.time() * 1000.0, 3)
