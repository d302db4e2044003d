"""Adaptive quality on a live receiver: a QualityController per camera, fed the receiver's
events, ticked every `TICK_S`, its CONTROLs sent to the camera and each change logged once.

`policy(device)` gives each camera's (enabled, pins), read when it connects and whenever
`refresh` is called (the registry changed); `enabled=False` turns adaptation off for every
camera (`securecam serve --no-adapt`). `on_change(device)` fires after each change is sent,
for views that show the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from app.protocol.clock import monotonic_us
from app.receiver.adapt import Decision, Pins, QualityController
from app.receiver.events import DeviceConnected, FrameArrived, ReceiverEvent, StatusArrived
from app.receiver.server import Receiver
from app.tasks import spawn

log = logging.getLogger(__name__)

TICK_S = 0.25
RESTORE_TIMEOUT_S = 1.0
HISTORY = 256
Policy = Callable[[str], tuple[bool, Pins]]
DEFAULT_POLICY: tuple[bool, Pins] = (True, Pins())  # a camera no one said anything about


def adapt_everything(device: str) -> tuple[bool, Pins]:
    return DEFAULT_POLICY


class Adapter:
    """A QualityController per camera of `receiver`, created when the camera is first seen;
    `start()` on the receiver's event loop, `await stop()` before the receiver stops."""

    def __init__(
        self,
        receiver: Receiver,
        *,
        enabled: bool = True,
        policy: Policy = adapt_everything,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.receiver = receiver
        self.enabled = enabled
        self._policy = policy
        self._on_change = on_change
        self.controllers: dict[str, QualityController] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.changes = 0
        # The last changes made, (app clock in s, device, decision): for reports and tests.
        self.history: deque[tuple[float, str, Decision]] = deque(maxlen=HISTORY)
        self._new_sessions: set[str] = set()  # connected, first STATUS not seen yet
        self._held: set[str] = set()

    def start(self) -> None:
        self.receiver.add_listener(self._on_event)
        self._ticker = spawn(self._tick_forever(), name="adaptive quality")

    async def stop(self) -> None:
        """Stop adapting; every live camera the adapter lowered is first sent back to its own
        settings (within RESTORE_TIMEOUT_S), so that whoever sees it next sees those."""
        if self._ticker is None:
            return
        self.receiver.remove_listener(self._on_event)
        self._ticker.cancel()
        for task in (self._ticker, *self._sending):
            task.cancel()
        await asyncio.gather(self._ticker, *self._sending, return_exceptions=True)
        self._ticker = None
        restoring = []
        for device, controller in self.controllers.items():
            decision = controller.restore(_now_s(), "adaptation stopping")
            if decision is not None and self.receiver.is_live(device):
                self._log(device, decision)
                restoring.append(self.receiver.send_control(device, decision.control))
        if restoring:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RESTORE_TIMEOUT_S):
                    await asyncio.gather(*restoring, return_exceptions=True)

    def controller(self, device: str) -> QualityController:
        controller = self.controllers.get(device)
        if controller is None:
            enabled, pins = self._wanted(device)
            controller = QualityController(device, pins, enabled)
            self.controllers[device] = controller
        return controller

    def _wanted(self, device: str) -> tuple[bool, Pins]:
        """(adapting, pins) for `device`: its policy, unless off for all or held."""
        enabled, pins = self._policy(device)
        return enabled and self.enabled and device not in self._held, pins

    def adapted(self, device: str) -> bool:
        controller = self.controllers.get(device)
        return controller is not None and controller.adapted

    def adapting(self, device: str) -> bool:
        """Adaptation is on for `device` (globally, by its policy, and not held)."""
        return self.controller(device).enabled

    def hold(self, device: str) -> None:
        """Keep `device` at its own settings until `release` (a measurement that needs them
        fixed, such as a plain-versus-encrypted comparison), whatever its policy."""
        self._held.add(device)
        self.refresh()

    def release(self, device: str) -> None:
        self._held.discard(device)
        self.refresh()

    def refresh(self) -> None:
        """Re-read every known camera's policy (enabled, pins) and apply what changed."""
        for device in {*self.controllers, *self._held}:
            controller = self.controller(device)
            enabled, pins = self._wanted(device)
            if pins != controller.pins:
                self._send(device, controller.set_pins(pins, _now_s()))
            if enabled != controller.enabled:
                self._send(device, controller.set_enabled(enabled, _now_s()))

    # -- the receiver's events ---------------------------------------------------------------

    def _on_event(self, event: ReceiverEvent) -> None:
        now = _now_s()
        if isinstance(event, FrameArrived):
            self.controller(event.frame.device).frame(event.frame.timeline, now)
        elif isinstance(event, StatusArrived):
            controller = self.controller(event.device)
            controller.status(event.status, now)
            if event.device in self._new_sessions:
                self._new_sessions.discard(event.device)
                self._send(event.device, controller.pinned_differs(now))
        elif isinstance(event, DeviceConnected):
            controller = self.controller(event.device)
            controller.enabled, controller.pins = self._wanted(event.device)
            controller.session_started(now)
            self._new_sessions.add(event.device)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = _now_s()
            for device, controller in list(self.controllers.items()):
                if self.receiver.is_live(device) and controller.enabled:
                    try:
                        decision = controller.tick(now)
                    except Exception:  # one camera's surprise must not stop the others'
                        log.exception("%s: adaptation failed; it stays off for this camera", device)
                        controller.enabled = False
                        continue
                    self._send(device, decision)

    def _send(self, device: str, decision: Decision | None) -> None:
        if decision is None:
            return
        self._log(device, decision)
        task = spawn(self._deliver(device, decision), name=f"adapt {device}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _log(self, device: str, decision: Decision) -> None:
        self.changes += 1
        self.history.append((_now_s(), device, decision))
        log.info(
            "%s: adapted %s to %s (%s)",
            device,
            decision.move.value,
            decision.setting.describe(),
            decision.reason,
        )

    async def _deliver(self, device: str, decision: Decision) -> None:
        if not await self.receiver.send_control(device, decision.control):
            log.info("%s: adaptation not sent: the camera is not connected", device)
        if self._on_change is not None:
            self._on_change(device)


def _now_s() -> float:
    return monotonic_us() / 1e6
