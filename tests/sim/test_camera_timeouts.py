"""The simulated camera gives up on a silent receiver exactly as the firmware does."""

import asyncio
import contextlib

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.session import Credentials, PeerClosed, ReceiverSession
from app.sim import camera as camera_module
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource
from tests.waiting import scaled

KEY = b"\x05" * 32


async def run_against(handler, monkeypatch, **timeouts) -> tuple[SimulatedCamera, int]:
    """Run one camera session against `handler`; returns the camera and the close code seen."""
    for name, value in timeouts.items():
        monkeypatch.setattr(camera_module, name, value)
    closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def serve_one(ws: ServerConnection) -> None:
        await handler(ws)
        await ws.wait_closed()
        closed.set_result(ws.close_code)

    async with serve(serve_one, "127.0.0.1", 0, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        cam = SimulatedCamera(
            f"ws://127.0.0.1:{port}/camera",
            "cam",
            KEY,
            PrerenderedSource.synthetic(FrameSize.QQVGA, count=1),
            reconnect=False,
        )
        await asyncio.wait_for(cam.run(), scaled(10))
        return cam, await asyncio.wait_for(closed, scaled(10))


async def test_no_answer_to_the_hello_closes_with_4006(monkeypatch):
    async def silent(ws: ServerConnection) -> None:
        await ws.recv()  # the hello, never answered

    cam, code = await run_against(silent, monkeypatch, HANDSHAKE_TIMEOUT_S=0.2)
    assert code == CloseCode.HANDSHAKE_TIMEOUT
    assert cam.stats.last_close == (CloseCode.HANDSHAKE_TIMEOUT, "no answer to the hello")


async def test_a_receiver_that_goes_silent_gets_a_close_record_and_4011(monkeypatch):
    events: list[object] = []

    async def answers_then_silent(ws: ServerConnection) -> None:
        session = ReceiverSession({"cam": Credentials("cam", KEY)}.get)
        session.receive(await ws.recv())
        for message in session.data_to_send():
            await ws.send(message)
        # No pings from here on; read what the camera sends until it gives up.
        with contextlib.suppress(ConnectionClosed):
            while True:
                events.extend(session.receive(await ws.recv()))

    cam, code = await run_against(answers_then_silent, monkeypatch, IDLE_TIMEOUT_S=0.3)
    assert code == CloseCode.IDLE_TIMEOUT
    assert cam.stats.last_close == (CloseCode.IDLE_TIMEOUT, "no message within idle timeout")
    # The camera said why inside the authenticated channel before the WebSocket close.
    assert PeerClosed(CloseCode.IDLE_TIMEOUT, "no message within idle timeout") in events
