"""The receiver as a Qt service: widgets get signals, never sockets."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.protocol.errors import CloseCode
from app.protocol.limits import Limits
from app.protocol.records import Control
from app.protocol.session import Credentials, monotonic_us
from app.receiver.server import (
    ConnectionRejected,
    DeviceConnected,
    DeviceDisconnected,
    FrameArrived,
    Receiver,
    ReceiverEvent,
    StatusArrived,
)
from app.receiver.stats import DeviceStats
from app.services.decoder import FrameDecoder

log = logging.getLogger("securecam.ui.receiver")


class ReceiverService(QObject):
    """Runs the embedded receiver on the Qt event loop (through qasync) and decodes frames.

    `frameDecoded` carries a DecodedFrame per displayed frame, latest-frame-wins per device.
    """

    deviceChanged = Signal(str)  # connected, disconnected, rejected, status
    frameDecoded = Signal(object)  # DecodedFrame
    connectionRejected = Signal(object)  # ConnectionRejected
    listeningChanged = Signal()

    def __init__(
        self,
        lookup: Callable[[str], Credentials | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._lookup = lookup
        self._receiver: Receiver | None = None
        self.decoder = FrameDecoder(self.frameDecoded.emit)
        self.error: str | None = None
        self.host = "0.0.0.0"
        self.port = 0
        self._started_us = monotonic_us()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str, port: int, limits: Limits | None = None) -> bool:
        """Listen on host:port; on failure `error` says why and False is returned."""
        await self.stop()
        receiver = Receiver(self._lookup, host=host, port=port, limits=limits)
        receiver.add_listener(self._on_event)
        try:
            await receiver.start()
        except OSError as exc:
            self.error = (
                f"port {port} is already in use by another program"
                if exc.errno == errno.EADDRINUSE
                else f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            )
            log.error("receiver not started: %s", self.error)
            self.listeningChanged.emit()
            return False
        self._receiver, self.error = receiver, None
        self.host, self.port = host, receiver.port
        self.listeningChanged.emit()
        return True

    async def stop(self) -> None:
        if self._receiver is not None:
            receiver, self._receiver = self._receiver, None
            await receiver.stop()
            self.listeningChanged.emit()

    def close(self) -> None:
        """Release the decoder threads (after `stop`)."""
        self.decoder.close()

    # -- queries -----------------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        return self._receiver is not None

    @property
    def receiver(self) -> Receiver | None:
        return self._receiver

    def stats(self, device: str) -> DeviceStats | None:
        if self._receiver is None:
            return None
        return self._receiver.stats.get(device)

    def all_stats(self) -> dict[str, DeviceStats]:
        return {} if self._receiver is None else dict(self._receiver.stats)

    def live_devices(self) -> list[str]:
        return [name for name, s in self.all_stats().items() if s.connected]

    def total_bytes(self) -> int:
        return sum(s.bytes for s in self.all_stats().values())

    # -- commands ----------------------------------------------------------------------------

    async def send_control(self, device: str, control: Control) -> bool:
        return self._receiver is not None and await self._receiver.send_control(device, control)

    async def revalidate(self) -> None:
        """Close live sessions the registry no longer allows (removed, renamed, plain revoked)."""
        if self._receiver is not None:
            await self._receiver.revalidate()

    async def disconnect(self, device: str, reason: str) -> None:
        if self._receiver is not None:
            await self._receiver.disconnect(device, CloseCode.DEVICE_REMOVED, reason)

    def set_display_size(self, device: str, width: int, height: int) -> None:
        self.decoder.set_target_size(device, width, height)

    # -- receiver events ---------------------------------------------------------------------

    def _on_event(self, event: ReceiverEvent) -> None:
        if isinstance(event, FrameArrived):
            self.decoder.submit(event.frame)
        elif isinstance(event, DeviceConnected | DeviceDisconnected | StatusArrived):
            self.deviceChanged.emit(event.device)
        elif isinstance(event, ConnectionRejected):
            self.connectionRejected.emit(event)
            if event.device is not None:
                self.deviceChanged.emit(event.device)
