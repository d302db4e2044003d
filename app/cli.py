"""The `securecam` command line: one sub-command per module, wired here.

Start-up is part of the interface: `securecam --help` and `securecam device list` must answer
about as fast as Python starts (docs: `python -m app.bench.cli_startup`). So building the parser
imports only the sub-command modules' argument definitions; each module imports what its
command runs on (Qt, esptool, numpy, websockets, pycryptodome, aiohttp, cryptography) inside
its handler. tests/test_cli_imports.py holds every module to that.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

# Commands that run until stopped, or talk to a board for a while, log their progress at INFO
# on stderr. The others answer at once on stdout, so they log only warnings and errors unless
# -v is given (see `main`).
PROGRESS_COMMANDS = frozenset({"serve", "sim", "flash", "provision"})


class _VersionAction(argparse.Action):
    """`--version`, reading the installed version only when asked (importlib.metadata is
    slow to load)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from app import __version__

        print(f"securecam {__version__}")  # on stdout, as argparse's own version action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from app.cli_common import CommandLineParser, common_options

    parser = CommandLineParser(
        prog="securecam",
        description="Encrypted, authenticated streaming from ESP32-CAM modules.",
        parents=[common_options()],
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    parser.set_defaults(config_dir=None, verbose=False)  # the sub-commands' --config-dir, -v too
    parser.add_argument(
        "--demo",
        nargs="?",
        type=int,
        const=1,
        default=None,
        metavar="N",
        help="also start N simulated cameras in-process (--demo alone: 1)",
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
    """Run `securecam` with `argv` (default: the process's arguments); the exit code.

    Without a sub-command it opens the window, which logs to stderr and its log file. A
    sub-command logs to stderr only: the commands of `PROGRESS_COMMANDS` (`serve`, `sim`,
    `flash`, `provision`) run until stopped or work a board for a while, so they log their
    progress at INFO; every other command (`device`, `share`, `viewer`) answers at once on
    stdout and logs only warnings and errors. `-v` adds INFO and DEBUG records to either.
    A config directory that cannot be one (`--config-dir` naming a file) is refused first,
    in one line, exit code 2.
    """
    from app.cli_common import USAGE_ERROR
    from app.logs import setup_logging
    from app.paths import config_dir_problem

    parser = build_parser()
    args = parser.parse_args(argv)
    problem = config_dir_problem(args.config_dir)
    if problem is not None:
        print(f"securecam: error: {problem}", file=sys.stderr)
        return USAGE_ERROR
    if args.command is None:
        from app.ui.run import run_app  # Qt loads only for the window

        return run_app(args)  # sets up logging itself, with the log file
    setup_logging(verbose=args.verbose, quiet=args.command not in PROGRESS_COMMANDS)
    return int(args.handler(args) or 0)
