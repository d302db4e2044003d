"""The USB setup of a camera as a Qt service: ports, identify, flash, Wi-Fi scan, provision.

Widgets talk to `SetupService` through its methods and signals only; it never blocks the
GUI thread: every serial operation (and the port listing) runs in a worker thread of a
`concurrent.futures` executor, awaited on the app's asyncio loop (qasync), and every signal
is emitted on the GUI thread. One serial job runs at a time (`busy`); `cancel` stops it.

The service owns the link state (`state`, app/serial/link.py's table) and what goes with it
(`identity`, `result`); `stateChanged` reports every change, always before the signal that
tells the job's outcome. The wizard's pages read these here and keep no copies, and what they
need of the flasher (the speeds, the quick check of what would be flashed: `flash_input`) too,
so no widget imports a serial module.

Secrets: the Wi-Fi password goes to the provisioner only; the device key never leaves the
provisioner and the registry (a `ProvisionResult` carries the fingerprint only).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from app.devices.registry import Registry
from app.serial.flasher import (
    DEFAULT_BAUD,
    FALLBACK_BAUD,
    Flasher,
    FlashError,
    Identity,
    load_images,
)
from app.serial.link import (
    FORGETS_IDENTITY,
    RUNNING,
    InvalidTransition,
    LinkEvent,
    LinkState,
    next_state,
)
from app.serial.ports import PortInfo, PortWatcher, list_ports
from app.serial.provisioner import (
    DEFAULT_TIMEOUTS,
    ProvisionError,
    ProvisionRequest,
    ProvisionResult,
    ProvisionTimeouts,
    Step,
    provision,
    scan_networks,
)
from app.services.firmware_build_service import FirmwareBuildService
from app.tasks import spawn

log = logging.getLogger(__name__)

_T = TypeVar("_T")
POLL_MS = 1000
FLASH_BAUDS = (DEFAULT_BAUD, 230400, FALLBACK_BAUD)  # the speeds offered, fastest first
BUILD_WHILE_FLASHING = (
    "The firmware cannot be built while the board is being flashed: wait for the flash to"
    " end, or press Cancel."
)


@dataclass(frozen=True)
class FlasherOptions:
    """esptool settings: "default-reset"/"hard-reset" for real boards, "no-reset" for a
    board put into download mode by hand (and the emulator, with `no_stub=True`)."""

    before: str = "default-reset"
    after: str = "hard-reset"
    no_stub: bool = False
    connect_attempts: int = 7


@dataclass(frozen=True)
class FlashInput:
    """What `flash` would write: `path` (a build directory or a .bin), its `images` and their
    `size` in bytes."""

    path: Path
    images: int
    size: int


class SetupService(QObject):
    """Ports, identify, flash, scan and provision for the setup wizard, off the GUI thread.

    `registry` is where `provision` registers the device (DevicesService.registry in the app);
    `on_registered` is called on the GUI thread after a success (to refresh the device list).
    `lister` replaces pyserial's port listing (tests offer ptys, which pyserial cannot list).
    `firmware` builds the firmware when it is missing (`FirmwareBuildService`; one is made if
    not given); `cancel` and `close` reach it too, no flash starts while it builds and it
    refuses to build while a flash runs.
    """

    portsChanged = Signal(list)  # list[PortInfo], likely adapters first
    busyChanged = Signal(bool)
    stateChanged = Signal(object)  # LinkState
    identified = Signal(object)  # Identity
    identifyFailed = Signal(str, str)  # message, guidance
    flashProgress = Signal(int, int)  # bytes done, bytes total
    flashLog = Signal(str)
    flashFinished = Signal(object)  # Identity
    flashFailed = Signal(str, str)  # message, guidance (also after cancel)
    networksScanned = Signal(list)  # list[Network], strongest first
    scanFailed = Signal(str, str)  # message, guidance
    provisionStep = Signal(str)
    provisioned = Signal(object)  # ProvisionResult
    provisionFailed = Signal(str, str)  # message, guidance

    def __init__(
        self,
        registry: Registry,
        *,
        lister: Callable[[], list[PortInfo]] | None = None,
        flasher_options: FlasherOptions | None = None,
        timeouts: ProvisionTimeouts = DEFAULT_TIMEOUTS,
        on_registered: Callable[[], None] | None = None,
        poll_ms: int = POLL_MS,
        firmware: FirmwareBuildService | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.firmware = firmware or FirmwareBuildService(parent=self)
        self.firmware.refuse_builds_when(self._build_refusal)
        self.flasher_options = flasher_options or FlasherOptions()
        self.timeouts = timeouts
        self._on_registered = on_registered
        self._watcher = PortWatcher(lister or list_ports)
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="setup")
        self._tasks: set[asyncio.Future[Any]] = set()
        self._polling = False
        self._busy = False
        self._state = LinkState.DISCONNECTED
        self._identity: Identity | None = None
        self._result: ProvisionResult | None = None
        self._flasher: Flasher | None = None
        self._cancel: threading.Event | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)

    # -- state -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A serial job (identify, flash, scan, provision) is running."""
        return self._busy

    @property
    def state(self) -> LinkState:
        """The board link's state (app/serial/link.py)."""
        return self._state

    @property
    def identity(self) -> Identity | None:
        """What the ROM loader said (by identify or flash); None while DISCONNECTED or
        IDENTIFYING, or when the board was provisioned without being identified."""
        return self._identity

    @property
    def result(self) -> ProvisionResult | None:
        """The provisioning that made the link VERIFIED; None in any other state."""
        return self._result

    @property
    def ports(self) -> list[PortInfo]:
        """The ports of the last listing."""
        return self._watcher.ports

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    def _advance(
        self,
        event: LinkEvent,
        *,
        identity: Identity | None = None,
        result: ProvisionResult | None = None,
    ) -> None:
        """Apply `event` to the link (InvalidTransition if its state refuses it), update
        what goes with the new state, then emit `stateChanged`."""
        state = next_state(self._state, event)
        self._state = state
        if identity is not None:
            self._identity = identity
        elif state in FORGETS_IDENTITY:
            self._identity = None
        self._result = result if state is LinkState.VERIFIED else None
        self.stateChanged.emit(state)

    # -- ports -------------------------------------------------------------------------------

    def start_watching(self) -> None:
        """List the ports now and then every `poll_ms` (hot-plug); `portsChanged` on change."""
        self.refresh_ports()
        self._timer.start()

    def stop_watching(self) -> None:
        self._timer.stop()

    def refresh_ports(self) -> None:
        """List the ports in a worker; `portsChanged` is emitted even if nothing changed."""
        self._spawn(self._list(force=True), "list serial ports")

    def _poll(self) -> None:
        if not self._polling:
            self._spawn(self._list(force=False), "list serial ports")

    async def _list(self, *, force: bool) -> None:
        self._polling = True
        try:
            added, removed = await self._in_worker(self._watcher.poll)
        except Exception as exc:  # a listing failure must not kill the poll
            log.warning("listing serial ports failed: %s", exc)
            return
        finally:
            self._polling = False
        if force or added or removed:
            self.portsChanged.emit(self._watcher.ports)

    # -- identify and flash ------------------------------------------------------------------

    def identify(self, port: str, baud: int = DEFAULT_BAUD) -> bool:
        """Read chip, MAC and flash size: `identified` or `identifyFailed`.

        A failure after connecting (a link unreliable at `baud`) is retried once at 115200.
        Returns False (nothing started) while another job runs.
        """
        return self._start(
            self._identify(port, baud),
            "identify",
            lambda text: self.identifyFailed.emit(text, ""),
            LinkEvent.IDENTIFY,
        )

    async def _identify(self, port: str, baud: int) -> None:
        try:
            identity = await self._in_worker(lambda: self._make_flasher(port, baud).identify())
        except FlashError as exc:
            if not exc.retryable or baud == FALLBACK_BAUD or self._cancelled():
                self._advance(LinkEvent.IDENTIFY_FAILED)
                self.identifyFailed.emit(exc.message, exc.guidance)
                return
            self.flashLog.emit(f"Identify failed at {baud} Bd; retrying at {FALLBACK_BAUD} Bd.")
            try:
                identity = await self._in_worker(
                    lambda: self._make_flasher(port, FALLBACK_BAUD).identify()
                )
            except FlashError as again:
                self._advance(LinkEvent.IDENTIFY_FAILED)
                self.identifyFailed.emit(again.message, again.guidance)
                return
        self._advance(LinkEvent.IDENTIFIED, identity=identity)
        self.identified.emit(identity)

    def flash_input(self, chosen: str, root: Path) -> FlashInput:
        """The quick local check before `flash`, on the calling thread (it reads the images,
        a few MB at most): `chosen` is what the user typed or picked (a .bin or a build
        directory); blank means the build of the checkout `root` (or `root` itself outside a
        checkout). Raises `FlashError` (a `UserError`: message and guidance) for a missing,
        unreadable or incomplete image."""
        text = chosen.strip()
        path = Path(text) if text else (self.firmware.build_dir(root) or root)
        images = load_images(path)
        return FlashInput(path, len(images), sum(len(image.data) for image in images))

    def _build_refusal(self) -> str | None:
        """Why the firmware must not be built now: not while a flash reads the images."""
        return BUILD_WHILE_FLASHING if self._state is LinkState.FLASHING else None

    def flash(self, port: str, images_path: Path, baud: int = DEFAULT_BAUD) -> bool:
        """Write a build directory or a .bin (at 0x0): `flashProgress`/`flashLog`, then
        `flashFinished(Identity)` or `flashFailed(message, guidance)`. `cancel` stops it and
        leaves the port closed and usable. Returns False while another job runs or the
        firmware is being built."""
        if self.firmware.busy:
            return False
        return self._start(
            self._flash(port, Path(images_path), baud),
            "flash",
            lambda text: self.flashFailed.emit(text, ""),
            LinkEvent.FLASH,
        )

    async def _flash(self, port: str, path: Path, baud: int) -> None:
        loop = asyncio.get_running_loop()

        def on_log(line: str) -> None:
            loop.call_soon_threadsafe(self.flashLog.emit, line)

        def on_progress(done: int, total: int) -> None:
            loop.call_soon_threadsafe(self.flashProgress.emit, done, total)

        def work() -> Identity:
            images = load_images(path)
            flasher = self._make_flasher(port, baud, on_log=on_log, on_progress=on_progress)
            return flasher.flash(images)

        try:
            identity = await self._in_worker(work)
        except FlashError as exc:  # FlashCancelled included
            await asyncio.sleep(0)  # let queued log lines go out first
            self._advance(LinkEvent.FLASH_FAILED)
            self.flashFailed.emit(exc.message, exc.guidance)
            return
        await asyncio.sleep(0)
        self._advance(LinkEvent.FLASHED, identity=identity)
        self.flashFinished.emit(identity)

    def _make_flasher(self, port: str, baud: int, **callbacks: Any) -> Flasher:
        options = self.flasher_options
        flasher = Flasher(
            port,
            baud=baud,
            no_stub=options.no_stub,
            before=options.before,
            after=options.after,
            connect_attempts=options.connect_attempts,
            **callbacks,
        )
        self._flasher = flasher
        if self._cancelled():
            flasher.cancel()
        return flasher

    # -- Wi-Fi scan and provisioning ---------------------------------------------------------

    def scan(self, port: str) -> bool:
        """Ask the camera's console for Wi-Fi networks: `networksScanned` or `scanFailed`."""
        return self._start(
            self._scan(port), "Wi-Fi scan", lambda text: self.scanFailed.emit(text, "")
        )

    async def _scan(self, port: str) -> None:
        timeouts, cancel = self.timeouts, self._cancel
        try:
            networks = await self._in_worker(
                lambda: scan_networks(port, timeouts=timeouts, cancel=cancel)
            )
        except ProvisionError as exc:
            self.scanFailed.emit(exc.message, exc.guidance)
            return
        self.networksScanned.emit(networks)

    def provision(self, port: str, request: ProvisionRequest) -> bool:
        """Register `request.name` and give the camera on `port` everything in `request`:
        `provisionStep` messages, then `provisioned(ProvisionResult)` or
        `provisionFailed(message, guidance)`; after a failure the registry is as it was (the
        provisioner rolls back). Returns False while busy."""
        return self._start(
            self._provision(port, request),
            "provisioning",
            lambda text: self.provisionFailed.emit(text, ""),
            LinkEvent.PROVISION,
        )

    async def _provision(self, port: str, request: ProvisionRequest) -> None:
        loop = asyncio.get_running_loop()
        timeouts, cancel = self.timeouts, self._cancel

        def on_step(step: Step, message: str) -> None:  # messages never hold the key
            loop.call_soon_threadsafe(self.provisionStep.emit, message)

        def work() -> ProvisionResult:
            return provision(
                port,
                request,
                registry=self.registry,
                on_step=on_step,
                cancel=cancel,
                timeouts=timeouts,
            )

        try:
            result = await self._in_worker(work)
        except ProvisionError as exc:
            await asyncio.sleep(0)
            self._advance(LinkEvent.PROVISION_FAILED)
            self.provisionFailed.emit(exc.message, exc.guidance)
            return
        await asyncio.sleep(0)
        self._advance(LinkEvent.VERIFIED, result=result)
        if self._on_registered is not None:
            self._on_registered()
        self.provisioned.emit(result)

    # -- jobs --------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the running job at its next step, and a firmware build; their failure
        signals report the cancel."""
        self.firmware.cancel()
        if self._cancel is not None:
            self._cancel.set()
        if self._flasher is not None:
            self._flasher.cancel()

    def _cancelled(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    def _start(
        self,
        coro: Any,
        what: str,
        failed: Callable[[str], None],
        start: LinkEvent | None = None,
    ) -> bool:
        """Run one serial job, first moving the link by `start` (a scan does not move it).

        Returns False (nothing started) while another job runs.

        A job that ends without its outcome (an unexpected exception, which reaches the user
        through `failed`) leaves its running state by the failure event, so the link never
        stays busy.
        """
        if self._busy:
            coro.close()
            return False
        self._cancel = threading.Event()
        self._set_busy(True)  # before the link moves: a running state is always busy
        if start is not None:
            try:
                self._advance(start)
            except InvalidTransition:
                coro.close()
                self._set_busy(False)
                raise

        async def job() -> None:
            try:
                await coro
            finally:
                self._flasher = None
                if start is not None and self._state in RUNNING:
                    self._advance(RUNNING[self._state])
                self._set_busy(False)

        def on_error(exc: BaseException) -> None:  # already logged, with its traceback
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            failed(f"The {what} stopped on an unexpected error ({detail}). The log has details.")

        self._spawn(job(), f"setup: {what}", on_error)
        return True

    def _spawn(
        self, coro: Any, name: str, on_error: Callable[[BaseException], None] | None = None
    ) -> None:
        task = spawn(coro, name=name, on_error=on_error)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _in_worker(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def wait_idle(self) -> None:
        """Wait for running jobs and listings to finish (cancel first to make it quick)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        """Stop polling, cancel the running job and release the worker threads."""
        self._timer.stop()
        self.cancel()
        self.firmware.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
