"""Flash an ESP32-CAM over USB serial with esptool's Python API (esptool >= 5).

`Flasher` runs in the calling thread (the setup wizard puts it in a worker thread):

* it opens the port itself, exclusively (no serial monitor can hold it meanwhile) and
  always closes it again, on success, failure or `Flasher.cancel`;
* esptool's log goes to ``on_log(line)`` and its progress bars to ``on_progress(done,
  total)`` (bytes over all images) through a logger installed for the operation only;
* esptool's errors become `FlashError(message, guidance)` with advice a user can act on;
* writes are verified by esptool's own MD5 check; a failed transfer at the fast baud rate
  is retried once at `FALLBACK_BAUD`;
* what is written is checked first, before the port opens (`check_images`, with
  app/serial/image.py): ESP32 images, each at its offset, fitting the flash. Unusable input
  raises `FlashInputError` (a one-line message naming the file); once connected, the flash
  size the board reports is checked too, before anything is written.

Inputs: `load_images` takes a merged ``.bin`` (written at 0x0 unless told otherwise) or a
PlatformIO build directory (bootloader 0x1000, partitions 0x8000, boot_app0 0xe000,
firmware 0x10000); `find_build` locates ``firmware/.pio/build/esp32cam``.
"""

from __future__ import annotations

import logging
import re
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import serial
from esp_pylib.logger import EspLog, EspLogBase
from esptool import cmds
from esptool.loader import ESPLoader
from esptool.util import flash_size_bytes

from app.errors import UserError
from app.resources import BOOT_MODE_DIAGRAM, resource
from app.serial import image as image_check

log = logging.getLogger(__name__)

ROM_BAUD = 115200
DEFAULT_BAUD = 460800
FALLBACK_BAUD = ROM_BAUD
BUILD_ENV = "esp32cam"
BUILD_COMMAND = f"cd firmware && pio run -e {BUILD_ENV}"
MERGED_IMAGE = f"securecam-{BUILD_ENV}.bin"  # firmware/scripts/merge_image.py writes it
BUILD_FIRST = f"build it first: {BUILD_COMMAND}"
OR_WIZARD = "(or press Build firmware in the setup wizard)"

# (file name, flash offset, required) for a PlatformIO Arduino/ESP-IDF build of the ESP32.
BUILD_LAYOUT: tuple[tuple[str, int, bool], ...] = (
    ("bootloader.bin", 0x1000, True),
    ("partitions.bin", 0x8000, True),
    ("boot_app0.bin", 0xE000, False),
    ("firmware.bin", 0x10000, True),
)

LogCallback = Callable[[str], None]
ProgressCallback = Callable[[int, int], None]

_esptool_lock = threading.Lock()  # esptool's logger is process-global: one flasher at a time


class FlashError(UserError):
    """Flashing failed: `message` says what happened, `guidance` what the user can do;
    `retryable` marks a transfer failure worth retrying at a lower baud rate."""

    def __init__(self, message: str, guidance: str = "", *, retryable: bool = False) -> None:
        super().__init__(message, guidance)
        self.retryable = retryable


class FlashCancelled(FlashError):
    """`Flasher.cancel` was called; the port is closed and free again."""


class FlashInputError(FlashError):
    """The images are unusable: unreadable, empty, an incomplete build, not ESP32 images,
    at the wrong offset or too large. Nothing was written; `message` is one line naming the
    file, `guidance` is empty or what to do instead."""


@dataclass(frozen=True)
class FlashImage:
    """`data` to be written at flash `offset`; `name` is for messages."""

    offset: int
    data: bytes
    name: str


@dataclass(frozen=True)
class Identity:
    """What the board says about itself: chip family and model, base MAC, flash size."""

    chip: str  # esptool's family name, e.g. "ESP32"
    description: str  # e.g. "ESP32-D0WD-V3 (revision v3.0)"
    mac: str  # "24:6f:28:a1:b2:c3"
    flash_size: str | None  # e.g. "4MB", None if the flash ID is unknown
    features: tuple[str, ...] = field(default=())


# -- inputs -------------------------------------------------------------------------------


def find_build(root: Path) -> Path | None:
    """The PlatformIO build directory of the esp32cam environment under `root`, if built.

    `root` may be the project root, the firmware directory or the build directory itself.
    """
    for candidate in (
        root,
        root / ".pio" / "build" / BUILD_ENV,
        root / "firmware" / ".pio" / "build" / BUILD_ENV,
    ):
        if (candidate / "firmware.bin").is_file():
            return candidate
    return None


def load_images(path: Path, offset: int = 0x0) -> list[FlashImage]:
    """Images to write for `path`: a ``.bin`` file at `offset`, or a PlatformIO build dir.

    Raises `FlashInputError` for a missing file or build (saying to build it first, see
    `missing_input`), an empty image, an incomplete build (a
    missing ``boot_app0.bin`` is tolerated: it comes from the framework and only selects the
    OTA slot; without it the board boots the first app partition), and for any image that
    `check_images` refuses.
    """
    try:
        is_dir = stat.S_ISDIR(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        raise missing_input(path) from None
    except OSError:
        is_dir = False  # there but not accessible: `_read` says "Cannot read"
    if is_dir:
        build = find_build(path)
        if build is None:
            raise FlashInputError(f"No firmware build in {path}: {BUILD_FIRST}", OR_WIZARD)
        images = []
        for name, at, required in BUILD_LAYOUT:
            file = build / name
            if not file.is_file():
                if required:
                    raise FlashInputError(
                        f"The build in {build} has no {name}: build it again: {BUILD_COMMAND}",
                        OR_WIZARD,
                    )
                continue
            images.append(FlashImage(at, _read(file), name))
    else:
        images = [FlashImage(offset, _read(path), path.name)]
    check_images(images)
    return images


def check_images(
    images: Sequence[FlashImage], flash_size: str | None = None, chip_id: int | None = None
) -> None:
    """Refuse what must not be written, before any port opens (see app/serial/image.py).

    `flash_size` is the size the board reported ("4MB") and `chip_id` its chip (esptool's
    image chip id, ESP32 = 0), once connected.

    Raises:
        FlashInputError: no images, or the first problem found, naming the file.
    """
    if not images:
        raise FlashInputError("Nothing to flash.", "Pick a firmware image or build directory.")
    try:
        image_check.check(
            [(image.offset, image.data, image.name) for image in images],
            flash_size_bytes(flash_size) if flash_size else None,
            chip_id,
        )
    except image_check.ImageError as exc:
        raise FlashInputError(str(exc)) from None


def missing_optional(path: Path) -> list[str]:
    """Optional build files absent from the build at `path` (for a note in the UI/CLI)."""
    build = find_build(path) if path.is_dir() else None
    if build is None:
        return []
    return [
        name for name, _, required in BUILD_LAYOUT if not required and not (build / name).is_file()
    ]


def missing_input(path: Path) -> FlashInputError:
    """The error for a `path` that does not exist: inside a PlatformIO build (``.pio``, a
    build file's or the merged image's name) it says to build first, else to check the path.
    """
    files = {name for name, _, _ in BUILD_LAYOUT} | {MERGED_IMAGE}
    if path.name == BUILD_ENV or (".pio" in path.parts and path.name not in files):
        return FlashInputError(f"No firmware build in {path}: {BUILD_FIRST}", OR_WIZARD)
    if ".pio" in path.parts or path.name in files:
        return FlashInputError(f"{path} does not exist: {BUILD_FIRST}", OR_WIZARD)
    return FlashInputError(
        f"{path} does not exist.", "Check the path, or pick the merged .bin or build directory."
    )


def _read(file: Path) -> bytes:
    """The file's bytes; "Cannot read" only for a file that exists but cannot be read."""
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise missing_input(file) from None
    except OSError as exc:
        raise FlashInputError(
            f"Cannot read {file}: {exc.strerror or exc}.", "Check the path."
        ) from exc
    if not data:
        raise FlashInputError(f"{file} is empty.", "Rebuild the firmware or pick another image.")
    return data


# -- error guidance -----------------------------------------------------------------------

GUIDANCE_WIRING = (
    "The board did not answer. Check the wiring and power: 5 V and GND connected, the"
    " adapter's TX to the board's U0R and RX to U0T (crossed), a data-capable USB cable, and"
    " that the board is in download mode (IO0 to GND while it resets)."
)
GUIDANCE_BOOT_MODE = (
    "The board booted its flash instead of waiting for new firmware. Connect IO0 to GND"
    " (on an ESP32-CAM-MB: hold IO0), press and release RESET, then try again; remove the"
    f" jumper after flashing. See the diagram {resource(BOOT_MODE_DIAGRAM)}."
)
GUIDANCE_MD5 = (
    "The data read back from flash does not match the image: the flash was corrupted while"
    " writing. Usually the supply sags (use a short cable and a 5 V source that gives at"
    " least 500 mA) or the link is unreliable at high speed: try again at a lower baud rate"
    f" (--baud {FALLBACK_BAUD})."
)
GUIDANCE_BUSY = (
    "The serial port is in use or not accessible. Close serial monitors and other flashing"
    " tools (Arduino IDE, PlatformIO monitor, screen, minicom). On Linux, add yourself to"
    " the dialout group (sudo usermod -aG dialout $USER, then log in again)."
)
GUIDANCE_GONE = (
    "The serial port disappeared or does not exist. Re-plug the adapter, check the cable"
    " and pick the port again."
)
GUIDANCE_GENERIC = (
    "Check wiring and power, put the board in download mode (IO0 to GND, then reset) and"
    " try again, at a lower baud rate if it keeps failing."
)

_RETRYABLE = (GUIDANCE_MD5, GUIDANCE_GENERIC, GUIDANCE_WIRING)
_BOOT_LOG = re.compile(rb"boot:(0x[0-9a-fA-F]+)(.*waiting for download)?", re.DOTALL)


def explain(exc: BaseException, boot_log: bytes = b"") -> FlashError:
    """Map an esptool/pyserial exception (and any boot banner seen) to a `FlashError`."""
    if isinstance(exc, FlashError):
        return exc
    text = " ".join(str(exc).split())
    lowered = text.lower()
    mode = re.search(r"wrong boot mode detected \((0x[0-9a-f]+)\)", lowered)
    banner = _BOOT_LOG.search(boot_log)
    if banner is not None and banner.group(2) is not None:
        banner = None  # "waiting for download": the board is in the right mode
    if mode is not None or (banner is not None and "connect" in lowered):
        code = mode.group(1) if mode else banner.group(1).decode() if banner else "?"
        return FlashError(f"Wrong boot mode detected ({code}).", GUIDANCE_BOOT_MODE)
    if "md5 of file does not match" in lowered or "written flash region is empty" in lowered:
        return FlashError("Verification failed: MD5 mismatch after writing.", GUIDANCE_MD5)
    busy = ("exclusively lock", "resource busy", "errno 16", "permission denied", "errno 13")
    if any(word in lowered for word in (*busy, "access is denied", "port is busy")):
        return FlashError(f"Cannot open the serial port: {text}", GUIDANCE_BUSY)
    if "errno 2" in lowered or "no such file" in lowered or "could not open port" in lowered:
        return FlashError(f"Cannot open the serial port: {text}", GUIDANCE_GONE)
    if "no serial data received" in lowered or "failed to connect" in lowered:
        return FlashError("No serial data received from the board.", GUIDANCE_WIRING)
    return FlashError(text or type(exc).__name__, GUIDANCE_GENERIC)


# -- esptool logger -----------------------------------------------------------------------


class _Cancelled(Exception):
    """Raised from the progress hook to unwind esptool between blocks."""


class _CallbackLogger(EspLogBase):
    """esptool's logger interface, forwarding whole lines and progress to callbacks."""

    def __init__(self, on_line: LogCallback, on_bar: Callable[[int, int], None]) -> None:
        self._on_line = on_line
        self._on_bar = on_bar
        self._partial = ""

    def _emit(self, text: str, end: str = "\n") -> None:
        text = self._partial + _plain(text) + end
        *lines, self._partial = text.split("\n")
        for line in lines:
            if line.strip():
                self._on_line(line.rstrip())

    def flush(self) -> None:
        if self._partial.strip():
            self._on_line(self._partial.rstrip())
        self._partial = ""

    def print(self, *args: Any, **kwargs: Any) -> None:
        self._emit(str(kwargs.get("sep", " ")).join(str(a) for a in args), kwargs.get("end", "\n"))

    def note(self, *args: Any) -> None:
        self.flush()
        self._emit("Note: " + " ".join(str(a) for a in args))

    def hint(self, *args: Any) -> None:
        self.flush()
        self._emit("Hint: " + " ".join(str(a) for a in args))

    def warn(self, *args: Any, suggestion: str | None = None) -> None:
        self.flush()
        self._emit("Warning: " + " ".join(str(a) for a in args))

    def err(self, *args: Any, suggestion: str | None = None) -> None:
        self.flush()
        self._emit("Error: " + " ".join(str(a) for a in args))

    warning = warn  # esptool's backward-compatible names
    error = err

    def debug(self, *args: Any) -> None:
        pass

    def set_verbosity(self, mode: int | str) -> None:
        pass

    def progress_bar(
        self,
        cur_iter: int,
        total_iters: int,
        prefix: str = "",
        suffix: str = "",
        bar_length: int = 30,
    ) -> None:
        self._on_bar(cur_iter, total_iters)


def _plain(text: str) -> str:
    """esptool messages may carry Rich markup; return the visible text."""
    if "[" not in text:
        return text
    try:
        from rich.text import Text

        return Text.from_markup(text).plain
    except Exception:  # malformed markup: keep the raw text
        return text


class _RecordingSerial(serial.Serial):
    """A pyserial port that remembers the last bytes it read (to spot a ROM boot banner)."""

    history = b""

    def read(self, size: int = 1) -> bytes:
        data = super().read(size)
        if data:
            self.history = (self.history + data)[-4096:]
        return data


# -- the flasher --------------------------------------------------------------------------


class Flasher:
    """Talks to one board on `port`; `identify` and `flash` each open and close the port.

    `before`/`after` are esptool's reset modes ("default-reset"/"hard-reset" for real
    boards; "no-reset" for boards put into download mode by hand, and for the emulator).
    `no_stub=True` talks to the ROM loader only (slower: uncompressed, no stub upload).
    """

    def __init__(
        self,
        port: str,
        *,
        baud: int = DEFAULT_BAUD,
        fallback_baud: int | None = FALLBACK_BAUD,
        no_stub: bool = False,
        before: str = "default-reset",
        after: str = "hard-reset",
        connect_attempts: int = 7,
        on_log: LogCallback | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.port = port
        self.baud = baud
        self.fallback_baud = fallback_baud
        self.no_stub = no_stub
        self.before = before
        self.after = after
        self.connect_attempts = connect_attempts
        self.on_log = on_log or (lambda line: None)
        self.on_progress = on_progress or (lambda done, total: None)
        self._cancel = threading.Event()
        self._done = 0
        self._current = 0
        self._total = 0

    def cancel(self) -> None:
        """Ask a running `identify`/`flash` (in another thread) to stop at the next block."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def identify(self) -> Identity:
        """Connect, report chip, MAC and flash size, then reset as `after` says."""
        return self._run([], self.baud)

    def flash(self, images: Sequence[FlashImage]) -> Identity:
        """Check `images` (before the port opens), write and verify them, then reset; retry
        once at the fallback baud rate.

        Raises `FlashInputError` (nothing was written), `FlashError` (with guidance) or
        `FlashCancelled`.
        """
        check_images(images)
        try:
            return self._run(images, self.baud)
        except FlashCancelled:
            raise
        except FlashError as exc:
            fallback = self.fallback_baud
            if fallback is None or fallback >= self.baud or not exc.retryable:
                raise
            self.on_log(
                f"Flashing failed at {self.baud} Bd ({exc.message}); retrying at {fallback} Bd."
            )
            return self._run(images, fallback)

    # -- internals ------------------------------------------------------------------------

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise _Cancelled

    def _bar(self, current: int, total: int) -> None:
        self._check_cancel()
        if total > 0 and self._current > 0:
            self.on_progress(
                min(self._total, self._done + self._current * current // total), self._total
            )

    @contextmanager
    def _esptool_logging(self) -> Iterator[_CallbackLogger]:
        logger = _CallbackLogger(self.on_log, self._bar)
        with _esptool_lock:
            previous = EspLog.instance
            EspLog.instance = logger
            try:
                yield logger
            finally:
                logger.flush()
                EspLog.instance = previous

    def _run(self, images: Sequence[FlashImage], baud: int) -> Identity:
        self._check_cancel_early()
        self._total = sum(len(image.data) for image in images)
        self._done = 0
        port = _RecordingSerial()
        port.port = self.port
        port.baudrate = ROM_BAUD
        port.exclusive = True
        connected = False
        try:
            with self._esptool_logging():
                try:
                    port.open()
                    esp = cmds.detect_chip(
                        port,  # esptool accepts an open port as well as a path
                        ROM_BAUD,
                        connect_mode=self.before,
                        connect_attempts=self.connect_attempts,
                    )
                    connected = True
                    if images:  # a board with another chip: refused before anything else
                        check_images(images, chip_id=esp.IMAGE_CHIP_ID)
                    self._check_cancel()
                    if not self.no_stub:
                        esp = cmds.run_stub(esp)
                    if baud != ROM_BAUD:
                        esp.change_baud(baud)
                    cmds.attach_flash(esp)
                    identity = _identity(esp)
                    self.on_log(
                        f"Found {identity.description}, MAC {identity.mac},"
                        f" flash {identity.flash_size or 'unknown'}."
                    )
                    if images:
                        check_images(images, identity.flash_size, esp.IMAGE_CHIP_ID)
                        self.on_progress(0, self._total)
                    for image in images:
                        self._check_cancel()
                        self._current = len(image.data)
                        self.on_log(f"Writing {image.name} at {image.offset:#07x}...")
                        cmds.write_flash(esp, [(image.offset, image.data)])
                        self._done += len(image.data)
                        self.on_progress(self._done, self._total)
                    self._current = 0
                    self._check_cancel()
                    cmds.reset_chip(esp, self.after.replace("default-reset", "hard-reset"))
                    return identity
                except FlashInputError:
                    raise  # another chip, or less flash than the images need: nothing written
                except _Cancelled:
                    raise FlashCancelled(
                        "Cancelled.",
                        "The board may hold a partial image; flash it again before use.",
                    ) from None
                except Exception as exc:
                    error = explain(exc, port.history)
                    error.retryable = connected and error.guidance in _RETRYABLE
                    raise error from exc
        finally:
            self._current = 0
            port.close()

    def _check_cancel_early(self) -> None:
        if self._cancel.is_set():
            raise FlashCancelled("Cancelled.", "")


def _identity(esp: ESPLoader) -> Identity:
    mac = esp.read_mac()
    try:
        description = esp.get_chip_description()
    except Exception:
        description = esp.CHIP_NAME
    try:
        features = tuple(esp.get_chip_features())
    except Exception:
        features = ()
    try:
        flash_size = cmds.detect_flash_size(esp)
    except Exception:
        flash_size = None
    return Identity(
        chip=esp.CHIP_NAME,
        description=description,
        mac=":".join(f"{b:02x}" for b in mac) if mac else "",
        flash_size=flash_size,
        features=features,
    )
