"""`securecam flash --port P [--baud B] [IMAGE|BUILD_DIR]`: write firmware to an ESP32-CAM.

Without IMAGE it flashes the checkout's build (firmware/.pio/build/esp32cam). Bad input gets
one line on stderr and exit code 2, before any port opens: an image that is not an ESP32
image, is at the wrong offset or does not fit (app/serial/image.py), a missing file, a
missing build ("build it first: cd firmware && pio run -e esp32cam"), a serial port path
that does not exist; once connected, a board with another chip or less flash than the
images need, before anything is erased. A failure while flashing gets the message and what
to do about it, exit code 1.

esptool is imported by `run`, so parsing a command line does not load it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli_common import USAGE_ERROR, common_options, detect_board_port, serial_port

if TYPE_CHECKING:
    from app.serial.flasher import FlashInputError

# The checkout this module is part of; `securecam flash` without IMAGE flashes its build.
CHECKOUT = Path(__file__).resolve().parents[2]
# app.serial.flasher.DEFAULT_BAUD (not imported here: it loads esptool); a test holds them equal.
DEFAULT_BAUD = 460800


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `flash` on the top-level sub-command set."""
    parser = subparsers.add_parser(
        "flash",
        parents=[common_options()],
        help="write the camera firmware over USB serial",
        description=(
            "Write firmware to an ESP32-CAM: a merged .bin (at 0x0 unless --offset) or a"
            " PlatformIO build directory (default: firmware/.pio/build/esp32cam in this"
            " checkout; build it first: cd firmware && pio run -e esp32cam)."
        ),
    )
    parser.add_argument(
        "image",
        type=Path,
        nargs="?",
        metavar="IMAGE|BUILD_DIR",
        help="a merged .bin or a PlatformIO build directory (default: this checkout's build)",
    )
    parser.add_argument(
        "--port", help="serial port (default: the only likely ESP32 adapter connected)"
    )
    parser.add_argument(
        "--baud", type=_baud, default=DEFAULT_BAUD, help="baud rate (default %(default)s)"
    )
    parser.add_argument(
        "--offset",
        type=_offset,
        default=0,
        help="flash offset for a .bin, such as 0x10000 (default %(default)s)",
    )
    parser.add_argument("--no-stub", action="store_true", help="talk to the ROM loader only")
    parser.add_argument(
        "--before",
        default="default-reset",
        choices=["default-reset", "usb-reset", "no-reset"],
        help="how to reset into the bootloader; no-reset: IO0 jumpered and reset by hand "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--after",
        default="hard-reset",
        choices=["hard-reset", "no-reset"],
        help="what to do after flashing (default %(default)s)",
    )
    parser.set_defaults(handler=run)


def _offset(text: str) -> int:
    try:
        offset = int(text, 0)
    except ValueError:
        offset = -1
    if offset < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a flash offset (like 0x10000)")
    return offset


def _baud(text: str) -> int:
    try:
        baud = int(text, 10)
    except ValueError:
        baud = 0
    if baud <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a baud rate (like {DEFAULT_BAUD})")
    return baud


def _error(message: str, code: int = 1) -> int:
    print(f"securecam: error: {message}", file=sys.stderr)
    return code


def _input_error(exc: FlashInputError) -> int:
    """Bad input: one line, exit code 2."""
    return _error(" ".join(f"{exc.message} {exc.guidance}".split()), USAGE_ERROR)


def run(args: argparse.Namespace) -> int:
    """Check the images, then flash, printing esptool's log and a progress line.

    Exit code 2 with one line for bad input (nothing was sent), 1 with guidance on failure.
    """
    from app.serial.flasher import (
        BUILD_ENV,
        Flasher,
        FlashError,
        FlashInputError,
        load_images,
        missing_optional,
    )

    if args.image is None:
        firmware = CHECKOUT / "firmware"
        if not (firmware / "platformio.ini").is_file():
            return _error(
                "no IMAGE given, and this is not a SecureCam checkout: pass the merged .bin"
                " (securecam-esp32cam.bin) or a PlatformIO build directory",
                USAGE_ERROR,
            )
        args.image = firmware / ".pio" / "build" / BUILD_ENV  # missing: "build it first"
    try:
        images = load_images(args.image, args.offset)  # checked before any port opens
    except FlashInputError as exc:
        return _input_error(exc)
    port = args.port
    if port is not None:
        try:
            serial_port(port)
        except argparse.ArgumentTypeError as exc:
            return _error(f"argument --port: {exc}", USAGE_ERROR)
    else:
        port = detect_board_port()
        if port is None:
            return 1
    for name in missing_optional(args.image):
        print(f"note: {name} not found in the build; flashing without it.", file=sys.stderr)

    last = [-1]

    def progress(done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if percent != last[0]:
            last[0] = percent
            end = "\n" if percent >= 100 else ""
            print(f"\rflashing: {percent:3d} %", end=end, file=sys.stderr, flush=True)

    flasher = Flasher(
        port,
        baud=args.baud,
        no_stub=args.no_stub,
        before=args.before,
        after=args.after,
        on_log=lambda line: None if line.startswith("Writing at") else print(line),
        on_progress=progress,
    )
    try:
        identity = flasher.flash(images)
    except KeyboardInterrupt:
        return _error("interrupted; the board may hold a partial image")
    except FlashInputError as exc:  # the images do not fit the flash the board reports
        return _input_error(exc)
    except FlashError as exc:
        if last[0] not in (-1, 100):
            print(file=sys.stderr)
        return _error(f"{exc.message}\n{exc.guidance}" if exc.guidance else exc.message)
    print(f"Flashed {identity.description} ({identity.mac}) on {port}.")
    return 0
