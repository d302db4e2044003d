"""The `securecam` command line: one sub-command per module, wired here."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from app import __version__
from app.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    from app.cli_common import CommandLineParser

    parser = CommandLineParser(
        prog="securecam",
        description="Encrypted, authenticated streaming from ESP32-CAM modules.",
    )
    parser.add_argument("--version", action="version", version=f"securecam {__version__}")
    parser.add_argument("--config-dir", help="registry and settings directory (or $SECURECAM_HOME)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "--demo",
        nargs="?",
        type=int,
        const=1,
        default=None,
        metavar="N",
        help="also start N simulated cameras in-process (default 1)",
    )
    parser.add_argument(
        "--no-adapt",
        action="store_true",
        help="the window never changes the cameras' frame size, JPEG quality or frame rate to "
        "fit their links (default: it does, for each camera that allows it)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from app import serve as serve_cli
    from app.devices import cli as device_cli
    from app.serial import cli as flash_cli
    from app.serial import provision_cli
    from app.share import share_cli, viewer_cli
    from app.sim import cli as sim_cli

    for module in (serve_cli, sim_cli, device_cli, flash_cli, provision_cli, share_cli, viewer_cli):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from app.ui.run import run_app  # Qt loads only for the window

        return run_app(args)  # sets up logging itself, with the log file
    setup_logging(verbose=args.verbose)
    return int(args.handler(args) or 0)
