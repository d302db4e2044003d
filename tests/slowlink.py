"""A narrow link on loopback, without root: a TCP relay that carries the camera → receiver
direction at a fixed rate, for tests of adaptive quality in the window and its services.

The shaped-link harness (app/bench/link.py) does this with namespaces, HTB and a packet relay,
which need root; this one runs anywhere, and models what matters to a camera on a slow link:
its bytes cross at `rate` bytes per second, segment by segment, and little waits in between
(the relay's socket buffers are small), so a camera that sends more than the link carries
finds its socket full and drops frames, as the board does, instead of queueing them here.
The receiver → camera direction (CONTROL, pings) is not slowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

SEGMENT = 1460  # bytes read and passed on at a time: one Ethernet TCP segment
BUFFER = 4096  # the relay's socket buffers (Linux doubles it): a few segments, no more


class SlowLink:
    """Relay 127.0.0.1:`port` to `target_port`; use `url(path)` as the camera's receiver URL."""

    def __init__(self, target_port: int, rate: float, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.rate = rate  # bytes per second, camera to receiver
        self.port = 0
        self.carried = 0  # camera bytes passed on so far
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, path: str = "/camera") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Set before listen, so accepted sockets get it (and a window that small) too.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        self._server = await asyncio.start_server(self._relay, sock=listener, limit=BUFFER)
        self.port = listener.getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(
        self, camera_in: asyncio.StreamReader, camera_out: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            receiver_in, receiver_out = await asyncio.open_connection(*self.target)
            await asyncio.gather(
                self._carry(camera_in, receiver_out, self.rate),
                self._carry(receiver_in, camera_out, None),
            )
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            camera_out.close()
            self._tasks.discard(task)

    async def _carry(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, rate: float | None
    ) -> None:
        loop = asyncio.get_running_loop()
        free_at = loop.time()
        try:
            while data := await source.read(SEGMENT):
                if rate is not None:
                    # The segment leaves when the link has carried the ones before it.
                    free_at = max(free_at, loop.time()) + len(data) / rate
                    await asyncio.sleep(free_at - loop.time())
                    self.carried += len(data)
                sink.write(data)
                await sink.drain()
        finally:
            with contextlib.suppress(OSError):
                sink.close()
