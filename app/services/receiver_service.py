"""The receiver as a Qt service: widgets get signals, never sockets."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from websockets.exceptions import ConnectionClosed

from app.protocol.errors import CloseCode
from app.protocol.limits import Limits
from app.protocol.records import Control
from app.protocol.session import Credentials
from app.protocol.timeline import Frame
from app.receiver.adapter import Adapter, adapt_everything
from app.receiver.adapter import Policy as AdaptPolicy
from app.receiver.events import (
    ConnectionRejected,
    DeviceConnected,
    DeviceDisconnected,
    FrameArrived,
    ReceiverEvent,
    StatusArrived,
)
from app.receiver.recorder import Recorder
from app.receiver.server import Receiver
from app.receiver.stats import DeviceStats
from app.services.decoder import FrameDecoder
from app.services.settings import DEFAULT_HOST

log = logging.getLogger(__name__)

ADAPT_REFRESH_MS = 1000  # registry edits made outside the window (the CLI) apply this soon


class ReceiverService(QObject):
    """Runs the embedded receiver on the Qt event loop (through qasync) and decodes frames.

    `frameDecoded` carries a DecodedFrame per displayed frame, latest-frame-wins per device;
    `frameArrived(device)` fires for every frame the receiver accepted, once it is in the device's
    ring (cheap listeners only: it fires at the cameras' frame rate). `deviceChanged(device)` fires
    when a device connects, disconnects, is rejected or reports its status.
    Recording (`start_recording`) outlives receiver restarts and ends with `stop()`;
    `recordingChanged` fires when it starts or stops, `recordingFailed(reason)` when it could
    not start or stopped by itself on a write error (the cameras keep streaming).

    Adaptive quality (app/receiver/adapter.py) runs with each receiver, unless `adapt` is
    False: `adapt_policy(device) -> (enabled, pins)` says per camera whether the app may change
    its settings and which the user pinned; it is re-read on `refresh_adaptation()` (call it
    when the registry changed) and every second. `adaptationChanged(device)` fires after each
    change sent to a camera; `adapted(device)` says whether it now streams other settings than
    its own because of it (what it streams is in its stats' `status`).
    """

    deviceChanged = Signal(str)  # connected, disconnected, rejected, status
    frameArrived = Signal(str)  # device: a frame is in its stats ring
    frameDecoded = Signal(object)  # DecodedFrame
    connectionRejected = Signal(object)  # ConnectionRejected
    listeningChanged = Signal()
    recordingChanged = Signal()
    recordingFailed = Signal(str)  # why: also in `recording_error`
    adaptationChanged = Signal(str)  # device: adaptive quality changed its settings

    def __init__(
        self,
        lookup: Callable[[str], Credentials | None],
        parent: QObject | None = None,
        *,
        adapt_policy: AdaptPolicy | None = None,
        adapt: bool = True,
    ) -> None:
        super().__init__(parent)
        self._lookup = lookup
        self._adapt_policy = adapt_policy or adapt_everything
        self.adapt = adapt  # adaptive quality for every camera (each one's policy permitting)
        self._adapter: Adapter | None = None
        self._adapt_timer = QTimer(self, interval=ADAPT_REFRESH_MS, timeout=self.refresh_adaptation)
        self._receiver: Receiver | None = None
        self.decoder = FrameDecoder(self.frameDecoded.emit)
        self.error: str | None = None
        self.host = DEFAULT_HOST
        self.port = 0
        self._recorder: Recorder | None = None
        self.recording_dir: Path | None = None  # the current or last recording's folder
        # Why the last recording stopped by itself or could not start; None otherwise.
        self.recording_error: str | None = None
        self._recorded = 0  # frames the last finished recording wrote

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str, port: int, limits: Limits | None = None) -> bool:
        """Listen on host:port; on failure `error` says why and False is returned."""
        await self._stop_receiver()  # a restart keeps recording
        receiver = Receiver(self._lookup, host=host, port=port, limits=limits)
        receiver.add_listener(self._on_event)
        receiver.add_frame_sink(self._record)
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
        self._adapter = Adapter(
            receiver,
            enabled=self.adapt,
            policy=self._adapt_policy,
            on_change=self.adaptationChanged.emit,
        )
        self._adapter.start()
        self._adapt_timer.start()
        self.listeningChanged.emit()
        return True

    async def stop(self) -> None:
        """Stop listening, then finish recording what was received."""
        await self._stop_receiver()
        await self.stop_recording()

    async def _stop_receiver(self) -> None:
        if self._adapter is not None:
            adapter, self._adapter = self._adapter, None
            self._adapt_timer.stop()
            await adapter.stop()
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

    @property
    def adapter(self) -> Adapter | None:
        """The running receiver's adaptive quality (None when stopped); with `adapt` off it
        still sends each camera its pinned settings, and changes nothing else."""
        return self._adapter

    def adapted(self, device: str) -> bool:
        """The camera streams lower settings than its own because the app asked it to."""
        return self._adapter is not None and self._adapter.adapted(device)

    # -- commands ----------------------------------------------------------------------------

    async def send_control(self, device: str, control: Control) -> bool:
        """Send `control` to the device's live session.

        Returns False, without raising, when it could not be sent: the receiver is stopped, the
        device is not connected, or its connection closed while the control was being sent.
        """
        if self._receiver is None:
            return False
        try:
            return await self._receiver.send_control(device, control)
        except ConnectionClosed:
            log.info("control for %s not sent: its connection closed meanwhile", device)
            return False

    def refresh_adaptation(self) -> None:
        """Re-read each camera's adaptation policy and apply what changed at once (turned off:
        the camera goes back to its own settings; new pins: it gets them)."""
        if self._adapter is not None:
            self._adapter.refresh()

    async def revalidate(self) -> None:
        """Close live sessions the registry no longer allows (removed, renamed, plain revoked)."""
        if self._receiver is not None:
            await self._receiver.revalidate()

    async def disconnect(
        self, device: str, reason: str, code: CloseCode = CloseCode.DEVICE_REMOVED
    ) -> None:
        """Close the device's live session with `code` and `reason` (nothing if not live)."""
        if self._receiver is not None:
            await self._receiver.disconnect(device, code, reason)

    def set_display_size(self, device: str, width: int, height: int) -> None:
        self.decoder.set_target_size(device, width, height)

    # -- recording ---------------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        """Frames are being written to `recording_dir`."""
        return self._recorder is not None and self._recorder.recording

    @property
    def recorder(self) -> Recorder | None:
        """The current recording's Recorder (also after a write error), or None."""
        return self._recorder

    @property
    def frames_recorded(self) -> int:
        """Files written by the current or last recording."""
        return self._recorder.frames_written if self._recorder is not None else self._recorded

    async def start_recording(self, directory: Path) -> bool:
        """Write every frame to `directory` (layout: app/receiver/recorder.py).

        Returns False, with `recording_error` saying why, if the folder cannot be made.
        """
        await self.stop_recording()
        recorder = Recorder(directory, on_stopped=self._recording_failed)
        self.recording_dir, self._recorded = directory, 0
        try:
            await recorder.start()
        except OSError as exc:
            self.recording_error = f"cannot record to {directory}: {exc.strerror or exc}"
            log.error("%s", self.recording_error)
            self.recordingChanged.emit()
            self.recordingFailed.emit(self.recording_error)
            return False
        self._recorder, self.recording_error = recorder, None
        log.info("recording every frame to %s", directory)
        self.recordingChanged.emit()
        return True

    async def stop_recording(self) -> None:
        """Write what is queued, then stop recording (also after a write error)."""
        recorder = self._recorder
        if recorder is None:
            return
        await recorder.stop()  # `recording` is False from here on, `frames_recorded` still live
        if self._recorder is not recorder:
            return  # a concurrent call finished it first
        self._recorder, self._recorded = None, recorder.frames_written
        log.info("recorded %d frames in %s", recorder.frames_written, recorder.directory)
        self.recordingChanged.emit()

    async def _record(self, frame: Frame) -> None:
        # The one frame sink of every receiver this service starts: recording can begin and
        # end while the receiver runs, and receivers cannot remove a sink.
        recorder = self._recorder
        if recorder is not None:
            await recorder(frame)

    def _recording_failed(self, reason: str) -> None:
        # The recorder already logged it and now drops frames at once; the next
        # `start_recording` or `stop` collects it.
        self.recording_error = reason
        self.recordingChanged.emit()
        self.recordingFailed.emit(reason)

    # -- receiver events ---------------------------------------------------------------------

    def _on_event(self, event: ReceiverEvent) -> None:
        if isinstance(event, FrameArrived):
            self.decoder.submit(event.frame)
            self.frameArrived.emit(event.frame.device)
        elif isinstance(event, DeviceConnected | DeviceDisconnected | StatusArrived):
            self.deviceChanged.emit(event.device)
        elif isinstance(event, ConnectionRejected):
            self.connectionRejected.emit(event)
            if event.device is not None:
                self.deviceChanged.emit(event.device)
