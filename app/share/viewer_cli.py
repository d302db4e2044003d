"""`securecam viewer ...`: the accounts that may watch cameras through the share server.

Generated passwords and player tokens are printed once, by `viewer add`, `viewer passwd` and
`viewer token`; nothing prints or logs a password, a token or a stored hash afterwards.

A password file (`--password-file F`, or `-` for standard input) holds the password on its
first line; one trailing newline is stripped. A regular file that other users can read or
write (any group or other permission bit, as ssh rules for key files) is refused: the
password in it is already shared. Pipes and `/dev/stdin` are taken as they are.

Exit codes: 2 for bad input (names, `--expires`, a password file, a weak password), 1 when
the accounts themselves refuse (unknown viewer, name taken, unreadable file).
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from datetime import UTC, datetime, timedelta

from app.cli_common import USAGE_ERROR, common_options, print_table, reports_errors
from app.cli_common import add_action as _action
from app.devices.registry import Registry, RegistryError
from app.paths import config_dir
from app.protocol.hello import validate_device_id
from app.share.accounts import (
    ALL,
    AllCameras,
    Viewer,
    ViewerError,
    ViewerStore,
    WeakPassword,
    check_password_strength,
    describe_grant,
    validate_viewer_name,
)

# Bad input is a usage error (2), like argparse's; a state the accounts refuse is 1.
_reports_errors = reports_errors(((WeakPassword, ValueError), USAGE_ERROR), (ViewerError, 1))
_RELATIVE = re.compile(r"(\d{1,6})([dh])")
_MAX_PASSWORD_FILE = 4096


class Password:
    """A password read from a file; its repr never shows it (argparse namespaces get printed)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Password(<hidden>)"


# -- argument types (bad input: one line, exit code 2) ---------------------------------------


def viewer_name(text: str) -> str:
    try:
        return validate_viewer_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def camera_list(text: str) -> tuple[str, ...]:
    """`a,b,c`: device names, at least one."""
    names = [part.strip() for part in text.split(",")]
    if not any(names):
        raise argparse.ArgumentTypeError("name at least one camera (or use --all)")
    try:
        return tuple(validate_device_id(name) for name in names)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("device name", "camera name")) from None


def expiry(text: str, *, now: datetime | None = None) -> datetime:
    """`30d`, `12h`, or an ISO date (00:00 UTC that day) or date and time (UTC if no zone);
    it must lie in the future."""
    now = now if now is not None else datetime.now(UTC)
    text = text.strip()
    when: datetime
    if match := _RELATIVE.fullmatch(text):
        count, unit = int(match[1]), match[2]
        if count == 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not in the future")
        when = now + (timedelta(days=count) if unit == "d" else timedelta(hours=count))
    else:
        try:
            when = datetime.fromisoformat(text)  # a date alone: 00:00 that day
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not Nd, Nh or an ISO date (2030-01-31) or date and time"
            ) from None
        when = when.replace(tzinfo=UTC) if when.utcoffset() is None else when.astimezone(UTC)
        if when <= now:
            raise argparse.ArgumentTypeError(f"{text!r} is not in the future")
    return when.replace(microsecond=0)


def password_file(path: str) -> Password:
    """Read a password from `path` (`-`: standard input); see the module doc for the rules."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(_MAX_PASSWORD_FILE + 1)
        else:
            with open(path, "rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                if stat.S_ISREG(mode) and mode & 0o077:
                    raise argparse.ArgumentTypeError(
                        f"password file {path!r} is accessible to other users "
                        f"(mode {stat.S_IMODE(mode):04o}): run `chmod 600 {path}` first"
                    )
                data = f.read(_MAX_PASSWORD_FILE + 1)
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"cannot read password file {path!r} ({exc.strerror or exc})"
        ) from None
    if len(data) > _MAX_PASSWORD_FILE:
        raise argparse.ArgumentTypeError(f"password file {path!r} is too large to hold a password")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError(f"password file {path!r} is not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r")
    try:
        check_password_strength(text)
    except WeakPassword as exc:
        raise argparse.ArgumentTypeError(f"password file {path!r}: {exc}") from None
    return Password(text)


# -- the parser ----------------------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `viewer` and its actions on the top-level sub-command set."""
    parser = subparsers.add_parser(
        "viewer",
        parents=[common_options()],
        help="manage who may watch cameras from other devices",
        description="Add, list and remove viewer accounts; set their passwords, cameras and "
        "player tokens.",
    )
    actions = parser.add_subparsers(dest="viewer_command", metavar="ACTION", required=True)

    add = _action(actions, "add", "add a viewer and print its password (once, if generated)")
    add.add_argument("name", type=viewer_name, help="the new viewer's name")
    _grant_options(add, required=False)
    add.add_argument(
        "--expires",
        type=expiry,
        metavar="WHEN",
        help="the account stops working then: 30d, 12h, or an ISO date (00:00 UTC) or time",
    )
    _password_option(add)
    add.set_defaults(handler=_add)

    listing = _action(actions, "list", "list viewers (never their passwords or tokens)")
    listing.set_defaults(handler=_list)

    remove = _action(actions, "remove", "remove a viewer (its sessions and token stop working)")
    remove.add_argument("name", type=viewer_name, help="the viewer's name")
    remove.set_defaults(handler=_remove)

    passwd = _action(actions, "passwd", "set a new password (its sessions and token end)")
    passwd.add_argument("name", type=viewer_name, help="the viewer's name")
    _password_option(passwd)
    passwd.set_defaults(handler=_passwd)

    token = _action(actions, "token", "print a new player token (once); replaces the old one")
    token.add_argument("name", type=viewer_name, help="the viewer's name")
    token.set_defaults(handler=_token)

    cameras = _action(actions, "cameras", "change which cameras a viewer may watch")
    cameras.add_argument("name", type=viewer_name, help="the viewer's name")
    _grant_options(cameras, required=True)
    cameras.set_defaults(handler=_cameras)


def _grant_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--cameras", type=camera_list, metavar="A,B", help="these cameras (device names)"
    )
    group.add_argument(
        "--all",
        dest="cameras",
        action="store_const",
        const=ALL,
        help="every camera, including ones registered later",
    )


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-file",
        type=password_file,
        metavar="FILE",
        help=f"read the password (at least 12 characters) from FILE (mode 600; - for stdin) "
        f"instead of generating one (max {_MAX_PASSWORD_FILE} bytes)",
    )


# -- the actions ---------------------------------------------------------------------------------


def _store(args: argparse.Namespace) -> ViewerStore:
    return ViewerStore(config_dir(getattr(args, "config_dir", None)))


def _expires(viewer: Viewer) -> str:
    if viewer.expires is None:
        return "never"
    text = viewer.expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"EXPIRED {text}" if viewer.is_expired() else text


def _print_secret(what: str, secret: str) -> None:
    print()
    print(f"{what} - shown only this once (SecureCam keeps only its hash):")
    print()
    print(f"    {secret}")
    print()


def _warn_unregistered(args: argparse.Namespace, cameras: tuple[str, ...] | AllCameras) -> None:
    if isinstance(cameras, AllCameras):
        return
    try:
        registry = Registry(config_dir(getattr(args, "config_dir", None)))
        missing = [name for name in cameras if registry.lookup(name) is None]
    except RegistryError:
        return  # the device commands report a broken registry; granting does not need it
    for name in missing:
        print(
            f"securecam: warning: no camera named {name!r} is registered (yet); "
            "the grant takes effect once it is",
            file=sys.stderr,
        )


@_reports_errors
def _add(args: argparse.Namespace) -> int:
    cameras = args.cameras if args.cameras is not None else ()
    given: Password | None = args.password_file
    issued = _store(args).add(
        args.name,
        password=given.value if given is not None else None,
        cameras=cameras,
        expires=args.expires,
    )
    viewer = issued.viewer
    print(
        f"Added viewer {viewer.name!r}: may watch {describe_grant(viewer.cameras)}; "
        f"expires {_expires(viewer)}."
    )
    if issued.password is not None:
        _print_secret("Password", issued.password)
        print(
            "Give it to the viewer privately. Change it with "
            f"`securecam viewer passwd {viewer.name}`."
        )
    else:
        print("Password: the one in the password file.")
    if viewer.cameras == ():
        print(
            f"It may watch no cameras yet: grant some with "
            f"`securecam viewer cameras {viewer.name} --cameras A,B` (or --all)."
        )
    _warn_unregistered(args, cameras)
    return 0


@_reports_errors
def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    viewers = store.list()
    if not viewers:
        print("No viewers.")
        print(f"Add one with `securecam viewer add NAME --cameras A,B` (accounts: {store.path}).")
        return 0
    rows = [("NAME", "CAMERAS", "EXPIRES", "TOKEN", "CREATED")]
    rows += [
        (
            v.name,
            describe_grant(v.cameras),
            _expires(v),
            "yes" if v.has_token else "no",
            v.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        for v in viewers
    ]
    print_table(rows)
    return 0


@_reports_errors
def _remove(args: argparse.Namespace) -> int:
    viewer = _store(args).remove(args.name)
    print(f"Removed viewer {viewer.name!r}; its password, sessions and token stop working.")
    return 0


@_reports_errors
def _passwd(args: argparse.Namespace) -> int:
    given: Password | None = args.password_file
    store = _store(args)
    had_token = store.get(args.name).has_token
    issued = store.set_password(args.name, given.value if given is not None else None)
    print(f"Changed the password of viewer {issued.viewer.name!r}; its open sessions end.")
    if issued.password is not None:
        _print_secret("New password", issued.password)
    if had_token:
        print(
            "Its player token no longer works either: issue a new one with "
            f"`securecam viewer token {issued.viewer.name}`."
        )
    return 0


@_reports_errors
def _token(args: argparse.Namespace) -> int:
    token = _store(args).new_token(args.name)
    print(f"New player token for viewer {args.name!r}; any earlier token stops working.")
    _print_secret("Token", token)
    print("Players send it as `Authorization: Bearer TOKEN`, or add `?token=TOKEN` to the")
    print("stream URL (where a player cannot set headers: URLs end up in histories and logs).")
    return 0


@_reports_errors
def _cameras(args: argparse.Namespace) -> int:
    store = _store(args)
    before = store.get(args.name)
    viewer = store.set_cameras(args.name, args.cameras)
    if viewer.generation == before.generation:
        print(f"Viewer {viewer.name!r} already may watch {describe_grant(viewer.cameras)}.")
    else:
        print(
            f"Viewer {viewer.name!r} may now watch {describe_grant(viewer.cameras)}; "
            "its open sessions end (it logs in again to see the new set)."
        )
    _warn_unregistered(args, args.cameras)
    return 0
