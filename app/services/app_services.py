"""Everything the window talks to, created and shut down in one place."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.devices.registry import Registry
from app.protocol.endpoints import local_camera_url
from app.protocol.hello import Suite
from app.services.comparison import ComparisonService
from app.services.devices_service import DevicesService
from app.services.receiver_service import ReceiverService
from app.services.settings import Settings
from app.services.share_service import ShareService
from app.sim.demo import DemoFleet

log = logging.getLogger(__name__)


class AppServices(QObject):
    """The app's services: settings, registry, receiver, comparison runs, demo cameras and Share.

    `log_dir` holds Share's audit log (default: CONFIG_DIR/logs, as app.paths.log_dir does
    for an overridden config directory).
    """

    demoChanged = Signal()

    def __init__(
        self,
        config_dir: Path,
        parent: QObject | None = None,
        *,
        log_dir: Path | None = None,
        adapt: bool = True,
    ) -> None:
        """`adapt=False` (the window's --no-adapt): adaptive quality changes no camera."""
        super().__init__(parent)
        self.config_dir = config_dir
        self.log_dir = log_dir if log_dir is not None else config_dir / "logs"
        self.settings = Settings(config_dir)
        self.devices = DevicesService(Registry(config_dir), self)
        self.receiver = ReceiverService(
            self.devices.lookup, self, adapt_policy=self.devices.adapt_policy, adapt=adapt
        )
        # A camera's adaptation switched off or its pins changed apply at once.
        self.devices.devicesChanged.connect(self.receiver.refresh_adaptation)
        self.comparison = ComparisonService(self.receiver, self)
        self.share = ShareService(
            config_dir,
            self.log_dir,
            self.settings,
            self.devices,
            self.receiver,
            self,
        )
        self.demo: DemoFleet | None = None
        self.fallback_note: str | None = None  # set when the demo had to use another port

    async def start(self, demo: int | None = None) -> bool:
        """Start listening as configured; with a demo, fall back to a free loopback port.

        Share starts too if it was on when the app last closed; whether it could is its own
        `state` (the result is the receiver's).
        """
        settings = self.settings.receiver()
        started = await self.receiver.start(settings.host, settings.port, settings.limits())
        if not started and demo:
            problem = self.receiver.error
            started = await self.receiver.start("127.0.0.1", 0, settings.limits())
            if started:
                self.fallback_note = (
                    f"{problem}: listening on 127.0.0.1:{self.receiver.port} for the demo only"
                )
                log.warning("%s", self.fallback_note)
        if started and demo:
            await self.start_demo(demo)
        if self.settings.share().enabled:
            await self.share.start(remember=False)
        return started

    async def restart_receiver(self) -> bool:
        settings = self.settings.receiver()
        self.fallback_note = None
        started = await self.receiver.start(settings.host, settings.port, settings.limits())
        if started and self.demo is not None:
            self.demo.start(self.demo_url())  # point the demo cameras at the new address
        return started

    def demo_url(self) -> str:
        """The URL the demo cameras (on this computer) reach the receiver at."""
        return local_camera_url(self.receiver.host, self.receiver.port)

    async def start_demo(self, count: int = 1) -> None:
        await self.stop_demo()
        fleet = DemoFleet(count)
        self.demo = fleet
        self.devices.set_demo_registry(fleet.registry)
        fleet.start(self.demo_url(), Suite.NOISE)
        log.info("started %d demo camera(s)", count)
        self.demoChanged.emit()

    async def stop_demo(self) -> None:
        if self.demo is None:
            return
        fleet, self.demo = self.demo, None
        await fleet.stop()
        self.devices.set_demo_registry(None)
        self.demoChanged.emit()

    async def shutdown(self) -> None:
        """Stop comparison, demo, Share and receiver; release the decoder threads.

        Share stays remembered as it was (on or off) for the next start.
        """
        self.comparison.cancel()
        await self.stop_demo()
        await self.share.stop(remember=False)
        self.share.close()
        await self.receiver.stop()
        self.receiver.close()
