"""Build the camera firmware with PlatformIO (``pio run -e esp32cam``), or install PlatformIO.

`BuildJob` runs one command in the calling thread (the setup wizard's service puts it in a
worker): its output, stdout and stderr merged, goes line by line to ``on_line`` (ANSI colours
stripped, carriage-return progress bars split into lines) and what stage PlatformIO is at to
``on_step(step, steps, text)``. `BuildJob.cancel` (from any thread) ends the whole process
group: SIGTERM, then SIGKILL after `KILL_GRACE_S`, so the compilers PlatformIO started go
too.

A build that fails or is cancelled leaves nothing the flasher would pick up: every flash
image it wrote (or began to write) is removed again, and with them ``firmware.bin`` and the
merged image, so `app.serial.flasher.find_build` finds no half-built set. Images an earlier
build left and this run never touched are kept.

PlatformIO is found on PATH (``pio``, ``platformio``), in this Python's environment (the
venv's ``bin``) or where PlatformIO's own installer puts it (``~/.platformio/penv/bin``).
No Qt here: app/services/firmware_build_service.py drives it for the wizard.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from app.serial.flasher import BUILD_ENV, BUILD_LAYOUT, MERGED_IMAGE, find_build

log = logging.getLogger(__name__)

KILL_GRACE_S = 3.0  # between SIGTERM and SIGKILL on cancel
PIO_NAMES = ("pio", "platformio")
BUILD_ARGS = ("run", "-e", BUILD_ENV)
PROJECT_FILE = "platformio.ini"
BUILD_OUTPUTS = (*(name for name, _, _ in BUILD_LAYOUT), MERGED_IMAGE)
MAX_LINE = 4000  # a longer line (a runaway progress bar) is cut

LineCallback = Callable[[str], None]
StepCallback = Callable[[int, int, str], None]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Kind(Enum):
    BUILD = "build"
    INSTALL = "install"


@dataclass(frozen=True)
class Outcome:
    """How a job ended. `message` is one line for the user, `guidance` what to do next (or
    ""); `build` is the build directory a successful build wrote."""

    kind: Kind
    ok: bool
    cancelled: bool
    message: str
    guidance: str = ""
    returncode: int | None = None
    build: Path | None = None


# -- where things are ---------------------------------------------------------------------


def find_project(root: Path) -> Path | None:
    """The PlatformIO project (the directory with platformio.ini) for `root`: the firmware
    directory of a SecureCam checkout, or `root` itself. None outside a checkout."""
    for candidate in (root / "firmware", root):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    return None


def default_dirs() -> list[Path]:
    """Where PlatformIO is looked for besides PATH: this Python's environment, then the
    directory PlatformIO's installer script uses."""
    return [Path(sys.prefix) / "bin", Path.home() / ".platformio" / "penv" / "bin"]


def find_platformio(
    path: str | None = None, extra_dirs: Iterable[Path] | None = None
) -> Path | None:
    """The ``pio`` (or ``platformio``) executable: on `path` (default: $PATH), else in
    `extra_dirs` (default: `default_dirs`). None if PlatformIO is not installed."""
    for name in PIO_NAMES:
        found = shutil.which(name, path=path)
        if found:
            return Path(found)
    for directory in default_dirs() if extra_dirs is None else extra_dirs:
        for name in PIO_NAMES:
            candidate = directory / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    return None


def in_venv() -> bool:
    """This Python runs in a virtual environment (where installing a package is harmless)."""
    return sys.prefix != sys.base_prefix


def pip_hint() -> str:
    """The command that installs PlatformIO for this app: the venv's pip (``.venv/bin/pip``
    when the venv is the checkout's), else pipx."""
    if not in_venv():
        return "pipx install platformio"
    pip = Path(sys.prefix) / "bin" / "pip"
    try:
        shown = str(pip.relative_to(Path.cwd()))
    except ValueError:
        shown = str(pip)
    return f"{shown} install platformio"


def install_command() -> list[str]:
    """This Python's pip installing PlatformIO into its environment."""
    return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "platformio"]


# -- progress -----------------------------------------------------------------------------


class BuildSteps:
    """What stage a ``pio run`` is at, from its output lines.

    PlatformIO prints no totals, so the progress is the stage, honestly: 1 preparing
    (installing the platform and toolchain on a first run, finding libraries), 2 compiling
    (with a count of the files so far), 3 linking, 4 making the flash images.
    """

    STEPS = 4

    def __init__(self) -> None:
        self.step = 1
        self.compiled = 0
        self.text = "Preparing (PlatformIO may first download its toolchain)"

    def feed(self, line: str) -> bool:
        """Take one line; True if the stage or its text changed."""
        before = (self.step, self.text)
        if line.startswith("Compiling "):
            self.compiled += 1
            self.step = max(self.step, 2)
            self.text = f"Compiling ({self.compiled} files)"
        elif line.startswith(("Archiving ", "Indexing ")) and self.step <= 2:
            self.step = 2
            self.text = f"Compiling ({self.compiled} files), archiving libraries"
        elif line.startswith("Linking "):
            self.step = max(self.step, 3)
            self.text = "Linking"
        elif self.step >= 3 and line.startswith(
            ("Building .pio", "merge_image:", "Creating esp32 image")
        ):
            self.step = 4
            self.text = "Making the flash images"
        elif self.step == 1 and line.startswith(("Tool Manager:", "Platform Manager:")):
            self.text = "Preparing: " + line.split(":", 1)[1].strip()
        return (self.step, self.text) != before


# -- running ------------------------------------------------------------------------------


class BuildJob:
    """One PlatformIO build or install, run by `run` in the calling thread.

    `command` is an argument list (never a shell string); `cwd` the directory it runs in.
    `project` (for a build) is the PlatformIO project, whose build directory is cleaned up
    after a failure or cancel. `env` is the command's environment (default: this process's);
    `kill_grace` the seconds between SIGTERM and SIGKILL on cancel.
    """

    def __init__(
        self,
        kind: Kind,
        command: Sequence[str],
        cwd: Path,
        *,
        project: Path | None = None,
        on_line: LineCallback | None = None,
        on_step: StepCallback | None = None,
        env: dict[str, str] | None = None,
        kill_grace: float = KILL_GRACE_S,
    ) -> None:
        self.kind = kind
        self.kill_grace = kill_grace
        self.command = list(command)
        self.cwd = cwd
        self.project = project
        self.on_line = on_line or (lambda line: None)
        self.on_step = on_step or (lambda step, steps, text: None)
        self.env = env
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._signalled: int | None = None
        self._cancel_seen: float | None = None  # when `run` first saw the cancel

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """End the job's whole process group (SIGTERM now, SIGKILL after the grace)."""
        self._cancel.set()
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        with self._lock:
            proc = self._proc
            if proc is None or self._signalled == signal.SIGKILL:
                return
            self._signalled = sig
            # the group's id is the leader's pid; no such group: everyone in it has gone
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

    def run(self) -> Outcome:
        """Run to the end (or cancel) and say how it went; never raises for the job's own
        failure (that is an `Outcome` with ok False)."""
        snapshot = self._snapshot()
        steps = BuildSteps()
        if self.kind is Kind.BUILD:
            self.on_step(steps.step, steps.STEPS, steps.text)
        first_error = ""
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PLATFORMIO_DISABLE_COLOR", "true")
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.on_line("$ " + " ".join(self._shown(self.command)))
        try:
            proc = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so cancel reaches all of it
            )
        except OSError as exc:
            return Outcome(
                self.kind,
                False,
                False,
                f"Cannot start {self.command[0]}: {exc.strerror or exc}.",
                self._missing_guidance(),
            )
        with self._lock:
            self._proc = proc
        if self._cancel.is_set():
            self._signal(signal.SIGTERM)
        self._cancel_seen = None
        try:
            for line in self._lines(proc):
                self.on_line(line)
                if not first_error and _is_error(line):
                    first_error = line
                if self.kind is Kind.BUILD and steps.feed(line):
                    self.on_step(steps.step, steps.STEPS, steps.text)
            returncode = self._wait(proc)
        finally:
            with self._lock:
                self._proc = None
            if proc.poll() is None:  # an exception in a callback: leave nothing running
                # the group may be gone already (everyone in it exited): nothing to end
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()  # `_lines` closes it too, unless a callback raised
        return self._outcome(returncode, first_error, snapshot)

    def _escalate(self) -> None:
        """After a cancel, SIGKILL the group once the grace has passed since it was seen."""
        if not self._cancel.is_set():
            return
        now = time.monotonic()
        if self._cancel_seen is None:
            self._cancel_seen = now
        elif now - self._cancel_seen > self.kill_grace:
            self._signal(signal.SIGKILL)

    def _wait(self, proc: subprocess.Popen[bytes]) -> int:
        """The leader's exit code. A leader that closed its output but ignores the cancel's
        SIGTERM is killed after the grace, as in `_lines`."""
        while True:
            try:
                return proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                self._escalate()

    def _lines(self, proc: subprocess.Popen[bytes]) -> Iterable[str]:
        """The output, line by line, until every process in the group has closed it;
        escalates a cancel to SIGKILL after the grace."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                self._escalate()
                if not selector.select(timeout=0.2):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                pending += chunk
                *complete, pending = re.split(rb"\r\n|\r|\n", pending)
                if len(pending) > MAX_LINE:
                    complete.append(pending)
                    pending = b""
                for raw in complete:
                    line = _plain(raw)
                    if line.strip():
                        yield line
        proc.stdout.close()
        if pending.strip():
            yield _plain(pending)

    def _outcome(
        self, returncode: int, first_error: str, snapshot: dict[Path, tuple[int, int]]
    ) -> Outcome:
        ok = returncode == 0 and not self._cancel.is_set()
        build = find_build(self.project) if self.project is not None else None
        if self.kind is Kind.BUILD and ok and build is None:
            ok = False
            first_error = f"PlatformIO wrote no firmware.bin in {self._build_dir()}"
        if not ok and self.kind is Kind.BUILD:
            self._discard(snapshot)
        if ok:
            if self.kind is Kind.BUILD:
                return Outcome(self.kind, True, False, f"Firmware built: {build}", "", 0, build)
            return Outcome(
                self.kind, True, False, "PlatformIO installed.", "Press Build firmware now.", 0
            )
        what = "Build" if self.kind is Kind.BUILD else "PlatformIO install"
        if self._cancel.is_set():
            return Outcome(self.kind, False, True, f"{what} cancelled", "", returncode)
        detail = f": {first_error}" if first_error else ""
        message = f"{what} failed (exit code {returncode}){detail}"
        if self.kind is Kind.BUILD:
            guidance = (
                "The log above has PlatformIO's output. The first build downloads the ESP32"
                " toolchain and Arduino core (several hundred MB): it needs the internet."
            )
        else:
            guidance = f"The log above has pip's output. Or install it yourself: {pip_hint()}"
        return Outcome(self.kind, False, False, message, guidance, returncode)

    def _missing_guidance(self) -> str:
        if self.kind is Kind.BUILD:
            return f"Install PlatformIO: {pip_hint()}"
        return "Check that pip works in this Python environment."

    # -- leaving no half-written build ----------------------------------------------------

    def _build_dir(self) -> Path:
        assert self.project is not None
        return self.project / ".pio" / "build" / BUILD_ENV

    def _snapshot(self) -> dict[Path, tuple[int, int]]:
        """(mtime_ns, size) of each flash image present now."""
        if self.project is None:
            return {}
        found = {}
        for name in BUILD_OUTPUTS:
            file = self._build_dir() / name
            try:
                stat = file.stat()
            except OSError:
                continue
            found[file] = (stat.st_mtime_ns, stat.st_size)
        return found

    def _discard(self, before: dict[Path, tuple[int, int]]) -> None:
        """After a failed or cancelled build: if it wrote any flash image (one that differs
        from `before`, the snapshot taken before the run), remove those and firmware.bin and
        the merged image, so no mix of old and half-new images is found."""
        written = [file for file, seen in self._snapshot().items() if before.get(file) != seen]
        if not written:
            return
        for file in {
            *written,
            self._build_dir() / "firmware.bin",
            self._build_dir() / MERGED_IMAGE,
        }:
            try:
                file.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("cannot remove %s after a failed build: %s", file, exc)
                continue
            self.on_line(f"Removed {file} (written by the unfinished build).")

    @staticmethod
    def _shown(command: Sequence[str]) -> list[str]:
        return [Path(part).name if index == 0 else part for index, part in enumerate(command)]


def build_job(
    pio: Path,
    project: Path,
    *,
    on_line: LineCallback | None = None,
    on_step: StepCallback | None = None,
    env: dict[str, str] | None = None,
    kill_grace: float = KILL_GRACE_S,
) -> BuildJob:
    """``pio run -e esp32cam`` in the PlatformIO `project`."""
    return BuildJob(
        Kind.BUILD,
        [str(pio), *BUILD_ARGS],
        project,
        project=project,
        on_line=on_line,
        on_step=on_step,
        env=env,
        kill_grace=kill_grace,
    )


def install_job(
    cwd: Path,
    *,
    command: Sequence[str] | None = None,
    on_line: LineCallback | None = None,
    env: dict[str, str] | None = None,
) -> BuildJob:
    """pip installing PlatformIO into this Python's environment (`command` replaces
    `install_command()`)."""
    return BuildJob(Kind.INSTALL, list(command or install_command()), cwd, on_line=on_line, env=env)


def _is_error(line: str) -> bool:
    """A line worth quoting: a compiler error, PlatformIO's or pip's "Error:"/"ERROR:"."""
    lowered = line.lower()
    return line.startswith(("Error:", "ERROR:", "*** ")) or any(
        word in lowered for word in ("error:", "exception:")
    )


def _plain(raw: bytes) -> str:
    text = _ANSI.sub("", raw.decode("utf-8", "replace")).rstrip()
    return text[:MAX_LINE]
