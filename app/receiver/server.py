"""The embedded receiver: a websockets server, one task per camera, on the caller's event loop.

It only moves bytes between sockets and `ReceiverSession`s, enforces the time and connection
limits, keeps per-device stats, and tells listeners what happened. It runs headless under
`asyncio.run` and inside the Qt event loop through qasync alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, cast

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from app.protocol.clock import monotonic_us
from app.protocol.endpoints import CAMERA_PATH, DEFAULT_PORT
from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.hello import Suite
from app.protocol.limits import Limits
from app.protocol.records import Control
from app.protocol.session import (
    ClockUpdated,
    Credentials,
    FrameReceived,
    HandshakeComplete,
    PeerClosed,
    ReceiverSession,
    SessionConfirmed,
    StatusReceived,
)
from app.protocol.timeline import Frame
from app.receiver.admission import Admission
from app.receiver.connection import CLOSE_DEADLINE_S, GuardedConnection
from app.receiver.delivery import LatestFrames
from app.receiver.events import (
    ConnectionRejected,
    DeviceConnected,
    DeviceDisconnected,
    FrameArrived,
    ReceiverEvent,
    StatusArrived,
)
from app.receiver.stats import DeviceStats
from app.tasks import spawn
from app.wsio import SessionLink

log = logging.getLogger(__name__)

# Fast first pings so the clock offset is known before the first frames, then a steady pace.
_PING_BURST_S = (0.02, 0.05, 0.1, 0.2)


Listener = Callable[[ReceiverEvent], None]
FrameSink = Callable[[Frame], Awaitable[None]]


class _Camera:
    """One accepted WebSocket connection and its protocol session."""

    __slots__ = (
        "closing",
        "ended",
        "last_rx",
        "link",
        "peer",
        "pinger",
        "plain_switch_until",
        "session",
        "ws",
    )

    def __init__(self, ws: GuardedConnection, session: ReceiverSession) -> None:
        self.ws = ws
        self.session = session
        self.peer = ws.peer
        self.link = SessionLink(ws, session)
        self.pinger: asyncio.Task[None] | None = None
        self.ended: tuple[int, str] = (1006, "connection lost")
        self.last_rx = 0.0  # event-loop time of the last message
        self.closing = False  # we closed it; the receive loop's ConnectionClosed is expected
        # Until this event-loop time, a plain session of this device may replace this one: the
        # app asked this very session to switch. It dies with the session.
        self.plain_switch_until: float | None = None


class Receiver:
    """Accept cameras on ws://host:port/camera and deliver their frames.

    Listeners are called synchronously on the event loop and must return quickly; frame sinks
    are awaited for every frame, so a slow sink slows only the camera it is fed by.
    """

    def __init__(
        self,
        lookup: Callable[[str], Credentials | None],
        *,
        host: str | None = "0.0.0.0",
        port: int = DEFAULT_PORT,
        limits: Limits | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        """`sock`, a bound and listening socket, replaces host and port (e.g. one created in
        another network namespace)."""
        self.limits = limits or Limits()
        self.host = host
        self._sock = sock
        self._requested_port = port
        self._lookup = lookup
        self._server: Server | None = None
        self._admission: Admission[GuardedConnection] = Admission(self.limits.max_connections)
        self._cameras: dict[GuardedConnection, _Camera] = {}
        self._live: dict[str, _Camera] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._sinks: list[FrameSink] = []
        self.stats: dict[str, DeviceStats] = {}
        self.connections_rejected = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        where = (None, None) if self._sock is not None else (self.host, self._requested_port)
        self._server = await serve(
            self._handle,
            *where,
            sock=self._sock,
            process_request=self._check_path,
            # websockets calls this as a factory: a callable returning the connection is fine.
            create_connection=cast(type[ServerConnection], self._connection),
            compression=None,  # JPEG does not deflate; compressing would only burn CPU
            max_size=65535,  # the Noise message limit: anything larger is not ours
            max_queue=4,
            ping_interval=None,  # liveness comes from authenticated pings and the idle timeout
            open_timeout=self.limits.handshake_timeout_s,
            close_timeout=CLOSE_DEADLINE_S,
        )
        bound = self._server.sockets[0].getsockname()
        self._requested_port = bound[1]  # keep it after stop()
        self._watcher = spawn(self._watch_registry(), name="registry watch")
        host = bound[0] if self._sock is not None else self.host or "*"
        log.info("listening on ws://%s:%d%s", host, self.port, CAMERA_PATH)

    async def stop(self) -> None:
        """Close every camera with GOING_AWAY and stop listening."""
        if self._server is None:
            return
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        self._server.close(close_connections=False)
        await asyncio.gather(
            *(
                self._close(camera, CloseCode.GOING_AWAY, "receiver shutting down")
                for camera in list(self._cameras.values())
            )
        )
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port once started (useful with port 0)."""
        return self._requested_port

    @property
    def connection_count(self) -> int:
        """Open TCP connections, counted from accept (upgraded or not)."""
        return len(self._admission)

    # -- consumers ---------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def add_frame_sink(self, sink: FrameSink) -> None:
        self._sinks.append(sink)

    def subscribe(self) -> LatestFrames:
        """A latest-frame-wins mailbox of every device's frames; drops count in the stats."""
        mailbox = LatestFrames(on_drop=self._count_drop)

        def deliver(event: ReceiverEvent) -> None:
            if isinstance(event, FrameArrived):
                mailbox.put(event.frame)

        self.add_listener(deliver)
        return mailbox

    def device_stats(self, device: str) -> DeviceStats:
        stats = self.stats.get(device)
        if stats is None:
            stats = self.stats[device] = DeviceStats(device)
        return stats

    # -- control -----------------------------------------------------------------------------

    def is_live(self, device: str) -> bool:
        return device in self._live

    async def send_control(self, device: str, control: Control) -> bool:
        """Send a control record to the device's live session.

        False if it is not connected, or its connection closed while the control was sent.
        """
        camera = self._live.get(device)
        if camera is None or not camera.session.can_send:
            return False
        if control.suite == Suite.PLAIN:
            loop = asyncio.get_running_loop()
            camera.plain_switch_until = loop.time() + self.limits.switch_timeout_s
        camera.session.send_control(control)
        try:
            await camera.link.flush()
        except ConnectionClosed:
            return False
        return True

    async def revalidate(self) -> None:
        """Close live sessions the registry no longer allows.

        That is a device removed, its key changed (replaced, or removed and added again, or
        renamed and another added under its name), or plain revoked for a plain session.
        """
        await asyncio.gather(*self._close_stale())

    def _close_stale(self) -> list[asyncio.Task[None]]:
        """Start closing each live session the registry no longer allows; the closing tasks.

        A session being closed already is skipped: a peer that never answers a close must not
        hold up the others, so nothing here waits.
        """
        closing: list[tuple[_Camera, CloseCode, str]] = []
        for device, camera in list(self._live.items()):
            if camera.closing:
                continue
            try:
                credentials = self._lookup(device)
            except ProtocolError:
                continue  # an unreadable registry refuses new connections, not live ones
            held = camera.session.credentials
            if credentials is None:
                closing.append((camera, CloseCode.DEVICE_REMOVED, "device removed"))
            elif held is None or not hmac.compare_digest(credentials.psk, held.psk):
                closing.append((camera, CloseCode.DEVICE_REMOVED, "key changed"))
            elif camera.session.suite is Suite.PLAIN and not credentials.allow_plain:
                closing.append((camera, CloseCode.PLAIN_NOT_ALLOWED, "plain no longer allowed"))
        tasks = []
        for camera, code, reason in closing:
            log.info("closing %s: %s", camera.session.device_id, reason)
            camera.closing = True  # before the task starts: the next check must skip it
            tasks.append(spawn(self._close(camera, code, reason), name=f"closing {camera.peer}"))
        return tasks

    async def _watch_registry(self) -> None:
        """Revalidate live sessions often enough that a key change ends them within 1 s."""
        while True:
            await asyncio.sleep(self.limits.revalidate_interval_s)
            try:
                self._close_stale()
            except Exception:  # keep watching: the next edit may fix what failed
                log.exception("revalidating live sessions against the registry failed")

    async def disconnect(self, device: str, code: CloseCode, reason: str) -> None:
        camera = self._live.get(device)
        if camera is not None:
            await self._close(camera, code, reason)

    # -- admission (the connection's Gate) ----------------------------------------------------

    def _connection(self, *args: Any, **kwargs: Any) -> GuardedConnection:
        return GuardedConnection(self, *args, **kwargs)

    def accepted(self, connection: GuardedConnection) -> None:
        """A TCP connection was accepted: count it, and make room if strangers fill the slots."""
        address = connection.peer.rsplit(":", 1)[0]
        victim = self._admission.admit(connection, address, asyncio.get_running_loop().time())
        if victim is not None:
            # At once, with no closing handshake to wait for: the victim no longer counts, and
            # the one log line comes when its connection is gone.
            reason = f"too many unauthenticated connections (limit {self.limits.max_connections})"
            if victim.upgraded:
                victim.fail(CloseCode.TOO_MANY_CONNECTIONS, reason)
            else:
                victim.abort(CloseCode.TOO_MANY_CONNECTIONS, reason)

    def lost(self, connection: GuardedConnection) -> None:
        """A TCP connection ended; one that never reached the handler is reported here."""
        self._admission.release(connection)
        if connection.handled:
            return
        if connection.violation is not None:
            self._note_refusal(connection.peer, None, *connection.violation)
        elif connection.protocol.handshake_exc is not None:
            reason = f"HTTP upgrade failed: {connection.protocol.handshake_exc}"
            self._note_refusal(connection.peer, None, CloseCode.POLICY_VIOLATION, reason)
        elif connection.request is None:
            log.info("%s closed before finishing the HTTP upgrade", connection.peer)

    def _drop(self, connection: GuardedConnection, code: CloseCode, reason: str) -> None:
        """Close a connection from outside its own task: reject it if it is a camera yet."""
        camera = self._cameras.get(connection)
        if camera is None:
            connection.abort(code, reason)
        else:
            spawn(self._reject(camera, code, reason), name=f"closing {connection.peer}")

    # -- per connection ----------------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path != CAMERA_PATH:
            assert isinstance(connection, GuardedConnection)
            log.info("%s asked for %.100r: answered 404", connection.peer, request.path)
            return connection.respond(404, f"SecureCam cameras connect to {CAMERA_PATH}\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, GuardedConnection)
        ws.handled = True
        if ws not in self._admission:  # evicted between its upgrade and this task's start
            return
        camera = _Camera(ws, ReceiverSession(self._lookup, self.limits))
        self._cameras[ws] = camera
        try:
            await self._serve_camera(camera)
        except ProtocolError as exc:
            await self._reject(camera, exc.code, exc.reason, exc.detail)
        except TimeoutError:
            await self._reject(
                camera, CloseCode.HANDSHAKE_TIMEOUT, "handshake did not complete in time"
            )
        except _PeerSaidGoodbye as exc:
            camera.ended = (exc.code, exc.reason)
            self._log_goodbye(camera)
        except ConnectionClosed as exc:
            self._closed_under_us(camera, exc)
        finally:
            if camera.pinger is not None:
                camera.pinger.cancel()
            del self._cameras[ws]
            self._forget(camera)

    async def _serve_camera(self, camera: _Camera) -> None:
        ws, session = camera.ws, camera.session
        loop = asyncio.get_running_loop()
        frame = None
        async with asyncio.timeout(self.limits.handshake_timeout_s):
            while not session.confirmed:
                frame = self._handle_events(camera, await _recv(ws), monotonic_us())
                await camera.link.flush()
        # The frame that confirmed the session, if it was one (PROTOCOL.md §2.2 allows that).
        await self._to_sinks(frame)
        # The keepalive task enforces the idle timeout from here on: rescheduling a timeout per
        # message would leave a cancelled timer behind for every frame (costly under qasync).
        while True:
            message = await _recv(ws)
            camera.last_rx = loop.time()
            frame = self._handle_events(camera, message, monotonic_us())
            if camera.session.pending:
                await camera.link.flush()
            await self._to_sinks(frame)

    async def _to_sinks(self, frame: Frame | None) -> None:
        if frame is not None:
            for sink in self._sinks:
                await sink(frame)

    def _handle_events(self, camera: _Camera, message: bytes, rx_us: int) -> Frame | None:
        frame = None
        for event in camera.session.receive(message, rx_us):
            if isinstance(event, FrameReceived):
                frame = event.frame
                self.device_stats(frame.device).add_frame(frame.timeline)
                self._emit(FrameArrived(frame))
            elif isinstance(event, ClockUpdated):
                self._clock_updated(camera)
            elif isinstance(event, StatusReceived):
                device = camera.session.device_id or ""
                self.device_stats(device).status = event.status
                self._emit(StatusArrived(device, event.status))
            elif isinstance(event, PeerClosed):
                raise _PeerSaidGoodbye(event.code, event.reason)
            elif isinstance(event, SessionConfirmed):
                self._go_live(camera)
            elif isinstance(event, HandshakeComplete):
                # The key is proven, unless this is a replay: leave the strangers' slots, but
                # show nothing until the session is confirmed.
                older = self._admission.authenticate(camera.ws, event.device_id)
                if older is not None:
                    self._drop(older, CloseCode.REPLACED, "a newer handshake of this device")
        return frame

    def _clock_updated(self, camera: _Camera) -> None:
        stats = self.device_stats(camera.session.device_id or "")
        clock = camera.session.clock
        stats.clock_offset_us, stats.clock_error_us = clock.offset_us, clock.error_bound_us
        # Frames that beat the first pong get this session's offset after the fact.
        for timeline in reversed(stats.timelines):
            if timeline.clock_offset_us is not None:
                break
            timeline.clock_offset_us = clock.offset_us
            timeline.clock_error_us = clock.error_bound_us

    def _go_live(self, camera: _Camera) -> None:
        session = camera.session
        device = session.device_id
        assert device is not None and session.suite is not None
        # Only a confirmed session may replace another: a replayed handshake never gets here.
        previous = self._live.get(device)
        loop = asyncio.get_running_loop()
        if (
            previous is not None
            and previous.session.suite is Suite.NOISE
            and session.suite is Suite.PLAIN
            and (previous.plain_switch_until is None or loop.time() > previous.plain_switch_until)
        ):
            # Plain proves nothing: anyone could send it, so it may not evict an encrypted
            # session, unless the app asked that very session to switch, and not long ago.
            raise ProtocolError(
                CloseCode.PLAIN_NOT_ALLOWED, "an encrypted session of this device is live"
            )
        if previous is not None:
            spawn(
                self._close(previous, CloseCode.REPLACED, "replaced by a newer session"),
                name=f"closing {previous.peer}",
            )
        camera.ws.confirmed = True
        self._admission.confirm(camera.ws)
        self._live[device] = camera
        suite = session.suite
        self.device_stats(device).went_live(suite, camera.peer)
        camera.last_rx = loop.time()
        camera.pinger = spawn(self._keepalive(camera), name=f"keepalive {camera.peer}")
        level = logging.INFO if suite is Suite.NOISE else logging.WARNING
        log.log(
            level,
            "device %s connected from %s (%s)",
            device,
            camera.peer,
            "encrypted" if suite is Suite.NOISE else "PLAIN, INSECURE",
        )
        self._emit(DeviceConnected(device, suite, camera.peer))

    async def _keepalive(self, camera: _Camera) -> None:
        """Ping on schedule (clock sync) and close the camera when it has gone quiet."""
        loop = asyncio.get_running_loop()
        idle = self.limits.idle_timeout_s
        tick = min(self.limits.ping_interval_s, idle / 4)
        next_ping = [loop.time() + delay for delay in _PING_BURST_S]
        try:
            while True:
                due = next_ping[0] if next_ping else loop.time() + tick
                await asyncio.sleep(max(0.0, min(due, camera.last_rx + idle) - loop.time()))
                now = loop.time()
                if now - camera.last_rx >= idle:
                    reason = "no message within idle timeout"
                    await self._reject(camera, CloseCode.IDLE_TIMEOUT, reason)
                    return
                if not next_ping or now >= next_ping[0]:
                    if next_ping:
                        next_ping.pop(0)
                    if not camera.session.can_send:
                        return  # closing: the connection's own task reports why
                    camera.session.send_ping()
                    await camera.link.flush()
        except ConnectionClosed:
            pass  # the connection's own task reports why it ended

    async def _reject(
        self, camera: _Camera, code: CloseCode, reason: str, detail: str | None = None
    ) -> None:
        self._note_rejection(camera, code, detail or reason)
        await self._close(camera, code, reason)

    def _note_rejection(self, camera: _Camera, code: CloseCode, detail: str) -> None:
        """The stats and the one log line and event for a camera closed for a violation.

        Only a confirmed session speaks for its device. An unconfirmed one proved nothing
        (a wrong key, a replay, a timeout), so it never changes the device's state: it
        counts as a failed attempt.
        """
        session = camera.session
        device = session.device_id
        if device is not None:  # set only once the registry knew the device
            stats = self.device_stats(device)
            if not session.confirmed:
                stats.failed_attempts += 1
            else:
                stats.frames_rejected += session.frames_rejected
                # A rejected newcomer must not mark the genuine, live camera as rejected.
                if self._live.get(device) in (None, camera):
                    stats.was_rejected(f"{code.name.lower()}: {detail}")
        self._note_refusal(camera.peer, device, code, detail)

    def _note_refusal(self, peer: str, device: str | None, code: CloseCode, detail: str) -> None:
        self.connections_rejected += 1
        log.warning(
            "rejected %s%s: %s (%d): %s",
            peer,
            f" device {device}" if device else "",
            code.name.lower(),
            code,
            detail,
        )
        self._emit(ConnectionRejected(peer, device, code, detail))

    async def _close(self, camera: _Camera, code: CloseCode, reason: str) -> None:
        """Close with an authenticated CLOSE and the WebSocket close; abort at the deadline."""
        camera.ended, camera.closing = (code, reason), True
        try:
            async with asyncio.timeout(CLOSE_DEADLINE_S):
                with contextlib.suppress(ConnectionClosed):
                    camera.session.close(code, reason)
                    await camera.link.flush()
                await camera.ws.close(code, reason)
        except TimeoutError:
            camera.ws.abort(code, f"{reason}; close not finished within {CLOSE_DEADLINE_S:g} s")

    def _closed_under_us(self, camera: _Camera, exc: ConnectionClosed) -> None:
        if camera.ws.violation is not None and not camera.closing:
            camera.ended = camera.ws.violation
            self._note_rejection(camera, *camera.ended)
            return
        if exc.sent is not None and not exc.rcvd_then_sent and not camera.closing:
            # websockets failed the connection itself (a message too big, a framing or UTF-8
            # violation): report it like every other rejection.
            camera.ended = _websockets_violation(exc.sent.code, exc.sent.reason)
            self._note_rejection(camera, *camera.ended)
            return
        if camera.closing:
            return  # closed by us, already reported
        if exc.rcvd is not None:
            camera.ended = (exc.rcvd.code, exc.rcvd.reason or "closed by camera")
        self._log_goodbye(camera)

    def _log_goodbye(self, camera: _Camera) -> None:
        device = camera.session.device_id
        if device is not None and self._live.get(device) is camera:
            code, reason = camera.ended
            log.info("device %s disconnected: %s (%d)", device, reason, code)

    def _forget(self, camera: _Camera) -> None:
        device = camera.session.device_id
        if device is None or self._live.get(device) is not camera:
            return
        del self._live[device]
        self.stats[device].went_offline()
        self._emit(DeviceDisconnected(device, *camera.ended))

    def _count_drop(self, device: str) -> None:
        self.device_stats(device).frames_dropped += 1

    def _emit(self, event: ReceiverEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken consumer must not take a camera down
                log.exception("receiver listener failed on %s", type(event).__name__)


class _PeerSaidGoodbye(Exception):
    """The camera sent an authenticated CLOSE record."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


def _websockets_violation(code: int, reason: str) -> tuple[CloseCode, str]:
    if code == CloseCode.MESSAGE_TOO_BIG:
        return CloseCode.MESSAGE_TOO_BIG, "WebSocket message over 65535 bytes"
    try:
        known = CloseCode(code)
    except ValueError:
        known = CloseCode.POLICY_VIOLATION
    return known, f"WebSocket violation ({code}): {reason or 'no reason given'}"


async def _recv(ws: ServerConnection) -> bytes:
    message = await ws.recv()
    if isinstance(message, str):
        raise ProtocolError(
            CloseCode.UNSUPPORTED_DATA, "text messages are not part of the protocol"
        )
    return message
