"""`securecam flash --port P [--baud B] IMAGE|BUILD_DIR`: write firmware to an ESP32-CAM."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli_common import common_options
from app.serial.flasher import (
    DEFAULT_BAUD,
    Flasher,
    FlashError,
    load_images,
    missing_optional,
)
from app.serial.ports import NO_PORT_HELP, list_ports


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `flash` on the top-level sub-command set."""
    parser = subparsers.add_parser(
        "flash",
        parents=[common_options()],
        help="write the camera firmware over USB serial",
        description=(
            "Write firmware to an ESP32-CAM: a merged .bin (at 0x0 unless --offset) or a"
            " PlatformIO build directory (firmware/.pio/build/esp32cam)."
        ),
    )
    parser.add_argument("image", type=Path, metavar="IMAGE|BUILD_DIR")
    parser.add_argument("--port", help="serial port (default: the only likely ESP32 adapter)")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD, help="default %(default)s")
    parser.add_argument(
        "--offset", type=lambda s: int(s, 0), default=0, help="flash offset for a .bin (0x0)"
    )
    parser.add_argument("--no-stub", action="store_true", help="talk to the ROM loader only")
    parser.add_argument(
        "--before",
        default="default-reset",
        choices=["default-reset", "usb-reset", "no-reset"],
        help="reset into the bootloader (no-reset: IO0 jumpered and reset by hand)",
    )
    parser.add_argument(
        "--after", default="hard-reset", choices=["hard-reset", "no-reset"], help="%(default)s"
    )
    parser.set_defaults(handler=run)


def _error(message: str) -> int:
    print(f"securecam: error: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Flash, printing esptool's log and a progress line; exit 1 with guidance on failure."""
    port = args.port
    if port is None:
        likely = [p for p in list_ports() if p.likely]
        if len(likely) != 1:
            if not likely:
                print(NO_PORT_HELP, file=sys.stderr)
                return _error("no ESP32 serial adapter found; pass --port")
            names = ", ".join(p.device for p in likely)
            return _error(f"several adapters found ({names}); pick one with --port")
        port = likely[0].device
    try:
        images = load_images(args.image, args.offset)
    except FlashError as exc:
        return _error(f"{exc.message}\n{exc.guidance}")
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
    except FlashError as exc:
        if last[0] not in (-1, 100):
            print(file=sys.stderr)
        return _error(f"{exc.message}\n{exc.guidance}" if exc.guidance else exc.message)
    print(f"Flashed {identity.description} ({identity.mac}) on {port}.")
    return 0
