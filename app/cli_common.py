"""What every sub-command shares: `--config-dir`, one-line usage errors, checked addresses.

The argument types here turn bad input into one line that names the value, at parse time:
``securecam serve: error: argument --port: '99999' is not a TCP port (1-65535)``, exit
code 2 (`USAGE_ERROR`, argparse's). Hosts are resolved with `socket.getaddrinfo` while the
command line is parsed, so a typo is reported before anything starts.
"""

from __future__ import annotations

import argparse
import functools
import os
import socket
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from app.protocol.framesize import FrameSize

USAGE_ERROR = 2  # argparse's exit code for a bad command line; used for bad input files too


class CommandLineParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose usage errors are one line, ``PROG: error: MESSAGE`` (exit
    code 2), without the usage summary (``--help`` has it). Sub-command parsers made by
    `add_subparsers` are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {' '.join(message.split())}\n")


def common_options() -> argparse.ArgumentParser:
    """`--config-dir` and `-v`, accepted before the sub-command and after it."""
    parent = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps a value given before the sub-command from being reset to None.
    parent.add_argument(
        "--config-dir",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="registry and settings directory (default: $SECURECAM_HOME if set, else the "
        "platform's, such as ~/.config/securecam)",
    )
    parent.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="also log progress and debug messages on stderr",
    )
    return parent


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Print rows (the first is the header) in columns two spaces apart; the last column is
    not padded, so lines carry no trailing spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))


# -- TCP ports and hosts ------------------------------------------------------------------


Handler = Callable[[argparse.Namespace], int]
# Exception classes, or "module:Class" names of classes in modules too slow to import before
# the command needs them (a class whose module was never imported cannot have been raised).
ErrorClasses = type[Exception] | str | tuple[type[Exception] | str, ...]
ErrorRule = tuple[ErrorClasses, int]


def add_action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_: str
) -> argparse.ArgumentParser:
    """One action of a command (`device add`, `viewer list`...), taking --config-dir too."""
    return actions.add_parser(name, parents=[common_options()], help=help_, description=help_)


def reports_errors(*rules: ErrorRule) -> Callable[[Handler], Handler]:
    """Wrap an action so each (exceptions, exit code) rule, in order, becomes one
    `securecam: error: ...` line and that exit code; anything else propagates.

    A rule's exceptions are classes or "module:Class" names (see `ErrorClasses`).
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(args: argparse.Namespace) -> int:
            try:
                return handler(args)
            except Exception as exc:
                for errors, code in rules:
                    if isinstance(exc, _classes(errors)):
                        print(f"securecam: error: {exc}", file=sys.stderr)
                        return code
                raise

        return wrapper

    return decorate


def _classes(errors: ErrorClasses) -> tuple[type[Exception], ...]:
    """The classes `errors` names, leaving out those of modules not imported (yet)."""
    found: list[type[Exception]] = []
    for item in errors if isinstance(errors, tuple) else (errors,):
        if isinstance(item, str):
            module, _, name = item.partition(":")
            loaded = sys.modules.get(module)
            if loaded is not None:
                found.append(getattr(loaded, name))
        else:
            found.append(item)
    return tuple(found)


def tcp_port(text: str) -> int:
    """A TCP port to connect to, 1-65535."""
    return _port(text, 1)


def listen_port(text: str) -> int:
    """A TCP port to listen on, 0-65535 (0: any free port)."""
    return _port(text, 0)


def _port(text: str, lowest: int) -> int:
    try:
        port = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port number") from None
    if not lowest <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port ({lowest}-65535)")
    return port


def resolve_host(host: str, *, passive: bool = False) -> None:
    """Check that `host` resolves (`passive`: as an address to listen on).

    Raises:
        argparse.ArgumentTypeError: ``cannot resolve host 'HOST'`` and the resolver's reason.
    """
    flags = socket.AI_PASSIVE if passive else 0
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=flags)
    except socket.gaierror as exc:
        raise argparse.ArgumentTypeError(
            f"cannot resolve host {host!r} ({exc.strerror or exc})"
        ) from None
    except ValueError:  # UnicodeError: an empty label or one over 63 characters; a NUL
        raise argparse.ArgumentTypeError(
            f"cannot resolve host {host!r} (not a host name)"
        ) from None


def listen_host(text: str) -> str:
    """An address to listen on: "" or 0.0.0.0 for all IPv4 addresses, :: for all, an
    address of this computer or a name that resolves to one."""
    if text.strip():
        resolve_host(text.strip(), passive=True)
    return text.strip()


def host_port(text: str) -> str:
    """HOST[:PORT] of a server as the camera will reach it (returned as given, to split).

    The host is not resolved here: the camera resolves it on its own network, where a name
    may mean something this computer does not know.
    """
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = text.strip(), ""
    if not host or ":" in host:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not HOST[:PORT] with a DNS name or IPv4 address"
        )
    if sep:
        tcp_port(port)
    return text


def ws_url(text: str) -> str:
    """A ws:// or wss:// URL whose port is 1-65535 and whose host resolves."""
    try:
        parts = urlsplit(text.strip())
    except ValueError as exc:  # e.g. an unbalanced [ in the host
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL ({exc})") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not a ws:// or wss:// URL with a host")
    address = parts.netloc.rpartition("@")[2]
    port = address.rpartition("]")[2] if address.startswith("[") else address
    if ":" in port:
        try:
            tcp_port(port.partition(":")[2])
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    resolve_host(parts.hostname)
    return text.strip()


# -- frame sizes --------------------------------------------------------------------------


def frame_size_names() -> str:
    """Every frame size a command accepts, as typed: "qqvga, qvga, ..., uxga"."""
    return ", ".join(size.name.lower() for size in FrameSize)


def frame_size(text: str) -> FrameSize:
    """A frame size by name, in any case (`vga`, `UXGA`): `FrameSize.parse`, with the valid
    names in the error."""
    try:
        return FrameSize.parse(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a frame size: choose one of {frame_size_names()}"
        ) from None


# -- the window's settings ----------------------------------------------------------------

SETTINGS_FILE = "settings.ini"  # app.services.settings.Settings: Qt's INI format


def saved_receiver_port(directory: Path) -> int | None:
    """The receiver port saved in the window's Settings (`[receiver] port` of
    DIRECTORY/settings.ini), or None if none is saved or it is not a port 1-65535.

    Read without Qt: the file is a plain INI file, and loading Qt would cost a command more
    than the rest of its start-up. A file that cannot be read counts as none saved, as the
    window itself falls back to its defaults.
    """
    import configparser

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(directory / SETTINGS_FILE, encoding="utf-8")
        text = parser.get("receiver", "port", fallback="")
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    text = text.strip().strip('"')
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        return None
    return int(text)


# -- serial ports -------------------------------------------------------------------------


def serial_port(text: str) -> str:
    """A serial port; a device path (/dev/ttyUSB0, not COM3 or a pyserial URL) must exist
    and be a character device."""
    if os.name != "posix" or "/" not in text or "://" in text:
        return text  # COM3, rfc2217://host:port, ...: only opening them tells
    try:
        mode = os.stat(text).st_mode
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(
            f"serial port {text!r} does not exist{_adapters_found()}"
        ) from None
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"cannot use serial port {text!r} ({exc.strerror or exc})"
        ) from None
    if not stat.S_ISCHR(mode):
        raise argparse.ArgumentTypeError(f"{text!r} is not a serial port (not a device)")
    return text


def detect_board_port() -> str | None:
    """The one likely ESP32 adapter's port, for `flash` or `provision` given no --port; else
    None, once stderr says why: no adapter (what to check, then ``securecam: error: no ESP32
    serial adapter found; pass --port``) or several (the error line names them)."""
    from app.serial.ports import NoBoardPort, list_ports, pick_port  # pyserial: only now

    try:
        return pick_port(list_ports())
    except NoBoardPort as exc:
        if exc.guidance:
            print(exc.guidance, file=sys.stderr)
        print(f"securecam: error: {exc.message}", file=sys.stderr)
        return None


def _adapters_found() -> str:
    from app.serial.ports import list_ports  # pyserial: load only when needed

    likely = [port.device for port in list_ports() if port.likely]
    return f" (adapters found: {', '.join(likely)})" if likely else ""
