"""The firmware's own WebSocket client codec (firmware/src/ws_codec.c) and back-off
(firmware/src/backoff.c), built on the host and driven through ctypes.

Those two files are portable C inside the board layer: the camera's WebSocket client is
ws_client.cpp (WiFiClient I/O, not compiled here) around this codec. The codec is checked
against RFC 6455's example, hand-made frames fed in every split, the `websockets` library in
both directions, and finally, together with the C protocol core, against the app's Receiver:
every byte of that connection, HTTP upgrade included, comes from the firmware's C code.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.protocol.hello import Suite
from app.receiver.events import ConnectionRejected, DeviceDisconnected, FrameArrived, ReceiverEvent
from app.receiver.server import Receiver
from tests.firmware.test_core_interop import (
    _SIGNATURES,
    DEVICES,
    EV_HANDSHAKE_DONE,
    EV_PING,
    KEY,
    CCamera,
)
from tests.waiting import scaled, wait_until

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "firmware" / "src"
MAX_MESSAGE = 65535
RX_CAPACITY = 512  # WsClient::kRxCapacity

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
EV_NONE, EV_MESSAGE, EV_WS_PING, EV_WS_PONG, EV_CLOSE, EV_ERROR = range(6)
RESPONSE = ["incomplete", "ok", "bad_status", "bad_headers", "too_long"]


class WsEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("text", ctypes.c_bool),
        ("truncated", ctypes.c_bool),
        ("data", ctypes.POINTER(ctypes.c_uint8)),
        ("len", ctypes.c_size_t),
        ("total_len", ctypes.c_uint64),
        ("code", ctypes.c_uint16),
    ]


class Backoff(ctypes.Structure):
    _fields_ = [
        ("first_ms", ctypes.c_uint32),
        ("max_ms", ctypes.c_uint32),
        ("delay_ms", ctypes.c_uint32),
    ]


_P, _SIZE, _U8P = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p
_FUNCTIONS = {
    "ws_key_encode": ([_U8P, _U8P], ctypes.c_int),
    "ws_accept_for_key": ([_U8P, _U8P], ctypes.c_int),
    "ws_request_build": ([_U8P, ctypes.c_uint16, _U8P, _U8P, _U8P, _SIZE], _SIZE),
    "ws_response_check": (
        [_U8P, _SIZE, _U8P, ctypes.POINTER(_SIZE), ctypes.POINTER(ctypes.c_int)],
        ctypes.c_int,
    ),
    "ws_header_len": ([ctypes.c_uint64], _SIZE),
    "ws_frame_header": ([ctypes.c_uint8, ctypes.c_uint64, _U8P, _U8P], _SIZE),
    "ws_mask": ([_P, _SIZE, _U8P], None),
    "ws_close_payload": ([ctypes.c_uint16, _U8P, _SIZE, _U8P], _SIZE),
    "ws_parser_init": ([_P, _P, _SIZE, ctypes.c_uint64], None),
    "ws_parser_feed": (
        [_P, _U8P, _SIZE, ctypes.POINTER(_SIZE), ctypes.POINTER(WsEvent)],
        ctypes.c_int,
    ),
    "backoff_init": ([ctypes.POINTER(Backoff), ctypes.c_uint32, ctypes.c_uint32], None),
    "backoff_reset": ([ctypes.POINTER(Backoff)], None),
    "backoff_next": ([ctypes.POINTER(Backoff), ctypes.c_uint32], ctypes.c_uint32),
    "backoff_rejected": ([ctypes.POINTER(Backoff), ctypes.c_uint32], ctypes.c_uint32),
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> ctypes.CDLL:
    if shutil.which("gcc") is None or not Path("/usr/include/mbedtls/sha1.h").exists():
        pytest.skip("needs gcc and the mbedTLS headers (build-essential, libmbedtls-dev)")
    library = tmp_path_factory.mktemp("ws") / "libsecurecam_ws.so"
    command = [
        "gcc", "-shared", "-fPIC", "-O1", "-std=gnu99", "-Wall", "-Wextra", "-Werror",
        "-o", str(library), str(SRC / "ws_codec.c"), str(SRC / "backoff.c"), "-lmbedcrypto",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lib = ctypes.CDLL(str(library))
    for name, (argtypes, restype) in _FUNCTIONS.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    return lib


@pytest.fixture(scope="module")
def core(firmware_build: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(firmware_build / "libsecurecam_core.so"))
    for name, (argtypes, restype) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    return lib


# ---- Python views of the codec ---------------------------------------------------------


def accept_for(ws: ctypes.CDLL, key: str) -> str:
    out = ctypes.create_string_buffer(29)
    assert ws.ws_accept_for_key(key.encode(), out) == 0
    return out.value.decode()


def check_response(ws: ctypes.CDLL, data: bytes, accept: str) -> tuple[str, int, int]:
    header_len, status = ctypes.c_size_t(0), ctypes.c_int(0)
    result = ws.ws_response_check(
        data, len(data), accept.encode(), ctypes.byref(header_len), ctypes.byref(status)
    )
    return RESPONSE[result], status.value, header_len.value


def client_frame(ws: ctypes.CDLL, opcode: int, payload: bytes) -> bytes:
    """A masked client frame exactly as WsClient::send_frame builds it."""
    mask = os.urandom(4)
    header = ctypes.create_string_buffer(14)
    n = ws.ws_frame_header(opcode, len(payload), mask, header)
    body = ctypes.create_string_buffer(payload, max(len(payload), 1))
    ws.ws_mask(body, len(payload), mask)
    return header.raw[:n] + body.raw[: len(payload)]


def close_payload(ws: ctypes.CDLL, code: int, reason: bytes) -> bytes:
    out = ctypes.create_string_buffer(125)
    n = ws.ws_close_payload(code, reason, len(reason), out)
    return out.raw[:n]


@dataclass(frozen=True)
class Ev:
    kind: str
    data: bytes = b""
    code: int = 0
    text: bool = False
    truncated: bool = False
    total_len: int = 0


class Parser:
    def __init__(self, ws: ctypes.CDLL, cap: int = RX_CAPACITY, max_message: int = MAX_MESSAGE):
        self.ws = ws
        self._state = (ctypes.c_uint64 * 128)()  # larger than ws_parser
        self._buf = ctypes.create_string_buffer(cap)
        ws.ws_parser_init(self._state, self._buf, cap, max_message)

    def feed(self, data: bytes) -> list[Ev]:
        events, off = [], 0
        while True:
            ev, used = WsEvent(), ctypes.c_size_t(0)
            chunk = data[off:]
            kind = self.ws.ws_parser_feed(
                self._state, chunk, len(chunk), ctypes.byref(used), ctypes.byref(ev)
            )
            off += used.value
            if kind == EV_NONE:
                assert off == len(data)
                return events
            payload = ctypes.string_at(ev.data, ev.len) if ev.len else b""
            events.append(
                {
                    EV_MESSAGE: Ev("message", payload, 0, ev.text, ev.truncated, ev.total_len),
                    EV_WS_PING: Ev("ping", payload),
                    EV_WS_PONG: Ev("pong", payload),
                    EV_CLOSE: Ev("close", payload, ev.code),
                    EV_ERROR: Ev("error", code=ev.code),
                }[kind]
            )
            if kind == EV_ERROR:
                return events


def server_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length_bytes: int | None = None,
) -> bytes:
    """A frame as a server sends it (unmasked unless asked), for the parser tests."""
    b0 = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    size = length_bytes if length_bytes is not None else (0 if n < 126 else 2 if n < 65536 else 8)
    mask_bit = 0x80 if mask is not None else 0
    if size == 0:
        head = bytes([b0, mask_bit | n])
    elif size == 2:
        head = bytes([b0, mask_bit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mask_bit | 127]) + struct.pack(">Q", n)
    if mask is not None:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


# ---- the opening handshake -------------------------------------------------------------


def test_key_and_accept_match_rfc6455_example(ws):
    key = ctypes.create_string_buffer(25)
    assert ws.ws_key_encode(b"the sample nonce", key) == 0
    assert key.value == b"dGhlIHNhbXBsZSBub25jZQ=="
    assert accept_for(ws, "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_request_offers_no_extension_or_subprotocol(ws):
    out = ctypes.create_string_buffer(256)
    key = b"dGhlIHNhbXBsZSBub25jZQ=="
    n = ws.ws_request_build(b"192.168.1.50", 8888, b"/camera", key, out, 256)
    lines = out.raw[:n].decode().split("\r\n")
    assert lines[0] == "GET /camera HTTP/1.1"
    assert lines[-2:] == ["", ""]
    headers = dict(line.split(": ", 1) for line in lines[1:-2])
    assert headers == {
        "Host": "192.168.1.50:8888",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    assert ws.ws_request_build(b"h", 1, b"/camera", b"k" * 24, out, 40) == 0  # does not fit


ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
OK_RESPONSE = (
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (OK_RESPONSE, ("ok", 101)),
        (
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
            f"connection: keep-alive, upgrade\r\nsec-websocket-accept:{ACCEPT}  \r\n"
            "Server: Python/3.11 websockets/15\r\n\r\n",
            ("ok", 101),
        ),
        (OK_RESPONSE[:-2], ("incomplete", 101)),
        ("HTTP/1.1 10", ("incomplete", 0)),
        ("HTTP/1.1 404 Not Found\r\n", ("bad_status", 404)),
        ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", ("bad_status", 404)),
        ("SSH-2.0-OpenSSH_9.2\r\n\r\n", ("bad_status", 0)),
        (OK_RESPONSE.replace(ACCEPT, "x" * 28), ("bad_headers", 101)),
        (OK_RESPONSE.replace("Upgrade: websocket\r\n", ""), ("bad_headers", 101)),
        (OK_RESPONSE.replace("Connection: Upgrade", "Connection: close"), ("bad_headers", 101)),
        (
            OK_RESPONSE.replace(
                "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
            ),
            ("bad_headers", 101),
        ),
        ("HTTP/1.1 101 OK\r\n" + "X-Padding: aaaaaaaaaa\r\n" * 60, ("too_long", 101)),
    ],
    ids=[
        "ok", "ok-case-and-lists", "incomplete", "incomplete-status", "404-early", "404",
        "not-http", "wrong-accept", "no-upgrade", "connection-close", "extension", "too-long",
    ],
)  # fmt: skip
def test_response_check(ws, response, expected):
    result, status, header_len = check_response(ws, response.encode(), ACCEPT)
    assert (result, status) == expected
    if result == "ok":
        assert header_len == len(response.encode())
        # Frames right behind the header are not part of it.
        assert check_response(ws, response.encode() + b"\x82\x00", ACCEPT)[2] == header_len


# ---- frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65535, 65536, 70000])
def test_client_frame_header_lengths_and_mask(ws, length):
    payload = os.urandom(length)
    frame = client_frame(ws, OP_BINARY, payload)
    assert frame[0] == 0x82 and frame[1] & 0x80  # FIN, binary, masked
    header = ws.ws_header_len(length)
    assert header == {0: 6, 1: 6, 125: 6, 126: 8, 65535: 8}.get(length, 14)
    declared = frame[1] & 0x7F
    if declared == 126:
        declared = struct.unpack(">H", frame[2:4])[0]
    elif declared == 127:
        declared = struct.unpack(">Q", frame[2:10])[0]
    assert declared == length and len(frame) == header + length
    mask = frame[header - 4 : header]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(frame[header:])) == payload


def test_close_payload_cuts_the_reason_at_123_bytes(ws):
    assert close_payload(ws, 4015, b"bad answer") == b"\x0f\xafbad answer"
    assert close_payload(ws, 1000, b"x" * 200) == b"\x03\xe8" + b"x" * 123


def _feed_every_way(ws, data: bytes) -> list[Ev]:
    whole = Parser(ws).feed(data)
    for split in range(1, len(data)):  # two pieces, at every position
        p = Parser(ws)
        assert p.feed(data[:split]) + p.feed(data[split:]) == whole, split
    p = Parser(ws)
    assert [e for b in data for e in p.feed(bytes([b]))] == whole  # byte by byte
    return whole


def test_parser_joins_fragments_around_control_frames(ws):
    data = (
        server_frame(OP_BINARY, b"\x00" * 48)
        + server_frame(OP_BINARY, b"")  # the plain suite's answer: an empty message
        + server_frame(OP_BINARY, b"frag", fin=False)
        + server_frame(OP_PING, b"keepalive")
        + server_frame(OP_CONT, b"ment", fin=False)
        + server_frame(OP_CONT, b"ed", fin=True)
        + server_frame(OP_TEXT, "héllo".encode())
        + server_frame(OP_PONG, b"")
        + server_frame(OP_BINARY, b"z" * 300, length_bytes=2)
        + server_frame(OP_CLOSE, b"\x0f\xa3unknown device")
    )
    assert _feed_every_way(ws, data) == [
        Ev("message", b"\x00" * 48, total_len=48),
        Ev("message", b"", total_len=0),
        Ev("ping", b"keepalive"),
        Ev("message", b"fragmented", total_len=10),
        Ev("message", "héllo".encode(), text=True, total_len=6),
        Ev("pong"),
        Ev("message", b"z" * 300, total_len=300),
        Ev("close", b"unknown device", code=4003),
    ]


def test_parser_close_without_code_and_truncation(ws):
    assert Parser(ws).feed(server_frame(OP_CLOSE, b"")) == [Ev("close", code=1005)]
    big = os.urandom(1000)
    (ev,) = _feed_every_way(ws, server_frame(OP_BINARY, big))
    assert ev == Ev("message", big[:RX_CAPACITY], truncated=True, total_len=1000)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (server_frame(OP_BINARY, b"abc", mask=b"\x01\x02\x03\x04"), 1002),  # servers never mask
        (server_frame(OP_BINARY, b"abc", rsv=4), 1002),  # RSV1: no extension was agreed
        (server_frame(3, b"abc"), 1002),  # reserved opcode
        (server_frame(OP_PING, b"x", fin=False), 1002),  # fragmented control frame
        (server_frame(OP_PING, b"x" * 126), 1002),  # control payload over 125
        (server_frame(OP_CONT, b"x"), 1002),  # continuation of nothing
        (server_frame(OP_BINARY, b"a", fin=False) + server_frame(OP_BINARY, b"b"), 1002),
        (server_frame(OP_CLOSE, b"\x03"), 1002),  # a one-byte close payload
        (server_frame(OP_CLOSE, b"\x03\xed"), 1002),  # 1005 may not be sent
        (server_frame(OP_CLOSE, b"\x13\x88"), 1002),  # 5000 is no close code
        (server_frame(OP_BINARY, b"x" * (MAX_MESSAGE + 1)), 1009),
        (
            server_frame(OP_BINARY, b"x" * 40000, fin=False)
            + server_frame(OP_CONT, b"x" * 40000, fin=False),
            1009,
        ),  # the fragments' sum counts
        (b"\x82\x7f\x80" + bytes(7), 1002),  # 64-bit length with the top bit set
    ],
    ids=[
        "masked", "rsv", "opcode", "fragmented-ping", "long-ping", "stray-continuation",
        "interleaved-message", "close-1-byte", "close-1005", "close-5000", "too-big",
        "too-big-fragments", "length-msb",
    ],
)  # fmt: skip
def test_parser_protocol_errors(ws, frame, code):
    events = Parser(ws).feed(frame)
    assert events[-1] == Ev("error", code=code)
    p = Parser(ws)
    p.feed(frame)
    assert p.feed(server_frame(OP_BINARY, b"late")) == [Ev("error", code=code)]  # stays dead


# ---- back-off --------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_slows_down_after_a_rejection(ws):
    b = Backoff()
    ws.backoff_init(ctypes.byref(b), 500, 30000)
    low = [ws.backoff_next(ctypes.byref(b), 0) for _ in range(9)]
    assert low == [250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]
    ws.backoff_reset(ctypes.byref(b))
    high = [ws.backoff_next(ctypes.byref(b), 0xFFFFFFFF) for _ in range(8)]
    for wait, d in zip(high, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000], strict=True):
        assert d // 2 <= wait <= d
    ws.backoff_reset(ctypes.byref(b))
    assert b.delay_ms == 500
    for r in (0, 1, 12345, 0xFFFFFFFF):
        assert 30000 <= ws.backoff_rejected(ctypes.byref(b), r) <= 60000
    assert b.delay_ms == 30000  # a failure right after still waits long


# ---- against a real WebSocket server ----------------------------------------------------


class CClient:
    """A WebSocket client whose every byte comes from ws_codec; Python only moves them."""

    def __init__(self, ws: ctypes.CDLL, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.ws, self.reader, self.writer = ws, reader, writer
        self.parser = Parser(ws)
        self.pending: list[Ev] = []
        self.http_status = 0
        self.upgrade = "incomplete"

    @classmethod
    async def open(cls, ws: ctypes.CDLL, port: int, path: str = "/camera") -> CClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(ws, reader, writer)
        key = ctypes.create_string_buffer(25)
        assert ws.ws_key_encode(os.urandom(16), key) == 0
        accept = accept_for(ws, key.value.decode())
        request = ctypes.create_string_buffer(256)
        n = ws.ws_request_build(b"127.0.0.1", port, path.encode(), key.value, request, 256)
        writer.write(request.raw[:n])
        answer = b""
        while True:
            result, client.http_status, header_len = check_response(ws, answer, accept)
            if result != "incomplete":
                break
            chunk = await asyncio.wait_for(reader.read(4096), scaled(5))
            if not chunk:
                result = "eof"
                break
            answer += chunk
        client.upgrade = result
        if result == "ok":
            client.pending = client.parser.feed(answer[header_len:])
        return client

    async def send(self, opcode: int, payload: bytes) -> None:
        self.writer.write(client_frame(self.ws, opcode, payload))
        await self.writer.drain()

    async def event(self, timeout: float | None = None) -> Ev:
        """The next event; a given `timeout` (seconds, unscaled) is one expected to run out."""
        limit = scaled(5.0) if timeout is None else timeout
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), limit)
            if not data:
                return Ev("eof")
            self.pending = self.parser.feed(data)
        return self.pending.pop(0)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@pytest.fixture
async def echo_server():
    """A plain `websockets` server: echoes, and obeys a few commands sent as text."""
    seen: dict[str, object] = {}

    def only_camera(connection, request):
        if request.path != "/camera":
            return connection.respond(404, "not here\n")
        return None

    async def handler(conn: ServerConnection) -> None:
        try:
            async for message in conn:
                if message == "fragments":
                    await conn.send([b"ab", b"cd", b"ef"])
                elif message == "ping":
                    pong = await conn.ping(b"are you there")
                    await asyncio.wait_for(pong, scaled(5))
                    seen["pong"] = True
                    await conn.send(b"pong seen")
                elif message == "too big":
                    await conn.send(b"x" * (MAX_MESSAGE + 10))
                elif message == "reject":
                    await conn.close(4003, "unknown device")
                else:
                    await conn.send(message)
        except ConnectionClosed as exc:
            seen["closed"] = exc.rcvd

    async with serve(
        handler, "127.0.0.1", 0, compression=None, max_size=None, ping_interval=None,
        process_request=only_camera,
    ) as server:  # fmt: skip
        port = next(iter(server.sockets)).getsockname()[1]
        yield port, seen


async def test_c_client_against_the_websockets_library(ws, echo_server):
    port, seen = echo_server
    refused = await CClient.open(ws, port, "/elsewhere")
    assert (refused.upgrade, refused.http_status) == ("bad_status", 404)
    await refused.close()

    client = await CClient.open(ws, port)
    assert client.upgrade == "ok"
    try:
        for size in (0, 1, 125, 126, 4096, 65535):  # every header length, both ways
            payload = os.urandom(size)
            await client.send(OP_BINARY, payload)
            echoed = await client.event()
            assert echoed == Ev("message", payload[:RX_CAPACITY], truncated=size > RX_CAPACITY,
                                total_len=size)  # fmt: skip
        await client.send(OP_TEXT, b"fragments")
        assert await client.event() == Ev("message", b"abcdef", total_len=6)
        await client.send(OP_TEXT, b"ping")
        ping = await client.event()
        assert ping == Ev("ping", b"are you there")
        await client.send(OP_PONG, ping.data)  # what WsClient does on WS_EV_PING
        assert await client.event() == Ev("message", b"pong seen", total_len=9)
        await client.send(OP_TEXT, b"too big")
        assert await client.event() == Ev("error", code=1009)
    finally:
        await client.close()
    assert seen.get("pong") is True

    # The app's rejection codes reach the camera intact (links2004/WebSockets drops them).
    client = await CClient.open(ws, port)
    await client.send(OP_TEXT, b"reject")
    assert await client.event() == Ev("close", b"unknown device", code=4003)
    await client.send(OP_CLOSE, close_payload(ws, 4003, b""))  # the echo RFC 6455 asks for
    await client.close()

    # ... and so do the camera's own codes.
    client = await CClient.open(ws, port)
    await client.send(OP_CLOSE, close_payload(ws, 4015, b"handshake answer is not 48 bytes"))
    assert (await client.event()).kind == "close"
    await client.close()
    await wait_until(lambda: getattr(seen.get("closed"), "code", None) == 4015)
    assert seen["closed"].reason == "handshake answer is not 48 bytes"


# ---- the firmware's C stack against the app --------------------------------------------


@pytest.fixture
async def receiver():
    receiver = Receiver(DEVICES.get, host="127.0.0.1", port=0)
    await receiver.start()
    yield receiver
    await receiver.stop()


async def _pump(client: CClient, camera: CCamera, timeout: float = 0.02) -> None:
    """Handle what the app sent: PINGs are answered, like StreamClient does between chunks."""
    with contextlib.suppress(TimeoutError):
        while True:
            ev = await client.event(timeout)
            assert ev.kind == "message", ev
            if camera.receive(ev.data, camera.now()).type == EV_PING:
                for pong in camera.poll():
                    await client.send(OP_BINARY, pong)


async def test_c_codec_and_core_stream_frames_to_the_receiver(ws, core, receiver):
    events: list[ReceiverEvent] = []
    receiver.add_listener(events.append)
    camera = CCamera(core, "c-noise", KEY, Suite.NOISE)
    client = await CClient.open(ws, receiver.port)
    frames = [b"\xff\xd8" + os.urandom(n) + b"\xff\xd9" for n in (100, 40_000, 16384 * 3)]
    try:
        assert client.upgrade == "ok"
        await client.send(OP_BINARY, camera.start())
        answer = await client.event()
        assert answer.kind == "message" and len(answer.data) == 48
        assert camera.receive(answer.data, camera.now()).type == EV_HANDSHAKE_DONE
        await client.send(OP_BINARY, camera.status())
        for seq, jpeg in enumerate(frames, start=1):
            camera.frame_begin(jpeg, seq, camera.now(), 16384)  # StreamClient::kChunkData
            while camera.frame_active:
                await client.send(OP_BINARY, camera.next_chunk())
                await _pump(client, camera, 0.001)
        async with asyncio.timeout(scaled(10)):
            while len([e for e in events if isinstance(e, FrameArrived)]) < len(frames):
                await _pump(client, camera)
        await client.send(OP_BINARY, camera.close(1000, "camera stopping"))
        await client.send(OP_CLOSE, close_payload(ws, 1000, b"camera stopping"))
        async with asyncio.timeout(scaled(5)):
            while (ev := await client.event()).kind == "message":
                pass  # a PING may still have been on its way
        assert (ev.kind, ev.code) == ("close", 1000)
    finally:
        await client.close()
        camera.wipe()
    assert [e.frame.jpeg for e in events if isinstance(e, FrameArrived)] == frames
    await wait_until(lambda: any(isinstance(e, DeviceDisconnected) for e in events))
    (gone,) = [e for e in events if isinstance(e, DeviceDisconnected)]
    assert (gone.code, gone.reason) == (1000, "camera stopping")


async def test_app_rejection_reaches_the_c_camera_as_a_slow_retry(ws, core, receiver):
    events: list[ReceiverEvent] = []
    receiver.add_listener(events.append)
    camera = CCamera(core, "c-unknown", KEY, Suite.NOISE)
    client = await CClient.open(ws, receiver.port)
    try:
        await client.send(OP_BINARY, camera.start())
        ev = await client.event()
        # An unknown device is told only that authentication failed (it learns no names).
        assert ev.kind == "close" and ev.code == 4004
        camera.transport_closed(ev.code, ev.data.decode())
        assert camera.close_code == 4004 and core.sc_close_code_is_rejection(4004)
    finally:
        await client.close()
        camera.wipe()
    b = Backoff()
    ws.backoff_init(ctypes.byref(b), 500, 30000)
    assert 30000 <= ws.backoff_rejected(ctypes.byref(b), int.from_bytes(os.urandom(4))) <= 60000
    await wait_until(lambda: any(isinstance(e, ConnectionRejected) for e in events))
