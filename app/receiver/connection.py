"""The receiver's websockets connection: bounded memory and bounded time per peer.

websockets answers every ping into an unbounded write buffer and reads an HTTP upgrade of up to
128 lines of 8 KiB each. Here each connection reports its accept and its end to a `Gate`, the
upgrade request is capped, a peer that stops reading is aborted once its write buffer is full,
and a WebSocket ping before the session is confirmed fails the connection. Every abort and
failure records its `violation`, so the receiver can say why in its one log line.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import websockets.http11
from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN

from app.protocol.errors import CloseCode

# What a camera's or a browser's upgrade request needs, with room to spare. websockets reads
# these module globals on every parse; they are its documented limits (also settable through
# WEBSOCKETS_MAX_NUM_HEADERS / WEBSOCKETS_MAX_LINE_LENGTH before it is imported).
MAX_HEADERS = 32
MAX_HEADER_LINE = 4096
MAX_UPGRADE_BYTES = 16 * 1024  # the whole request, whatever it is split into
# The receiver only ever sends small records (pings, pongs, controls): far less than this.
WRITE_BUFFER_CAP = 64 * 1024
CLOSE_DEADLINE_S = 2.0
# Codes websockets closes with when it fails a connection itself (the peer broke RFC 6455).
_WEBSOCKETS_FAILURES = frozenset(
    {CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_PAYLOAD, CloseCode.MESSAGE_TOO_BIG}
)

websockets.http11.MAX_NUM_HEADERS = MAX_HEADERS
websockets.http11.MAX_LINE_LENGTH = MAX_HEADER_LINE


class Gate(Protocol):
    def accepted(self, connection: GuardedConnection) -> None: ...

    def lost(self, connection: GuardedConnection) -> None: ...


class GuardedConnection(ServerConnection):
    """A server connection that reports its life to `gate` and enforces per-peer caps."""

    def __init__(self, gate: Gate, *args: Any, **kwargs: Any) -> None:
        kwargs["write_limit"] = WRITE_BUFFER_CAP
        super().__init__(*args, **kwargs)
        self.gate = gate
        self.peer = "unknown peer"
        self.confirmed = False  # set by the receiver once the session is confirmed
        self.handled = False  # the receiver's handler owns reporting from here on
        self.violation: tuple[CloseCode, str] | None = None
        self._upgrade_bytes = 0
        self._ending = False

    @property
    def upgraded(self) -> bool:
        return self.protocol.state is OPEN or self.handled

    def abort(self, code: CloseCode, reason: str) -> None:
        """Drop the TCP connection now, without a closing handshake, remembering why."""
        if self.violation is None:
            self.violation = (code, reason)
        self.transport.abort()

    def fail(self, code: CloseCode, reason: str) -> None:
        """Send a close frame and drop the connection, aborting it if that does not finish."""
        if self.violation is None:
            self.violation = (code, reason)
        if self.protocol.state is OPEN:
            self.protocol.fail(code, reason)
            self.send_data()
        self.transport.close()  # after the close frame is written, or at the deadline
        self.loop.call_later(CLOSE_DEADLINE_S, self.transport.abort)

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.peer = peer_name(transport.get_extra_info("peername"))
        self.gate.accepted(self)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.gate.lost(self)

    def data_received(self, data: bytes) -> None:
        if self.request is None:  # still reading the HTTP upgrade
            self._upgrade_bytes += len(data)
            if self._upgrade_bytes > MAX_UPGRADE_BYTES:
                self.abort(
                    CloseCode.POLICY_VIOLATION,
                    f"HTTP upgrade request over {MAX_UPGRADE_BYTES} bytes",
                )
                return
        super().data_received(data)
        sent = self.protocol.close_sent
        if sent is not None and sent.code in _WEBSOCKETS_FAILURES and not self._ending:
            # websockets failed the connection for a framing violation: do not wait for the
            # peer that broke the protocol to answer the close as well.
            self._ending = True
            self.transport.close()
            self.loop.call_later(CLOSE_DEADLINE_S, self.transport.abort)

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING and not self.confirmed:
            # SecureCam's liveness is authenticated PING records; a WebSocket ping from a peer
            # that has proved nothing only makes us write.
            self.fail(CloseCode.MALFORMED_RECORD, "WebSocket ping before the session is confirmed")
            return
        super().process_event(event)

    def pause_writing(self) -> None:
        super().pause_writing()
        self.abort(
            CloseCode.POLICY_VIOLATION,
            f"peer does not read: over {WRITE_BUFFER_CAP} bytes waiting to be sent",
        )


def peer_name(address: Any) -> str:
    """host:port, or [host]:port for IPv6, as the logs and events name a peer."""
    if not address:
        return "unknown peer"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
