"""A hand-made WebSocket client over asyncio streams, for peers no library would be.

It upgrades (or only starts to), sends exactly the frames it is told to, and reads only when
told to: a peer that floods pings and never reads, or never finishes its HTTP request.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct

OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


def frame(opcode: int, payload: bytes = b"", *, masked: bool = True) -> bytes:
    """One final client frame; RFC 6455 requires `masked` from a client."""
    mask = os.urandom(4) if masked else b""
    bit = 0x80 if masked else 0
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, bit | size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, bit | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, bit | 127, size)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if masked else payload
    return header + mask + body


def upgrade_request(port: int, path: str = "/camera", extra: list[str] | None = None) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(extra or []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawPeer:
    """One TCP connection to the receiver, driven byte by byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls, port: int, *, receive_buffer: int | None = None, source: str | None = None
    ) -> RawPeer:
        """Connect to 127.0.0.1:`port`, from loopback address `source` (e.g. 127.0.0.2)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source is not None:
            sock.bind((source, 0))
        if receive_buffer is not None:  # set before connect, so the window starts small
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
        return cls(reader, writer)

    @property
    def peer(self) -> str:
        """How the receiver names this connection."""
        host, port = self.writer.get_extra_info("sockname")[:2]
        return f"{host}:{port}"

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def upgrade(self, port: int) -> None:
        await self.send(upgrade_request(port))
        response = await self.reader.readuntil(b"\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 101"), response

    async def read_frame(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(size)

    async def read_until_closed(self) -> tuple[int | None, bytes]:
        """Read frames until EOF or reset; returns the close frame's code and reason, if any."""
        code, reason = None, b""
        try:
            while True:
                opcode, payload = await self.read_frame()
                if opcode == OP_CLOSE and len(payload) >= 2:
                    code, reason = struct.unpack("!H", payload[:2])[0], payload[2:]
        except (asyncio.IncompleteReadError, ConnectionError):
            return code, reason

    def close(self) -> None:
        self.writer.transport.abort()
