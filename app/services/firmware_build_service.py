"""Building the camera firmware (and installing PlatformIO) for the wizard, as a Qt service.

`FirmwareBuildService` runs app/serial/firmware_build.py's jobs in a worker thread, awaited on
the app's asyncio loop (qasync), and emits every signal on the GUI thread: the output line by
line (`line`), the build's stage (`step`), and how it ended (`finished(Outcome)`). One job runs
at a time (`busy`); `cancel` ends the job's whole process group. Widgets never start processes
themselves: they call `build`/`install`/`cancel` and follow the signals. A build is refused
(`refused`, one line) while the owner says it must not run (`refuse_builds_when`: the
`SetupService` refuses one while a flash runs). Where a build is looked for and written
(`find_build`, `build_dir`) is asked here too, so widgets need no serial module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.serial.firmware_build import (
    BuildJob,
    Kind,
    Outcome,
    build_job,
    find_platformio,
    find_project,
    in_venv,
    install_job,
    pip_hint,
)
from app.serial.flasher import BUILD_COMMAND, BUILD_ENV, find_build
from app.tasks import spawn

__all__ = ["BUILD_ENV", "FirmwareBuildService", "Kind", "Outcome"]

log = logging.getLogger(__name__)


class FirmwareBuildService(QObject):
    """``pio run -e esp32cam`` and ``pip install platformio`` off the GUI thread.

    `locate` finds PlatformIO (default: `find_platformio`: PATH, this venv, ~/.platformio);
    `env` is the jobs' environment (default: this process's); `install_command` replaces the
    pip command and `installable` says whether installing into this environment is offered
    (default: when running in a virtual environment). Tests pass a stand-in PlatformIO.
    """

    busyChanged = Signal(bool)
    started = Signal(str)  # "build" or "install"
    line = Signal(str)  # one line of the job's output
    step = Signal(int, int, str)  # step, steps, what it is doing (builds only)
    finished = Signal(object)  # Outcome
    refused = Signal(str)  # a build not started: why, and what to do, in one line

    def __init__(
        self,
        *,
        locate: Callable[[], Path | None] = find_platformio,
        env: dict[str, str] | None = None,
        install_command: Sequence[str] | None = None,
        installable: Callable[[], bool] = in_venv,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._locate = locate
        self._env = env
        self._install_command = install_command
        self._installable = installable
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="firmware-build")
        self._job: BuildJob | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._busy = False
        self._refusal: Callable[[], str | None] = lambda: None
        self._loop: asyncio.AbstractEventLoop | None = None  # the one awaiting the job

    # -- what is there ---------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A build or install is running."""
        return self._busy

    def platformio(self) -> Path | None:
        """The PlatformIO executable, or None if it is not installed."""
        return self._locate()

    def can_install(self) -> bool:
        """Installing PlatformIO into this app's Python environment is offered."""
        return self._installable()

    @staticmethod
    def install_hint() -> str:
        """One line saying exactly what to install, and how."""
        return f"PlatformIO is not installed. Install it with: {pip_hint()}"

    @staticmethod
    def project(root: Path) -> Path | None:
        """The PlatformIO project for `root` (the checkout or its firmware directory)."""
        return find_project(root)

    @staticmethod
    def find_build(root: Path) -> Path | None:
        """The flashable build under `root` (the checkout, its firmware directory or the build
        directory), or None if nothing is built there."""
        return find_build(root)

    @staticmethod
    def build_dir(root: Path) -> Path | None:
        """Where a build of `root`'s project is written (None outside a checkout)."""
        project = find_project(root)
        return project / ".pio" / "build" / BUILD_ENV if project is not None else None

    def refuse_builds_when(self, reason: Callable[[], str | None]) -> None:
        """`build` asks `reason()` first and, if it says why not, emits `refused` with it
        instead of building."""
        self._refusal = reason

    # -- jobs ------------------------------------------------------------------------------

    def build(self, root: Path) -> bool:
        """Build the firmware of the checkout (or firmware directory) `root`: `line`s, `step`s,
        then `finished`. Returns False (nothing started) while busy, and after `refused` when
        the owner refuses it (a flash runs); without PlatformIO or a project it finishes at
        once with a message saying what to do."""
        if self._busy:
            return False
        refusal = self._refusal()
        if refusal is not None:
            log.info("firmware build refused: %s", refusal)
            self.refused.emit(refusal)
            return False
        project = find_project(root)
        pio = self._locate()
        if project is None:
            self._start_finished(
                Outcome(
                    Kind.BUILD,
                    False,
                    False,
                    f"No SecureCam firmware project (platformio.ini) in {root}.",
                    "Build in a SecureCam checkout ("
                    + BUILD_COMMAND
                    + "), or choose a merged .bin.",
                )
            )
            return True
        if pio is None:
            guidance = "Or press Install PlatformIO." if self.can_install() else ""
            self._start_finished(Outcome(Kind.BUILD, False, False, self.install_hint(), guidance))
            return True
        job = build_job(
            pio,
            project,
            on_line=self._threadsafe(self.line.emit),
            on_step=self._threadsafe(self.step.emit),
            env=self._env,
        )
        return self._run(job)

    def install(self) -> bool:
        """pip install platformio into this app's environment: `line`s, then `finished`.
        Returns False while busy."""
        if self._busy:
            return False
        job = install_job(
            Path.cwd(),
            command=self._install_command,
            on_line=self._threadsafe(self.line.emit),
            env=self._env,
        )
        return self._run(job)

    def cancel(self) -> None:
        """End the running job (its whole process group); `finished` says it was cancelled."""
        if self._job is not None:
            self._job.cancel()

    # -- internals -------------------------------------------------------------------------

    def _threadsafe(self, emit: Callable[..., None]) -> Callable[..., None]:
        """`emit` for the job's worker thread: queued onto the loop that awaits the job (the
        GUI thread's), which `_run` records before the job runs."""

        def call(*args: Any) -> None:
            loop = self._loop
            assert loop is not None, "a job's callback ran before _run started it"
            loop.call_soon_threadsafe(emit, *args)

        return call

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    def _start_finished(self, outcome: Outcome) -> None:
        """A job that ends before it starts: `started` then `finished`, as for any other."""
        self.started.emit(outcome.kind.value)
        self.finished.emit(outcome)

    def _run(self, job: BuildJob) -> bool:
        self._job = job
        self._set_busy(True)
        self.started.emit(job.kind.value)

        async def work() -> None:
            loop = asyncio.get_running_loop()
            self._loop = loop  # before the job runs: its callbacks post to this loop
            try:
                outcome = await loop.run_in_executor(self._executor, job.run)
            except Exception as exc:  # reaches the user as a failed job
                log.exception("firmware %s job failed", job.kind.value)
                outcome = Outcome(job.kind, False, False, f"The {job.kind.value} stopped: {exc}")
            await asyncio.sleep(0)  # the queued output lines go out first
            self._job = None
            self._set_busy(False)
            self.finished.emit(outcome)

        task = spawn(work(), name=f"firmware {job.kind.value}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def wait_idle(self) -> None:
        """Wait for the running job to end (cancel first to make it quick)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        """Cancel the running job and release the worker thread."""
        self.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
