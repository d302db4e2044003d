"""The one place a sans-I/O session meets a websockets connection."""

from __future__ import annotations

import asyncio
from typing import Protocol

from websockets.asyncio.connection import Connection


class _Session(Protocol):
    @property
    def pending(self) -> bool: ...

    def data_to_send(self) -> list[bytes]: ...


class SessionLink:
    """Send a session's queued messages in the order they were sealed.

    Several tasks (receive loop, pinger, frame sender) queue messages; each message used the
    next Noise nonce when it was sealed, so draining and sending happen under one lock.
    """

    __slots__ = ("_lock", "session", "ws")

    def __init__(self, ws: Connection, session: _Session) -> None:
        self.ws = ws
        self.session = session
        self._lock = asyncio.Lock()

    async def flush(self) -> None:
        if not self.session.pending:
            return
        async with self._lock:
            for message in self.session.data_to_send():
                await self.ws.send(message)
