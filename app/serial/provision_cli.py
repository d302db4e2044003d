"""`securecam provision`: register a camera and provision it over USB serial in one go.

The key goes from the registry to the camera and is never printed; the camera's copy is
checked by fingerprint. On any failure nothing stays registered (app/serial/provisioner.py).

Without --port it uses the one likely ESP32 adapter connected, as `securecam flash` does;
without a port in --server, the receiver port saved in the window's Settings (else 8888),
so the camera streams to where the window, or `securecam serve`, listens. The provisioning
itself (the registry, the serial console) is imported by `run`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.cli_common import (
    common_options,
    detect_board_port,
    host_port,
    saved_receiver_port,
    serial_port,
)
from app.paths import config_dir
from app.protocol.endpoints import DEFAULT_PORT
from app.serial import camera_settings
from app.serial.camera_settings import CameraSettings, Setting

if TYPE_CHECKING:
    from app.serial.provisioner import Step

# app.serial.provisioner.DEFAULT_TIMEOUTS.console (not imported to parse a command line; a
# test holds them equal).
CONSOLE_TIMEOUT_S = 10.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `provision` on the top-level sub-command set."""
    parser = subparsers.add_parser(
        "provision",
        parents=[common_options()],
        help="register a camera and set it up over USB serial",
        description=(
            "Register a camera with a new key and give it, over its USB serial port, the "
            "Wi-Fi network, this computer's address, its name and the key."
        ),
    )
    parser.add_argument(
        "--port",
        type=serial_port,
        help="the camera's serial port, such as /dev/ttyUSB0 (default: the only likely ESP32 "
        "adapter connected)",
    )
    parser.add_argument("--name", required=True, help="the device name to register it under")
    parser.add_argument("--wifi-ssid", required=True, metavar="SSID", help="a 2.4 GHz network")
    parser.add_argument(
        "--wifi-password-file",
        metavar="FILE",
        help="read the Wi-Fi password from FILE's first line ('-' for stdin); without it the "
        "password is asked for on a terminal, or empty (open network) otherwise",
    )
    parser.add_argument(
        "--server",
        type=host_port,
        metavar="HOST[:PORT]",
        help="where the camera streams to (default: this computer's first LAN address; the "
        f"port defaults to the one saved in the window's Settings, else {DEFAULT_PORT})",
    )
    defaults = CameraSettings()
    for name, setting in camera_settings.described():  # one option per camera setting
        default = getattr(defaults, name)
        parser.add_argument(
            setting.option,
            dest=name,
            type=_parser(setting),
            default=default,
            help=f"{setting.describe()} (default {setting.show(default)})",
        )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="replace an existing registration of NAME (its old key stops working)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=CONSOLE_TIMEOUT_S,
        metavar="SECONDS",
        help="how long to wait for the camera's console (default %(default)g)",
    )
    parser.add_argument(
        "--no-reboot", dest="reboot", action="store_false", help="do not restart the camera"
    )
    parser.set_defaults(handler=run)


def _parser(setting: Setting) -> Callable[[str], object]:
    """An argparse `type` for `setting`: its own parser, with its range in the error."""

    def parse(text: str) -> object:
        try:
            return setting.parse(text)
        except ValueError:
            choose = "choose one of " if setting.choices is not None else ""
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {setting.label}: {choose}{setting.range_text()}"
            ) from None

    return parse


def camera(args: argparse.Namespace) -> CameraSettings:
    """The camera settings the command line gives (each option's default otherwise)."""
    return CameraSettings(**{name: getattr(args, name) for name, _ in camera_settings.described()})


def parse_server(text: str | None, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """HOST[:PORT] (PORT: `default_port` if not given); None means this computer's first
    IPv4 LAN address."""
    if text is None:
        from app.services.network import lan_addresses  # Qt networking: load only if needed

        ipv4 = [address for address in lan_addresses() if ":" not in address]
        if not ipv4:
            raise ValueError(
                "this computer has no LAN address the camera could reach: give --server HOST"
            )
        return ipv4[0], default_port
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        return text.strip(), default_port
    if not host or ":" in host:
        raise ValueError("--server: HOST[:PORT] with a DNS name or IPv4 address (no IPv6)")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"--server: the port {port_text!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise ValueError("--server: the port is 1-65535")
    return host, port


def read_password(path: str | None, ssid: str) -> str:
    """The Wi-Fi password: FILE's first line, a getpass prompt on a TTY, else empty."""
    if path is not None:
        try:
            if path == "-":
                line = sys.stdin.readline()
            else:
                with open(path, encoding="utf-8") as f:
                    line = f.readline()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the Wi-Fi password file {path}: {exc}") from None
        return line.rstrip("\r\n")
    if sys.stdin.isatty():
        return getpass.getpass(f"Wi-Fi password for {ssid!r} (empty for an open network): ")
    print("No --wifi-password-file and no terminal to ask on: joining as an open network.")
    return ""


def run(args: argparse.Namespace) -> int:
    """Handler of `securecam provision`; 0 on success, 1 with `securecam: error: ...`."""
    from app.devices.registry import Registry
    from app.serial.provisioner import (
        NameTaken,
        ProvisionError,
        ProvisionRequest,
        ProvisionTimeouts,
        provision,
    )

    directory = config_dir(getattr(args, "config_dir", None))
    saved_port = saved_receiver_port(directory)
    try:
        server_host, server_port = parse_server(
            args.server, DEFAULT_PORT if saved_port is None else saved_port
        )
    except ValueError as exc:
        return _error(str(exc))
    port = args.port
    if port is None:
        port = detect_board_port()
        if port is None:
            return 1
    try:
        password = read_password(args.wifi_password_file, args.wifi_ssid)
    except ValueError as exc:
        return _error(str(exc))
    registry = Registry(directory)

    def show(step: Step, message: str) -> None:
        print(f"  {message}", flush=True)

    found = "" if args.port is not None else " (the only ESP32 adapter found)"
    print(f"Provisioning camera {args.name!r} on {port}{found}:")
    settings = camera(args)
    note = settings.quality_note()
    if note is not None:
        print(f"  Note: {note}.")
    try:
        result = provision(
            port,
            ProvisionRequest(
                name=args.name,
                ssid=args.wifi_ssid,
                password=password,
                server_host=server_host,
                server_port=server_port,
                camera=settings,
            ),
            registry=registry,
            replace=args.replace,
            reboot=args.reboot,
            on_step=show,
            cancel=threading.Event(),
            timeouts=ProvisionTimeouts(console=args.timeout),
        )
    except NameTaken as exc:
        return _error(
            f"{exc.message}: choose another name, or add --replace to give it a new key (its"
            " current key then stops working)"
        )
    except ProvisionError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return _error("cancelled; nothing was left registered")
    info = result.device_info
    print()
    print(f"Camera {result.device_name!r} is provisioned.")
    print(f"  Fingerprint:  {result.fingerprint} (registry and camera agree)")
    print(f"  Streams to:   {result.server_url}")
    print(f"  Wi-Fi:        {result.config.wifi_ssid}")
    print(f"  Firmware:     {info.firmware} {info.version} ({info.hardware})")
    print(f"Start the receiver (`securecam serve --port {server_port}`) if it is not running.")
    return 0


def _error(message: str) -> int:
    print(f"securecam: error: {message}", file=sys.stderr)
    return 1
