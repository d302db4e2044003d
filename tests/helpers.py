"""Helpers shared by tests (fixtures live in the conftest.py files, helpers here).

- `Pair`: a camera session and a receiver session joined by an in-memory link, message by
  message, with clocks that only move when the test moves them (h11's `ConnectionPair`);
- `run`: run a coroutine on a qasync loop from a synchronous pytest-qt test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from app.protocol.hello import Suite
from app.protocol.limits import Limits
from app.protocol.session import CameraSession, Credentials, Event, ReceiverSession
from tests.waiting import scaled

T = TypeVar("T")

PSK = bytes.fromhex("8f3a61c2d94e07b5a1c8e2f3049d6b7e5a2c1f08e7d6c5b4a3928170f6e5d4c3")
DEVICE = "cam1"
OFFSET = 1_000_000  # the camera's clock runs one second ahead of the app's


class FakeClock:
    """A microsecond clock that only moves when the test moves it."""

    def __init__(self, now: int = 0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Pair:
    """A camera and a receiver wired together by hand, message by message.

    The receiver's clock starts at 10,000 µs, the camera's `OFFSET` ahead; `registry` replaces
    the one-device registry built from `receiver_psk` and `allow_plain`.
    """

    def __init__(
        self,
        suite: Suite = Suite.NOISE,
        *,
        allow_plain: bool = False,
        camera_psk: bytes | None = PSK,
        receiver_psk: bytes = PSK,
        limits: Limits | None = None,
        registry: dict[str, Credentials] | None = None,
    ) -> None:
        self.rclock = FakeClock(10_000)
        self.cclock = FakeClock(10_000 + OFFSET)
        self.registry = (
            {DEVICE: Credentials(DEVICE, receiver_psk, allow_plain)}
            if registry is None
            else registry
        )
        self.receiver = ReceiverSession(self.registry.get, limits, clock=self.rclock)
        self.camera = CameraSession(DEVICE, camera_psk, suite, clock=self.cclock)
        self.sent_by_camera: list[bytes] = []

    def camera_output(self) -> list[bytes]:
        """What the camera queued, recorded in `sent_by_camera`."""
        out = self.camera.data_to_send()
        self.sent_by_camera += out
        return out

    def to_receiver(self, rx_us: int | None = None) -> list[Event]:
        """Deliver everything the camera queued; the receiver's events."""
        events: list[Event] = []
        for message in self.camera_output():
            events += self.receiver.receive(message, rx_us)
        return events

    def to_camera(self) -> list[Event]:
        """Deliver everything the receiver queued; the camera's events."""
        events: list[Event] = []
        for message in self.receiver.data_to_send():
            events += self.camera.receive(message)
        return events

    def handshake(self) -> tuple[list[Event], list[Event]]:
        """Hello and Noise message 1, the answer and the first ping, then the pong.

        Ping leaves at app time 10,000, is answered 100 µs later on the camera's clock and its
        pong arrives at app time 10,400: the clock estimate is 999,900 with an RTT of 400.
        """
        self.camera.start()
        receiver_events = self.to_receiver()
        self.cclock.now = 10_100 + OFFSET
        camera_events = self.to_camera()  # answer, then ping: the camera queues a pong
        self.rclock.now = 10_400
        receiver_events += self.to_receiver()
        return receiver_events, camera_events


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
    """Run `coro` on the (qasync) loop until done, within `timeout` (scaled) seconds."""
    return loop.run_until_complete(asyncio.wait_for(coro, scaled(timeout)))


async def demo_tile_painted(window: Any) -> Any:
    """Click the welcome panel's demo button; the demo camera's tile once it painted a frame."""
    from tests.waiting import wait_until

    window.welcome.demo_button.click()
    tile = await wait_until(lambda: window.wall.tiles.get("demo-1"), 5)
    await wait_until(lambda: tile.painted > 0, 5)
    return tile
