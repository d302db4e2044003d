"""A simulated ESP32-CAM: the same client the firmware runs, over a real WebSocket.

Like the firmware it connects to ws://host:port/camera, handshakes, sends a STATUS record,
then streams frames at a capped rate, never falling behind by more than one frame, answers
pings, applies CONTROL records live, and reconnects with backoff when the receiver goes away.
Its STATUS reports the frames it dropped because the link was busy (`frames_dropped`), and
leaves the stack high-water mark unknown: a simulator has no loop-task stack to measure.
Like a board with PSRAM, it raises a JPEG quality that its 384,000-byte JPEG buffer cannot
hold at the frame size to the floor for that size (docs/JPEG-BUFFER.md), and STATUS reports
the quality in force; the quality asked for is kept, so a smaller size gets it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidURI,
)

from app import __version__
from app.protocol.clock import monotonic_us
from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.framesize import JPEG_BUFFER_PSRAM, FrameSize, jpeg_quality_in_force
from app.protocol.hello import Suite
from app.protocol.records import MAX_CHUNK_DATA, NO_FPS_CAP, UNCHANGED, Control, Status
from app.protocol.session import CameraSession, ControlReceived, HandshakeComplete, PeerClosed
from app.sim.sources import FrameSource, SyntheticSource
from app.wsio import SessionLink

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 5.0
HANDSHAKE_TIMEOUT_S = 5.0  # for the answer to the hello, as the firmware waits (4006)
IDLE_TIMEOUT_S = 10.0  # nothing received for this long in a session: close it (4011)
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
# lwIP's TCP send buffer on the board (CONFIG_LWIP_TCP_SND_BUF_DEFAULT, Arduino-ESP32 2.x;
# firmware/src/net_link.cpp): `send_buffer=BOARD_SEND_BUFFER` makes the simulator hold to it.
BOARD_SEND_BUFFER = 5744
FIRMWARE = f"securecam-sim/{__version__}"
REJECTIONS = frozenset(
    {
        CloseCode.BAD_HELLO,
        CloseCode.UNSUPPORTED_VERSION,
        CloseCode.UNKNOWN_DEVICE,
        CloseCode.AUTH_FAILED,
        CloseCode.PLAIN_NOT_ALLOWED,
        CloseCode.SERVER_REJECTED,
    }
)


@dataclass
class CameraStats:
    frames_sent: int = 0
    frames_skipped: int = 0  # capture slots missed because sending fell behind
    # Of those, the slots that came while a frame was still going out: frames a camera would
    # have captured and dropped because the link could not take them (latest frame wins).
    # Since "boot" (this object), reported in STATUS modulo 2**32 like the firmware's counter.
    frames_dropped: int = 0
    bytes_sent: int = 0
    connects: int = 0
    last_close: tuple[int, str] | None = None


@dataclass
class CameraSettings:
    fps: float = 25.0
    quality: int = 12  # asked for (default or CONTROL), esp32-camera's scale: 4 (best) .. 63
    frame_size: FrameSize = FrameSize.VGA
    controls: list[Control] = field(default_factory=list)

    @property
    def quality_in_force(self) -> int:
        """The quality applied: `quality`, raised to the floor for the frame size when the
        JPEG buffer (a PSRAM board's, UXGA/5) could not hold a frame below it."""
        return jpeg_quality_in_force(self.frame_size, self.quality, JPEG_BUFFER_PSRAM)


class SimulatedCamera:
    """Stream `source` to a receiver as device `device_id`.

    `frames` limits how many frames are sent in total (None: forever). `reconnect=False` makes
    `run()` return after the first connection ends instead of retrying with backoff.
    `frame_size` and `quality` are the camera's defaults, as provisioned (the frame size
    defaults to the source's, if it is one of the protocol's). `open_socket`, when given,
    returns each connection's connected TCP socket (e.g. one made in another network
    namespace). `send_buffer` holds the socket's and websockets' send buffers to that many
    bytes, as lwIP's 5,744-byte buffer does on the board: on a slow link the camera then drops
    frames instead of queueing seconds of them in the operating system. `capture_in_thread`
    renders and encodes each frame in a worker thread, as a board's sensor and JPEG encoder
    work beside its network loop: a demo camera in the window then leaves the UI's event loop
    free (a VGA frame of the synthetic room costs about 2 ms, its first one the room's 30 ms).
    """

    def __init__(
        self,
        url: str,
        device_id: str,
        psk: bytes | None,
        source: FrameSource,
        *,
        suite: Suite = Suite.NOISE,
        fps: float = 25.0,
        frames: int | None = None,
        reconnect: bool = True,
        retry_rejected: bool = False,
        chunk_data: int = MAX_CHUNK_DATA,
        on_control: Callable[[Control], None] | None = None,
        frame_size: FrameSize | None = None,
        quality: int = 12,
        open_socket: Callable[[], Awaitable[socket.socket]] | None = None,
        send_buffer: int | None = None,
        capture_in_thread: bool = False,
    ) -> None:
        if suite is Suite.NOISE and psk is None:
            raise ValueError("the encrypted suite needs the device key")
        self.url = url
        self.device_id = device_id
        self.suite = suite  # the configured suite
        self.session_suite = suite  # the suite of the current or next session
        self._switch_to: Suite | None = None
        self.source = source
        if frame_size is None:
            frame_size = _frame_size_of(source)
        self.settings = CameraSettings(fps=fps, quality=quality, frame_size=frame_size)
        self.frames = frames
        self.reconnect = reconnect
        self.retry_rejected = retry_rejected
        self.chunk_data = chunk_data
        self.stats = CameraStats()
        self._psk = psk
        self._on_control = on_control
        self._open_socket = open_socket
        self._send_buffer = send_buffer
        self._capture_in_thread = capture_in_thread
        self._boot_us = monotonic_us()  # the device clock counts from "power-on", like esp_timer
        self._seq = 0
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()

    @property
    def rejected(self) -> bool:
        """The receiver refused this camera's identity, key or suite: retrying cannot help."""
        return self.stats.last_close is not None and self.stats.last_close[0] in REJECTIONS

    def device_clock(self) -> int:
        return monotonic_us() - self._boot_us

    def stop(self) -> None:
        self._stopping.set()

    @property
    def done(self) -> bool:
        return self.frames is not None and self.stats.frames_sent >= self.frames

    async def run(self) -> CameraStats:
        """Connect, stream and reconnect until stopped, done, or (without reconnect) closed."""
        delay = BACKOFF_FIRST_S
        while not self._stopping.is_set() and not self.done:
            try:
                await self._connection()
                delay = BACKOFF_FIRST_S
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                self._note_failure(exc)
            except ProtocolError as exc:
                self.stats.last_close = (exc.code, exc.reason)
                log.warning("%s: %s", self.device_id, exc)
            except InvalidURI as exc:
                raise ValueError(f"invalid receiver URL {self.url!r}") from exc
            finally:
                self.connected.clear()
            switched, self._switch_to = self._switch_to, None
            was_switched = self.session_suite is not self.suite
            self.session_suite = switched or self.suite  # a switched-to suite lasts one session
            if switched is not None:
                continue  # reconnect at once in the requested suite
            if not self.reconnect or self._stopping.is_set() or self.done:
                break
            # A rejection of a suite the receiver asked for says nothing about the configured one.
            if self.rejected and not self.retry_rejected and not was_switched:
                break
            # Jitter in [d/2, d] keeps a fleet of cameras from reconnecting in lock-step.
            wait = random.uniform(delay / 2, delay)
            log.info("%s: reconnecting in %.1f s", self.device_id, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
            delay = min(delay * 2, BACKOFF_MAX_S)
        return self.stats

    def _note_failure(self, exc: BaseException) -> None:
        if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
            self.stats.last_close = (exc.rcvd.code, exc.rcvd.reason)
            log.warning(
                "%s: receiver closed the connection: %s (%d)",
                self.device_id,
                exc.rcvd.reason,
                exc.rcvd.code,
            )
        else:
            self.stats.last_close = (1006, str(exc) or type(exc).__name__)
            log.warning("%s: connection failed: %s", self.device_id, exc or type(exc).__name__)

    async def _connection(self) -> None:
        sock = None if self._open_socket is None else await self._open_socket()
        if sock is not None and self._send_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._send_buffer)
        async with connect(
            self.url,
            sock=sock,
            compression=None,
            max_size=65535,
            ping_interval=None,
            proxy=None,
            open_timeout=HANDSHAKE_TIMEOUT_S,
            close_timeout=2,
            write_limit=self._send_buffer or 2**15,  # websockets' default otherwise
        ) as ws:
            if sock is None and self._send_buffer is not None:
                own = ws.transport.get_extra_info("socket")
                own.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._send_buffer)
            suite = self.session_suite
            session = CameraSession(self.device_id, self._psk, suite, clock=self.device_clock)
            link = SessionLink(ws, session)
            session.start()
            await link.flush()
            try:
                async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                    answer = await ws.recv()
            except TimeoutError:
                # As the firmware does: no CLOSE record (no keys yet), close code 4006.
                reason = "no answer to the hello"
                await ws.close(CloseCode.HANDSHAKE_TIMEOUT, reason)
                raise ProtocolError(CloseCode.HANDSHAKE_TIMEOUT, reason) from None
            try:
                if isinstance(answer, str):
                    raise ProtocolError(CloseCode.SERVER_REJECTED, "text answer to the hello")
                events = session.receive(answer)
            except ProtocolError as exc:
                await ws.close(exc.code, exc.reason)
                raise
            assert any(isinstance(e, HandshakeComplete) for e in events)
            self.stats.connects += 1
            session.send_status(self._status())  # the first record also confirms the session
            await link.flush()
            self.connected.set()
            log.info("%s: connected to %s (%s)", self.device_id, self.url, suite.label)
            receiver = asyncio.create_task(self._receive(ws, session, link))
            try:
                await self._stream(session, link, receiver)
            except ProtocolError as exc:
                # Tell the receiver why, authenticated when keys exist, like the firmware does.
                session.close(exc.code, exc.reason)
                with contextlib.suppress(ConnectionClosed):
                    await link.flush()
                await ws.close(exc.code, exc.reason)
                raise
            finally:
                receiver.cancel()
            if self.done or self._stopping.is_set() or self._switch_to is not None:
                reason = (
                    "camera stopping"
                    if self._switch_to is None
                    else f"switching to {self._switch_to.name.lower()}"
                )
                session.close(CloseCode.NORMAL, reason)
                await link.flush()
                await ws.close(CloseCode.NORMAL, reason)

    async def _stream(
        self, session: CameraSession, link: SessionLink, receiver: asyncio.Task[None]
    ) -> None:
        loop = asyncio.get_running_loop()
        next_capture = loop.time()
        next_status = loop.time() + STATUS_INTERVAL_S
        while not self.done and not self._stopping.is_set() and self._switch_to is None:
            if receiver.done():
                receiver.result()  # re-raises why the connection ended
                return
            if not session.can_send:
                # The app's CLOSE was read while the connection is still being closed: the
                # receiving task ends with the reason; nothing more may be sealed meanwhile.
                await receiver
                return
            source = self.source  # a CONTROL may replace it meanwhile
            if self._capture_in_thread:
                jpeg = await asyncio.to_thread(source.next_frame)
            else:
                jpeg = source.next_frame()
            capture_us = self.device_clock()
            self._seq += 1
            send_started = loop.time()
            session.send_frame(jpeg, self._seq, capture_us, chunk_data=self.chunk_data)
            await link.flush()
            self.stats.frames_sent += 1
            self.stats.bytes_sent += len(jpeg)
            now = loop.time()
            if now >= next_status and session.can_send:
                session.send_status(self._status())
                await link.flush()
                next_status = now + STATUS_INTERVAL_S
            next_capture += self._interval()
            if next_capture < now:
                # Behind schedule: skip to the newest frame rather than queue stale ones.
                missed, dropped = missed_slots(next_capture, send_started, now, self._interval())
                self.stats.frames_skipped += missed
                if self.settings.fps < NO_FPS_CAP:  # uncapped, the slots are not real captures
                    self.stats.frames_dropped += dropped
                next_capture += missed * self._interval()
            # Stop requests are seen within one frame interval, like the firmware's loop.
            await asyncio.sleep(max(0.0, next_capture - now))

    async def _receive(
        self, ws: ClientConnection, session: CameraSession, link: SessionLink
    ) -> None:
        while True:
            try:
                async with asyncio.timeout(IDLE_TIMEOUT_S):
                    message = await ws.recv()
            except ConnectionClosedOK:
                return  # a normal close ends the session, as `async for` would
            except TimeoutError:
                # The receiver pings every second: this long a silence means it is gone.
                raise ProtocolError(
                    CloseCode.IDLE_TIMEOUT, "no message within idle timeout"
                ) from None
            rx_us = self.device_clock()
            if isinstance(message, str):
                raise ProtocolError(CloseCode.UNSUPPORTED_DATA, "text message from receiver")
            for event in session.receive(message, rx_us):
                if isinstance(event, ControlReceived):
                    self._apply(event.control)
                    session.send_status(self._status())  # report the settings now in force
                elif isinstance(event, PeerClosed):
                    log.info(
                        "%s: receiver closed: %s (%d)", self.device_id, event.reason, event.code
                    )
                    self.stats.last_close = (event.code, event.reason)
            await link.flush()

    def _apply(self, control: Control) -> None:
        settings = self.settings
        settings.controls.append(control)
        if control.fps_cap != UNCHANGED:
            settings.fps = 1000.0 if control.fps_cap == NO_FPS_CAP else float(control.fps_cap)
        if control.quality != UNCHANGED:
            settings.quality = control.quality
        if control.frame_size != UNCHANGED:
            try:
                settings.frame_size = FrameSize(control.frame_size)
            except ValueError:
                log.warning(
                    "%s: ignoring unknown frame size %d", self.device_id, control.frame_size
                )
        if isinstance(self.source, SyntheticSource) and control != Control():
            # Like the sensor, re-render at the new size and quality from the next frame on.
            self.source = SyntheticSource(
                settings.frame_size,
                quality=jpeg_quality(settings.quality_in_force),
                seed=self.source.seed,  # the same room, seen at the new settings
                label=self.source.label,
            )
        if control.suite != UNCHANGED:
            self._request_suite(control.suite)
        log.info("%s: applied %s", self.device_id, control)
        if self._on_control is not None:
            self._on_control(control)

    def _request_suite(self, code: int) -> None:
        try:
            wanted = Suite(code)
        except ValueError:
            log.warning("%s: ignoring unknown suite %d", self.device_id, code)
            return
        if wanted is self.session_suite:
            return
        if wanted is Suite.NOISE and self._psk is None:
            log.warning("%s: cannot switch to the encrypted suite without a key", self.device_id)
            return
        self._switch_to = wanted

    def _interval(self) -> float:
        return 1.0 / max(self.settings.fps, 0.1)

    def _status(self) -> Status:
        return Status(
            rssi_dbm=-55,
            frame_size=self.settings.frame_size,
            quality=self.settings.quality_in_force,
            fps_cap=max(1, min(int(self.settings.fps), NO_FPS_CAP)),  # 1..255 on the wire
            width=self.source.width,
            height=self.source.height,
            free_heap=180_000,
            free_psram=3_900_000,
            uptime_s=self.device_clock() // 1_000_000,
            firmware=FIRMWARE,
            frames_dropped=self.stats.frames_dropped % 2**32,
            stack_min_free=None,  # unknown: there is no loop task whose stack could be measured
        )


def missed_slots(
    next_capture: float, send_started: float, now: float, interval: float
) -> tuple[int, int]:
    """Capture slots missed from `next_capture` (due, not yet taken) up to `now`, and how many
    of them fell at or after `send_started`, while the last frame was still being sent.

    The first count is what skipping to the newest frame passes over; the second is the part
    a camera would have captured and then dropped because the link was busy (the rest were
    lost to a slow capture, not to the link).
    """
    if next_capture >= now:
        return 0, 0
    missed = int((now - next_capture) / interval) + 1
    if next_capture >= send_started:
        return missed, missed
    before_send = math.ceil((send_started - next_capture) / interval)
    return missed, max(0, missed - before_send)


def _frame_size_of(source: FrameSource) -> FrameSize:
    """The protocol's name for the source's dimensions; VGA when it has none."""
    for size in FrameSize:
        if (size.width, size.height) == (source.width, source.height):
            return size
    return FrameSize.VGA


def jpeg_quality(esp32_quality: int) -> int:
    """Map esp32-camera's 4 (best) .. 63 (worst) scale onto libjpeg's 1..100."""
    return max(5, min(95, 100 - round(esp32_quality * 1.6)))
