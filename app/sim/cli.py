"""`securecam sim`: run a simulated ESP32-CAM against a receiver.

The camera (websockets, pycryptodome) and its picture source (numpy) are imported by `run`:
parsing a command line needs neither.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli_common import common_options, frame_size, frame_size_names, ws_url
from app.paths import config_dir
from app.protocol.endpoints import DEFAULT_PORT, camera_url
from app.protocol.framesize import FrameSize

if TYPE_CHECKING:
    from app.devices.registry import DeviceKey
    from app.sim.camera import CameraStats, SimulatedCamera


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim",
        parents=[common_options()],
        help="run a simulated camera",
        description=(
            "Stream like an ESP32-CAM would. The device key comes from the registry in the "
            "config directory, or from --key-file."
        ),
    )
    parser.add_argument(
        "--url",
        type=ws_url,
        default=camera_url("127.0.0.1", DEFAULT_PORT),
        help="the receiver's camera URL (default %(default)s)",
    )
    parser.add_argument("--device", required=True, help="registered device name")
    parser.add_argument(
        "--key-file",
        type=Path,
        metavar="FILE",
        help="file holding the 64-hex-digit device key (default: the registry's)",
    )
    parser.add_argument(
        "--plain", action="store_true", help="send unencrypted (INSECURE; for latency comparison)"
    )
    parser.add_argument(
        "--fps", type=float, default=25.0, help="frame rate cap (default %(default)g)"
    )
    parser.add_argument(
        "--frames", type=int, metavar="N", help="stop after N frames (default: run until stopped)"
    )
    parser.add_argument(
        "--size",
        type=frame_size,
        default=FrameSize.VGA,
        metavar="SIZE",
        help=f"frame size: {frame_size_names()} (default {FrameSize.VGA.name.lower()})",
    )
    parser.add_argument(
        "--source",
        default="synthetic",
        help="'synthetic' or a directory of .jpg files (default %(default)s)",
    )
    parser.add_argument(
        "--retry-rejected",
        action="store_true",
        help="keep retrying after the receiver rejects the device (as firmware does)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.devices.registry import RegistryError
    from app.protocol.hello import Suite
    from app.sim.camera import SimulatedCamera
    from app.sim.sources import SourceError, open_source

    try:
        key = _device_key(args)
        source = open_source(args.source, args.size, label=args.device)
    except (RegistryError, SourceError, ValueError, OSError) as exc:
        print(f"securecam: error: {exc}", file=sys.stderr)
        return 1
    if args.fps <= 0 or (args.frames is not None and args.frames <= 0):
        print("securecam: error: --fps and --frames must be positive", file=sys.stderr)
        return 1
    camera = SimulatedCamera(
        args.url,
        args.device,
        None if key is None else key.raw,
        source,
        suite=Suite.PLAIN if args.plain else Suite.NOISE,
        fps=args.fps,
        frames=args.frames,
        retry_rejected=args.retry_rejected,
    )
    if args.plain:
        print(
            "warning: streaming in PLAIN: frames are neither encrypted nor authenticated",
            file=sys.stderr,
        )
    try:
        stats = asyncio.run(_run(camera))
    except ValueError as exc:
        print(f"securecam: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.device}: sent {stats.frames_sent} frames ({stats.bytes_sent} bytes), "
        f"skipped {stats.frames_skipped}, {stats.connects} connection(s)"
    )
    if camera.rejected:
        code, reason = stats.last_close or (0, "")
        print(
            f"securecam: error: the receiver rejected {args.device}: {reason} ({code})",
            file=sys.stderr,
        )
        return 1
    return 0


def _device_key(args: argparse.Namespace) -> DeviceKey | None:
    from app.devices.registry import DeviceKey, Registry

    if args.key_file is not None:
        return DeviceKey.from_text(args.key_file.read_text())
    if args.plain:
        return None
    return Registry(config_dir(getattr(args, "config_dir", None))).get(args.device).key


async def _run(camera: SimulatedCamera) -> CameraStats:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, camera.stop)
    return await camera.run()
