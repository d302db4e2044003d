"""The firmware's C protocol core as a camera against the real receiver, over loopback.

`libsecurecam_core.so` (firmware/lib/securecam_core, built by `make -C firmware/host`) plays
the camera through ctypes: it produces and consumes every protocol byte. Python only carries
its messages over a real WebSocket to a real `Receiver`, the way the firmware's I/O loop will.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.protocol.clock import monotonic_us
from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.records import Control, Status, encode, parse
from app.protocol.session import Credentials
from app.receiver.events import ConnectionRejected, DeviceDisconnected, FrameArrived, ReceiverEvent
from app.receiver.server import Receiver
from app.sim.sources import PrerenderedSource
from tests.waiting import scaled

MAX_MESSAGE = 65535
MAX_CHUNK_DATA = 65490
EV_NONE, EV_HANDSHAKE_DONE, EV_CONTROL, EV_PING, EV_PONG, EV_CLOSE = range(6)
STATE_CLOSED = 3
RECORD_STATUS = 0x05
ERR_MALFORMED = -17  # SC_ERR_MALFORMED (SC_ERR_PROTOCOL_BASE - 1)
FIRMWARE = b"securecam-fw/ctypes"

KEY = bytes(range(100, 132))
WRONG_KEY = bytes(32)
DEVICES = {
    "c-noise": Credentials("c-noise", KEY),
    "c-plain": Credentials("c-plain", KEY, allow_plain=True),
}

RNG_FN = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t
)
CLOCK_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)


class ScRng(ctypes.Structure):
    _fields_ = [("fn", RNG_FN), ("ctx", ctypes.c_void_p)]


class ScClock(ctypes.Structure):
    _fields_ = [("fn", CLOCK_FN), ("ctx", ctypes.c_void_p)]


class ScControl(ctypes.Structure):
    _fields_ = [
        ("frame_size", ctypes.c_uint8),
        ("quality", ctypes.c_uint8),
        ("fps_cap", ctypes.c_uint8),
        ("suite", ctypes.c_uint8),
    ]


class ScPing(ctypes.Structure):
    _fields_ = [("ping_id", ctypes.c_uint32), ("sender_time_us", ctypes.c_uint64)]


class ScPong(ctypes.Structure):
    _fields_ = [
        ("ping_id", ctypes.c_uint32),
        ("echo_time_us", ctypes.c_uint64),
        ("responder_time_us", ctypes.c_uint64),
    ]


class ScEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("control", ScControl),
        ("switch_suite", ctypes.c_uint8),
        ("ping", ScPing),
        ("pong", ScPong),
        ("ping_sent_us", ctypes.c_uint64),
        ("rtt_us", ctypes.c_int64),
        ("offset_us", ctypes.c_int64),
        ("close_code", ctypes.c_uint16),
        ("reason_len", ctypes.c_uint8),
        ("reason", ctypes.c_char * 256),
    ]


class ScStatus(ctypes.Structure):
    _fields_ = [
        ("rssi_dbm", ctypes.c_int8),
        ("frame_size", ctypes.c_uint8),
        ("quality", ctypes.c_uint8),
        ("fps_cap", ctypes.c_uint8),
        ("width", ctypes.c_uint16),
        ("height", ctypes.c_uint16),
        ("free_heap", ctypes.c_uint32),
        ("free_psram", ctypes.c_uint32),
        ("uptime_s", ctypes.c_uint32),
        ("firmware", ctypes.c_char_p),
        ("firmware_len", ctypes.c_size_t),
        ("has_frames_dropped", ctypes.c_bool),
        ("frames_dropped", ctypes.c_uint32),
        ("has_stack_min_free", ctypes.c_bool),
        ("stack_min_free", ctypes.c_uint32),
    ]


class ScRecordUnion(ctypes.Union):
    # Only STATUS is read here; the filler covers the larger members (sc_record is memset).
    _fields_ = [("status", ScStatus), ("filler", ctypes.c_uint64 * 32)]


class ScRecord(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("u", ScRecordUnion)]


@RNG_FN
def _urandom(_ctx, buf, length):  # the host's CSPRNG stands in for esp_fill_random
    ctypes.memmove(buf, os.urandom(length), length)
    return 0


_P, _SIZE, _U64, _INT = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64, ctypes.c_int
_OUT = [ctypes.c_char_p, _SIZE, ctypes.POINTER(_SIZE)]
_SIGNATURES = {
    "sc_session_size": ([], _SIZE),
    "sc_event_size": ([], _SIZE),
    "sc_session_init": ([_P, ctypes.c_char_p, ctypes.c_char_p, _INT, ScRng, ScClock], _INT),
    "sc_session_start": ([_P, *_OUT], _INT),
    "sc_session_receive": ([_P, ctypes.c_char_p, _SIZE, _U64, ctypes.POINTER(ScEvent)], _INT),
    "sc_session_status": ([_P, ctypes.POINTER(ScStatus), *_OUT], _INT),
    "sc_session_poll": ([_P, *_OUT], _INT),
    "sc_session_frame_begin": ([_P, ctypes.c_char_p, _SIZE, ctypes.c_uint32, _U64, _SIZE], _INT),
    "sc_session_frame_next_chunk": ([_P, *_OUT], _INT),
    "sc_session_frame_active": ([_P], ctypes.c_bool),
    "sc_session_close": ([_P, ctypes.c_uint16, ctypes.c_char_p, *_OUT], _INT),
    "sc_session_transport_closed": ([_P, ctypes.c_uint16, ctypes.c_char_p], None),
    "sc_session_get_state": ([_P], _INT),
    "sc_session_close_code": ([_P], ctypes.c_uint16),
    "sc_session_close_reason": ([_P], ctypes.c_char_p),
    "sc_session_wipe": ([_P], None),
    "sc_close_code_for": ([_INT], ctypes.c_uint16),
    "sc_close_code_is_rejection": ([ctypes.c_uint16], ctypes.c_bool),
    "sc_record_encode": ([ctypes.POINTER(ScRecord), *_OUT], _INT),
    "sc_record_parse": ([ctypes.c_char_p, _SIZE, ctypes.POINTER(ScRecord)], _INT),
}


@pytest.fixture(scope="module")
def core(firmware_build: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(firmware_build / "libsecurecam_core.so"))
    for name, (argtypes, restype) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    assert lib.sc_event_size() == ctypes.sizeof(ScEvent), "ScEvent does not mirror sc_event"
    return lib


class CoreError(Exception):
    def __init__(self, function: str, status: int, close_code: int) -> None:
        super().__init__(f"{function} returned {status} (close code {close_code})")
        self.status = status
        self.close_code = close_code


class CCamera:
    """One sc_session: every protocol byte comes from or goes into the C core."""

    def __init__(self, lib: ctypes.CDLL, device_id: str, psk: bytes | None, suite: Suite) -> None:
        self.lib = lib
        self._memory = (ctypes.c_uint64 * ((lib.sc_session_size() + 7) // 8))()
        self.session = ctypes.cast(self._memory, ctypes.c_void_p)
        # The device clock counts from a "boot" 5 s ago, like esp_timer_get_time().
        self.boot_us = monotonic_us() - 5_000_000
        self._clock = CLOCK_FN(lambda _ctx: self.now())
        self._out = ctypes.create_string_buffer(MAX_MESSAGE)
        self._frame: bytes | None = None  # the core points into it until the last chunk
        self._check(
            "sc_session_init",
            lib.sc_session_init(
                self.session,
                device_id.encode(),
                psk,
                int(suite),
                ScRng(_urandom, None),
                ScClock(self._clock, None),
            ),
        )

    def now(self) -> int:
        return monotonic_us() - self.boot_us

    def _check(self, function: str, status: int) -> None:
        if status != 0:
            raise CoreError(function, status, self.lib.sc_close_code_for(status))

    def _produce(self, function: str, *args: object) -> bytes:
        size = ctypes.c_size_t(0)
        self._check(
            function,
            getattr(self.lib, function)(
                self.session, *args, self._out, len(self._out), ctypes.byref(size)
            ),
        )
        return ctypes.string_at(self._out, size.value)

    def start(self) -> bytes:
        return self._produce("sc_session_start")

    def receive(self, message: bytes, rx_us: int) -> ScEvent:
        event = ScEvent()
        buffer = ctypes.create_string_buffer(message, len(message))  # decrypted in place
        self._check(
            "sc_session_receive",
            self.lib.sc_session_receive(
                self.session, buffer, len(message), rx_us, ctypes.byref(event)
            ),
        )
        return event

    def status(self) -> bytes:
        # As the firmware fills it, optional fields included (marked present by their has_).
        status = ScStatus(-42, FrameSize.VGA, 12, 25, 640, 480, 170_000, 4_000_000, 5)
        status.firmware, status.firmware_len = FIRMWARE, len(FIRMWARE)
        status.has_frames_dropped, status.frames_dropped = True, 3
        status.has_stack_min_free, status.stack_min_free = True, 2480
        return self._produce("sc_session_status", ctypes.byref(status))

    def poll(self) -> list[bytes]:
        out = []
        while message := self._produce("sc_session_poll"):
            out.append(message)
        return out

    def frame_begin(self, jpeg: bytes, seq: int, capture_us: int, chunk_data: int = 0) -> None:
        self._frame = jpeg
        self._check(
            "sc_session_frame_begin",
            self.lib.sc_session_frame_begin(
                self.session, jpeg, len(jpeg), seq, capture_us, chunk_data
            ),
        )

    @property
    def frame_active(self) -> bool:
        return bool(self.lib.sc_session_frame_active(self.session))

    def next_chunk(self) -> bytes:
        message = self._produce("sc_session_frame_next_chunk")
        if not self.frame_active:
            self._frame = None
        return message

    def close(self, code: int, reason: str) -> bytes:
        return self._produce("sc_session_close", code, reason.encode())

    def transport_closed(self, code: int, reason: str) -> None:
        self.lib.sc_session_transport_closed(self.session, code, reason.encode())

    @property
    def closed(self) -> bool:
        return self.lib.sc_session_get_state(self.session) == STATE_CLOSED

    @property
    def close_code(self) -> int:
        return self.lib.sc_session_close_code(self.session)

    @property
    def close_reason(self) -> str:
        return self.lib.sc_session_close_reason(self.session).decode()

    def wipe(self) -> None:
        self.lib.sc_session_wipe(self.session)


@dataclass
class Run:
    """What the C camera saw during one connection."""

    events: list[ScEvent] = field(default_factory=list)
    controls: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    error: CoreError | None = None


async def stream(
    camera: CCamera,
    url: str,
    frames: list[bytes],
    *,
    chunk_data: Callable[[int, int], int] = lambda seq, size: 0,
    finish: asyncio.Event | None = None,
    tamper_first_message: bool = False,
    run: Run | None = None,
) -> Run:
    """Connect, handshake, send STATUS and `frames`, then wait for `finish` and say goodbye.

    Every seal-and-send happens under one lock: each message took the next nonce when sealed.
    """
    run = Run() if run is None else run
    async with connect(
        url, compression=None, proxy=None, max_size=MAX_MESSAGE, ping_interval=None
    ) as ws:
        lock = asyncio.Lock()
        await ws.send(camera.start())
        answer = await asyncio.wait_for(ws.recv(), scaled(5))
        assert isinstance(answer, bytes)
        assert camera.receive(answer, camera.now()).type == EV_HANDSHAKE_DONE
        async with lock:
            await ws.send(camera.status())
        receiver = asyncio.create_task(_receive(camera, ws, lock, run, tamper_first_message))
        try:
            for seq, jpeg in enumerate(frames, start=1):
                if receiver.done():
                    break
                camera.frame_begin(jpeg, seq, camera.now(), chunk_data(seq, len(jpeg)))
                while camera.frame_active:
                    async with lock:
                        await ws.send(camera.next_chunk())
                        for pong in camera.poll():  # a PONG may go between two chunks
                            await ws.send(pong)
            if finish is not None and not receiver.done():
                finished = asyncio.ensure_future(finish.wait())
                await asyncio.wait([finished, receiver], return_when=asyncio.FIRST_COMPLETED)
                finished.cancel()
            if not camera.closed:
                async with lock:
                    await ws.send(camera.close(1000, "camera stopping"))
                await ws.close(1000, "camera stopping")
            else:
                await ws.close(camera.close_code, camera.close_reason)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
    return run


async def _receive(
    camera: CCamera, ws: ClientConnection, lock: asyncio.Lock, run: Run, tamper: bool
) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            assert isinstance(message, bytes)
            if tamper:
                message = bytes([message[0] ^ 1]) + message[1:]
                tamper = False
            try:
                event = camera.receive(message, camera.now())
            except CoreError as exc:
                run.error = exc
                return
            run.events.append(event)
            if event.type == EV_PING:
                async with lock:
                    for pong in camera.poll():
                        await ws.send(pong)
            elif event.type == EV_CONTROL:
                c = event.control
                run.controls.append(
                    (c.frame_size, c.quality, c.fps_cap, c.suite, event.switch_suite)
                )
                async with lock:
                    await ws.send(camera.status())  # report the settings now in force
            elif event.type == EV_CLOSE:
                return


def make_frames(count: int = 200) -> list[bytes]:
    """Real JPEGs (single- and multi-chunk) and random bytes at the chunking edges."""
    rng = random.Random(7)
    small = PrerenderedSource.synthetic(FrameSize.VGA, count=3, quality=80, seed=1).frames
    large = PrerenderedSource.synthetic(FrameSize.UXGA, count=2, quality=95, seed=2).frames
    edges = [2, 3, 100, MAX_CHUNK_DATA, MAX_CHUNK_DATA + 1, 200_000, 2 * 1024 * 1024]
    randoms = [b"\xff\xd8" + rng.randbytes(size - 2) for size in edges]
    pool = [*small, *large, *randoms]
    return [pool[i % len(pool)] for i in range(count)]


@pytest.fixture
async def receiver():
    receiver = Receiver(DEVICES.get, host="127.0.0.1", port=0)
    await receiver.start()
    yield receiver
    await receiver.stop()


def _url(receiver: Receiver) -> str:
    return f"ws://127.0.0.1:{receiver.port}/camera"


def _collect(receiver: Receiver) -> list[ReceiverEvent]:
    events: list[ReceiverEvent] = []
    receiver.add_listener(events.append)
    return events


async def _until(
    condition: Callable[[], bool], task: asyncio.Task | None = None, timeout: float = 10.0
) -> None:
    """Wait for `condition` (timeout scaled); a failure of the camera's `task` shows at once."""
    async with asyncio.timeout(scaled(timeout)):
        while not condition():
            if task is not None and task.done():
                task.result()
                raise AssertionError("the camera finished before the condition held")
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("device", "suite", "switch_request", "switch_expected"),
    [
        ("c-noise", Suite.NOISE, Suite.PLAIN, Suite.PLAIN),
        ("c-plain", Suite.PLAIN, Suite.NOISE, Suite.NOISE),
    ],
    ids=["noise", "plain"],
)
async def test_c_camera_streams_200_frames_bit_exact(
    core, receiver, device, suite, switch_request, switch_expected
):
    frames = make_frames()
    events = _collect(receiver)
    camera = CCamera(core, device, KEY, suite)
    finish = asyncio.Event()
    run = Run()
    # Every seventh frame up to 1 MiB in 16 KiB chunks (64 chunks at most): the camera
    # chooses its chunk size per frame.
    task = asyncio.create_task(
        stream(
            camera,
            _url(receiver),
            frames,
            chunk_data=lambda seq, size: 16384 if seq % 7 == 0 and size <= 64 * 16384 else 0,
            finish=finish,
            run=run,
        )
    )
    try:
        await _until(
            lambda: len([e for e in events if isinstance(e, FrameArrived)]) == len(frames), task
        )
        arrived = [e.frame for e in events if isinstance(e, FrameArrived)]
        assert [f.jpeg for f in arrived] == frames  # bit-exact, in order
        assert [f.seq for f in arrived] == list(range(1, len(frames) + 1))

        # CONTROLs from the app reach the C camera decoded, including a suite switch request.
        assert await receiver.send_control(device, Control(FrameSize.SVGA, 10, 15))
        assert await receiver.send_control(device, Control(suite=switch_request))
        await _until(lambda: len(run.controls) == 2, task)
        finish.set()
        await asyncio.wait_for(task, scaled(10))
        closed_with = (camera.close_code, camera.close_reason)
    finally:
        finish.set()
        if not task.done():
            task.cancel()
        camera.wipe()

    assert run.error is None
    assert run.controls == [
        (FrameSize.SVGA, 10, 15, 0, 0),
        (0, 0, 0, switch_request, switch_expected),
    ]
    stats = receiver.stats[device]
    assert stats.suite is suite
    assert stats.frames_received == len(frames) and stats.frames_rejected == 0
    status = stats.status
    assert status is not None and status.rssi_dbm == -42 and status.free_heap == 170_000
    assert status.firmware == FIRMWARE.decode()
    assert (status.frames_dropped, status.stack_min_free) == (3, 2480)

    # The C camera answered the app's pings: the app has a clock offset, and it is right.
    pings = [e for e in run.events if e.type == EV_PING]
    assert pings and [p.ping.ping_id for p in pings] == list(range(1, len(pings) + 1))
    assert stats.clock_offset_us is not None and stats.clock_error_us is not None
    assert abs(stats.clock_offset_us - -camera.boot_us) <= stats.clock_error_us + 1
    assert arrived[-1].timeline.clock_offset_us is not None

    # The goodbye was the authenticated CLOSE record.
    await _until(lambda: any(isinstance(e, DeviceDisconnected) for e in events))
    (gone,) = [e for e in events if isinstance(e, DeviceDisconnected)]
    assert (gone.code, gone.reason) == (1000, "camera stopping") == closed_with


STATUS_SAMPLES = [
    Status(-42, FrameSize.VGA, 12, 25, 640, 480, 170_000, 0, 5, "fw"),
    Status(-42, FrameSize.VGA, 12, 25, 640, 480, 170_000, 0, 5, "", frames_dropped=0),
    Status(0, FrameSize.UXGA, 4, 255, 1600, 1200, 1, 2, 3, "é", stack_min_free=2480),
    Status(
        -128,
        1,
        63,
        1,
        0,
        0,
        2**32 - 1,
        2**32 - 1,
        2**32 - 1,
        "x" * 123,
        frames_dropped=2**32 - 1,
        stack_min_free=0,
    ),
]


def _c_status(status: Status) -> ScStatus:
    firmware = status.firmware.encode()
    c = ScStatus(status.rssi_dbm, status.frame_size, status.quality, status.fps_cap,
                 status.width, status.height, status.free_heap, status.free_psram,
                 status.uptime_s, firmware, len(firmware))  # fmt: skip
    c.has_frames_dropped = status.frames_dropped is not None
    c.frames_dropped = status.frames_dropped or 0
    c.has_stack_min_free = status.stack_min_free is not None
    c.stack_min_free = status.stack_min_free or 0
    return c


@pytest.mark.parametrize("status", STATUS_SAMPLES, ids=["v1", "drops-0", "stack", "extremes"])
def test_c_and_python_status_records_are_the_same_bytes_with_or_without_the_extension(core, status):
    record = ScRecord(RECORD_STATUS, ScRecordUnion(status=_c_status(status)))
    out = ctypes.create_string_buffer(512)
    size = ctypes.c_size_t(0)
    assert core.sc_record_encode(ctypes.byref(record), out, len(out), ctypes.byref(size)) == 0
    message = out.raw[: size.value]
    assert message == encode(status)
    assert parse(message) == status

    parsed = ScRecord()
    assert core.sc_record_parse(message, len(message), ctypes.byref(parsed)) == 0
    c = parsed.u.status
    assert parsed.type == RECORD_STATUS
    assert (c.has_frames_dropped, c.has_stack_min_free) == (
        status.frames_dropped is not None,
        status.stack_min_free is not None,
    )
    assert (c.frames_dropped, c.stack_min_free) == (
        status.frames_dropped or 0,
        status.stack_min_free or 0,
    )


@pytest.mark.parametrize("tail", ["00", "01", "010000000c00", "030000000c"])
def test_c_and_python_refuse_the_same_malformed_status_extensions(core, tail):
    message = encode(STATUS_SAMPLES[0]) + bytes.fromhex(tail)
    parsed = ScRecord()
    assert core.sc_record_parse(message, len(message), ctypes.byref(parsed)) == ERR_MALFORMED
    assert core.sc_close_code_for(ERR_MALFORMED) == CloseCode.MALFORMED_RECORD
    with pytest.raises(ProtocolError) as info:
        parse(message)
    assert info.value.code is CloseCode.MALFORMED_RECORD


async def test_wrong_key_is_rejected_by_the_app_and_reported_by_the_c_camera(core, receiver):
    events = _collect(receiver)
    camera = CCamera(core, "c-noise", WRONG_KEY, Suite.NOISE)
    try:
        async with connect(
            _url(receiver), compression=None, proxy=None, max_size=MAX_MESSAGE
        ) as ws:
            await ws.send(camera.start())
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), scaled(5))
        assert closed.value.rcvd is not None
        code, reason = closed.value.rcvd.code, closed.value.rcvd.reason
        assert code == 4004
        camera.transport_closed(code, reason)
        assert camera.closed and camera.close_code == 4004
        assert core.sc_close_code_is_rejection(camera.close_code)
    finally:
        camera.wipe()
    await _until(lambda: any(isinstance(e, ConnectionRejected) for e in events))
    (rejected,) = [e for e in events if isinstance(e, ConnectionRejected)]
    assert (rejected.device, rejected.code) == ("c-noise", 4004)
    assert receiver.stats["c-noise"].frames_received == 0


async def test_c_camera_detects_a_tampered_app_message_and_closes_4007(core, receiver):
    events = _collect(receiver)
    camera = CCamera(core, "c-noise", KEY, Suite.NOISE)
    try:
        # The first transport message from the app is PING #1: flip one bit of it.
        run = await asyncio.wait_for(
            stream(camera, _url(receiver), [], finish=asyncio.Event(), tamper_first_message=True),
            scaled(10),
        )
    finally:
        camera.wipe()
    assert run.error is not None and run.error.close_code == 4007
    assert run.events == []
    await _until(lambda: any(isinstance(e, DeviceDisconnected) for e in events))
    (gone,) = [e for e in events if isinstance(e, DeviceDisconnected)]
    assert gone.code == 4007 and "authentication" in gone.reason
