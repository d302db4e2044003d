"""`securecam device ...`: register cameras, show their fingerprints, set their suite policy
and how the app may adapt their quality to the link.

Keys are printed only by `device add` and `device show --key`, and never logged.
"""

from __future__ import annotations

import argparse
import sys

from app.cli_common import add_action as _action
from app.cli_common import (
    common_options,
    frame_size,
    frame_size_names,
    print_table,
    reports_errors,
)
from app.devices.registry import (
    FPS_CAP_MAX,
    FPS_CAP_MIN,
    KEEP,
    Device,
    Registry,
    RegistryError,
    describe_pins,
)
from app.paths import config_dir
from app.protocol.framesize import JPEG_QUALITY_MAX, JPEG_QUALITY_MIN, FrameSize

_reports_errors = reports_errors(((RegistryError, ValueError), 1))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `device` and its actions on the top-level sub-command set."""
    parser = subparsers.add_parser(
        "device",
        parents=[common_options()],
        help="register cameras and manage their keys",
        description="Register cameras, show their key fingerprints and set their suite policy.",
    )
    actions = parser.add_subparsers(dest="device_command", metavar="ACTION", required=True)

    add = _action(actions, "add", "register a camera and print its new key")
    add.add_argument("name", help="the camera's device name (as configured in its firmware)")
    add.add_argument(
        "--allow-plain",
        action="store_true",
        help="also accept unencrypted streams from it (INSECURE: latency comparison only)",
    )
    add.set_defaults(handler=_add)

    listing = _action(actions, "list", "list registered cameras")
    listing.set_defaults(handler=_list)

    show = _action(actions, "show", "show one camera's details")
    show.add_argument("name", help="the camera's device name")
    show.add_argument("--key", action="store_true", help="also print the secret key")
    show.set_defaults(handler=_show)

    remove = _action(actions, "remove", "unregister a camera (its key stops working)")
    remove.add_argument("name", help="the camera's device name")
    remove.set_defaults(handler=_remove)

    rename = _action(actions, "rename", "rename a camera, keeping its key")
    rename.add_argument("old", help="the camera's device name now")
    rename.add_argument("new", help="its new name")
    rename.set_defaults(handler=_rename)

    set_ = _action(
        actions,
        "set",
        "change a camera's suite policy, quality adaptation or pinned settings "
        "(what is not given stays as it is)",
    )
    set_.add_argument("name", help="the camera's device name")
    policy = set_.add_mutually_exclusive_group()
    policy.add_argument(
        "--allow-plain",
        dest="allow_plain",
        action="store_true",
        help="accept unencrypted streams too (INSECURE: latency comparison only)",
    )
    policy.add_argument(
        "--no-allow-plain",
        dest="allow_plain",
        action="store_false",
        help="accept encrypted streams only (the default for a new camera)",
    )
    adapt = set_.add_mutually_exclusive_group()
    adapt.add_argument(
        "--adapt",
        dest="adapt",
        action="store_const",
        const=True,
        help="let the app lower the camera's frame size, JPEG quality and frame rate when "
        "the link cannot carry them, and raise them again when it can (the default for a "
        "new camera)",
    )
    adapt.add_argument(
        "--no-adapt",
        dest="adapt",
        action="store_const",
        const=False,
        help="never change the camera's settings to suit the link (it goes back to its own)",
    )
    set_.add_argument(
        "--pin-size",
        metavar="SIZE|auto",
        type=pin_size,
        help="fix the frame size, which adaptation then never changes: one of "
        f"{frame_size_names()}; auto lets adaptation choose (default: keep it as it is; a new "
        "camera has auto)",
    )
    set_.add_argument(
        "--pin-quality",
        metavar="Q|auto",
        type=pin_quality,
        help=f"fix the JPEG quality, {JPEG_QUALITY_MIN} (best, largest) to {JPEG_QUALITY_MAX}"
        " (smallest); auto lets adaptation choose (default: keep it as it is; a new camera has "
        "auto)",
    )
    set_.add_argument(
        "--pin-fps",
        metavar="N|auto",
        type=pin_fps,
        help=f"fix the frame-rate cap, {FPS_CAP_MIN} to {FPS_CAP_MAX} frames per second; "
        "auto lets adaptation choose (default: keep it as it is; a new camera has "
        "auto)",
    )
    set_.set_defaults(
        handler=_set,
        allow_plain=None,
        adapt=KEEP,
        pin_size=KEEP,
        pin_quality=KEEP,
        pin_fps=KEEP,
        usage_error=set_.error,
    )


# -- pinned settings on the command line: a value, or `auto` for unpinned (None) ----------

AUTO = "auto"


def _is_auto(text: str) -> bool:
    return text.strip().lower() == AUTO


def pin_size(text: str) -> FrameSize | None:
    """A frame-size name in any case (`vga`, as `securecam sim --size` takes), or `auto`
    (None)."""
    if _is_auto(text):
        return None
    try:
        return frame_size(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, or auto") from None


def pin_quality(text: str) -> int | None:
    """A JPEG quality, 4-63, or `auto` (None)."""
    return _pin_number(
        text,
        JPEG_QUALITY_MIN,
        JPEG_QUALITY_MAX,
        f"is not a JPEG quality: choose {JPEG_QUALITY_MIN} (best) to {JPEG_QUALITY_MAX}, or auto",
    )


def pin_fps(text: str) -> int | None:
    """A frame-rate cap, 1-254, or `auto` (None)."""
    return _pin_number(
        text,
        FPS_CAP_MIN,
        FPS_CAP_MAX,
        f"is not a frame-rate cap: choose {FPS_CAP_MIN} to {FPS_CAP_MAX} frames per second, "
        "or auto",
    )


def _pin_number(text: str, low: int, high: int, problem: str) -> int | None:
    if _is_auto(text):
        return None
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} {problem}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text!r} {problem}")
    return value


def _registry(args: argparse.Namespace) -> Registry:
    return Registry(config_dir(getattr(args, "config_dir", None)))


def _policy(device: Device) -> str:
    return "plain allowed (INSECURE)" if device.allow_plain else "encrypted only"


def _adaptation(device: Device) -> str:
    return "on" if device.adapt else "off"


def _warn_plain(name: str) -> None:
    print(
        f"securecam: warning: plain streams from {name!r} are neither encrypted nor "
        "authenticated: anyone on the network can watch them or inject frames. They exist "
        "only to compare latency with encryption; turn them off with "
        f"`securecam device set {name} --no-allow-plain`.",
        file=sys.stderr,
    )


@_reports_errors
def _add(args: argparse.Namespace) -> int:
    device = _registry(args).add(args.name, allow_plain=args.allow_plain)
    print(f"Registered device {device.name!r} ({_policy(device)}).")
    print()
    print(
        "Device key - `device list` and `device show` hide it; "
        f"`securecam device show {device.name} --key` prints it again."
    )
    print("Paste it into the camera's configuration and keep it safe:")
    print()
    print(f"    {device.key.to_text()}")
    print()
    print(f"Fingerprint: {device.key.fingerprint}")
    print("  (the camera derives the same one from its key: compare them to check the paste)")
    print()
    print("Next step:")
    print(f"  simulated camera:  securecam sim --device {device.name}")
    print(
        f"  ESP32-CAM:         provision the firmware with device name {device.name!r} and this key"
    )
    if device.allow_plain:
        _warn_plain(device.name)
    return 0


@_reports_errors
def _list(args: argparse.Namespace) -> int:
    registry = _registry(args)
    devices = registry.list()
    if not devices:
        print("No devices registered.")
        print(f"Add one with `securecam device add NAME` (registry: {registry.path}).")
        return 0
    rows = [("NAME", "SUITE POLICY", "ADAPT", "PINNED", "FINGERPRINT", "CREATED")]
    rows += [
        (d.name, _policy(d), _adaptation(d), describe_pins(d.pins), d.key.fingerprint, d.created)
        for d in devices
    ]
    print_table(rows)
    return 0


@_reports_errors
def _show(args: argparse.Namespace) -> int:
    registry = _registry(args)
    device = registry.get(args.name)
    print(f"Name:          {device.name}")
    print(f"Suite policy:  {_policy(device)}")
    print(f"Adaptation:    {_adaptation_detail(device)}")
    print(f"Pinned:        {describe_pins(device.pins)}")
    print(f"Fingerprint:   {device.key.fingerprint}")
    print(f"Created:       {device.created}")
    print(f"Registry:      {registry.path}")
    if args.key:
        print(f"Key:           {device.key.to_text()}")
    else:
        print("Key:           hidden (add --key to print it)")
    return 0


@_reports_errors
def _remove(args: argparse.Namespace) -> int:
    device = _registry(args).remove(args.name)
    print(
        f"Removed device {device.name!r} (fingerprint {device.key.fingerprint}); "
        "the receiver no longer accepts its key."
    )
    return 0


@_reports_errors
def _rename(args: argparse.Namespace) -> int:
    device = _registry(args).rename(args.old, args.new)
    print(f"Renamed device {args.old!r} to {device.name!r}; its key is unchanged.")
    print(f"The camera sends its name when it connects: set it to {device.name!r} there too.")
    return 0


def _adaptation_detail(device: Device) -> str:
    if device.adapt:
        return "on (the app lowers what is not pinned when the link cannot carry it)"
    return "off (the camera keeps its own settings, or the pinned ones)"


@_reports_errors
def _set(args: argparse.Namespace) -> int:
    adaptation = {
        "adapt": args.adapt,
        "frame_size": args.pin_size,
        "quality": args.pin_quality,
        "fps_cap": args.pin_fps,
    }
    adapting = any(value is not KEEP for value in adaptation.values())
    if args.allow_plain is None and not adapting:
        args.usage_error(
            "nothing to change: give --allow-plain or --no-allow-plain, --adapt or --no-adapt, "
            "--pin-size, --pin-quality or --pin-fps"
        )
    registry = _registry(args)
    if args.allow_plain is not None:
        device = registry.set_allow_plain(args.name, args.allow_plain)
        print(f"Device {device.name!r}: {_policy(device)}.")
        if device.allow_plain:
            _warn_plain(device.name)
    if adapting:
        device = registry.set_adaptation(
            args.name,
            adapt=args.adapt,
            frame_size=args.pin_size,
            quality=args.pin_quality,
            fps_cap=args.pin_fps,
        )
        print(
            f"Device {device.name!r}: quality adaptation {_adaptation(device)}; "
            f"pinned: {describe_pins(device.pins)}."
        )
    return 0
