"""`securecam serve`: the headless receiver, with JSON-lines stats, recording and demo cameras.

It sits one floor above the receiver: it wires the receiver, the registry, the recorder and,
with `--demo`, simulated cameras together. The receiver itself knows nothing of the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import signal
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.cli_common import common_options, listen_host, listen_port, saved_receiver_port
from app.paths import config_dir
from app.protocol.endpoints import DEFAULT_PORT, DEFAULT_SHARE_PORT, camera_url, local_camera_url
from app.protocol.limits import Limits

if TYPE_CHECKING:  # what the receiver runs on is imported by `run`, not to parse a command line
    from app.devices.registry import Registry
    from app.receiver.adapter import Adapter
    from app.receiver.server import Receiver
    from app.share.sharing import Sharing
    from app.sim.demo import DemoFleet

log = logging.getLogger(__name__)
STATS_INTERVAL_S = 1.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        parents=[common_options()],
        help="run the receiver without a window",
        description="Receive, authenticate and decrypt camera streams without a window.",
    )
    parser.add_argument(
        "--host",
        type=listen_host,
        default="0.0.0.0",
        help="address to listen on (default %(default)s: every IPv4 address)",
    )
    parser.add_argument(
        "--port",
        type=listen_port,
        help="TCP port; 0: any free one (default: the port saved in the window's Settings, "
        f"else {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--stats-json",
        metavar="PATH|-",
        help="append one JSON object per line with per-device stats, every second and at exit",
    )
    parser.add_argument(
        "--record",
        metavar="DIR",
        type=Path,
        help="write every frame, unchanged, to DIR/<device>/<session start, UTC>/<seq>.jpg "
        "(files 0600, folders 0700); a write error such as a full disk stops the recording, "
        "not the receiver",
    )
    parser.add_argument(
        "--demo",
        type=int,
        default=0,
        metavar="N",
        help="also run N simulated cameras in-process, with a throwaway registry "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--share",
        action="store_true",
        help="also serve the live streams to authorised viewers over HTTPS "
        "(accounts: `securecam viewer add`; see docs/SHARE.md)",
    )
    parser.add_argument(
        "--share-host",
        type=listen_host,
        default="0.0.0.0",
        metavar="HOST",
        help="address the viewer server listens on (default %(default)s: every IPv4 address)",
    )
    parser.add_argument(
        "--share-port",
        type=listen_port,
        metavar="PORT",
        default=DEFAULT_SHARE_PORT,
        help=f"viewer server's TCP port (default {DEFAULT_SHARE_PORT}; 0: any)",
    )
    parser.add_argument(
        "--no-adapt",
        action="store_true",
        help="never change the cameras' frame size, JPEG quality or frame rate to fit the link "
        "(default: adapt each camera unless `securecam device set NAME --no-adapt`)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=Limits().max_connections,
        metavar="N",
        help="connections that have not proved a device's key yet; each registered camera "
        "also keeps its own (default %(default)s)",
    )
    parser.add_argument(
        "--max-frame-bytes",
        type=int,
        default=Limits().max_frame_bytes,
        metavar="BYTES",
        help="largest frame a camera may send; a larger one closes its connection "
        "(default %(default)s)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.devices.adaptation import adapt_policy
    from app.devices.lookup import credentials_lookup, first_known
    from app.devices.registry import Registry, RegistryError
    from app.paths import log_dir
    from app.receiver.adapter import Adapter
    from app.receiver.server import Receiver
    from app.share.certs import CertificateError
    from app.share.sharing import Sharing
    from app.sim.demo import DemoFleet

    directory = config_dir(getattr(args, "config_dir", None))
    if args.port is None:
        saved = saved_receiver_port(directory)
        args.port = DEFAULT_PORT if saved is None else saved
        if saved is not None:
            log.info("port %d, saved in the window's Settings (--port overrides it)", saved)
    registry = Registry(directory)
    try:
        names = [device.name for device in registry.list()]
    except RegistryError as exc:
        print(f"securecam: error: {exc}", file=sys.stderr)
        return 1
    if not names and not args.demo:
        log.warning("no devices registered yet: add one with `securecam device add NAME`")
    limits = Limits(max_connections=args.max_connections, max_frame_bytes=args.max_frame_bytes)
    fleet = DemoFleet(args.demo) if args.demo > 0 else None
    lookup = credentials_lookup(registry)
    if fleet is not None:
        lookup = first_known(credentials_lookup(fleet.registry), lookup)
    receiver = Receiver(lookup, host=args.host, port=args.port, limits=limits)
    registries = [registry] if fleet is None else [fleet.registry, registry]
    adapter = Adapter(receiver, enabled=not args.no_adapt, policy=adapt_policy(*registries))
    sharing = None
    if args.share:
        demo_names = [] if fleet is None else list(fleet.names)
        sharing = Sharing(
            registry.directory,
            log_dir(getattr(args, "config_dir", None)),
            lambda: _known(registry) + demo_names,
            host=args.share_host,
            port=args.share_port,
        )
    try:
        with _stats_stream(args.stats_json) as stats_out:
            return asyncio.run(
                serve(
                    receiver,
                    registry,
                    stats_out,
                    args.record,
                    fleet=fleet,
                    sharing=sharing,
                    adapter=adapter,
                )
            )
    except CertificateError as exc:
        print(f"securecam: error: cannot share: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"securecam: error: {_port_in_use(exc, args)}", file=sys.stderr)
        else:
            print(f"securecam: error: {exc}", file=sys.stderr)
        return 1


def _port_in_use(exc: OSError, args: argparse.Namespace) -> str:
    if isinstance(exc, _SharePortInUse):
        return (
            f"the viewer server's port {args.share_port} is already in use; "
            "choose another --share-port"
        )
    return f"port {args.port} is already in use; stop the other receiver or choose another --port"


class _SharePortInUse(OSError):
    """The viewer server could not bind (the receiver could)."""


@contextlib.contextmanager
def _stats_stream(target: str | None):  # noqa: ANN202 - a generator-based context manager
    if target is None:
        yield None
    elif target == "-":
        yield sys.stdout
    else:
        with open(target, "a", encoding="utf-8", buffering=1) as stream:
            yield stream


async def serve(
    receiver: Receiver,
    registry: Registry,
    stats_out: TextIO | None,
    record_dir: Path | None,
    stop: asyncio.Event | None = None,
    *,
    fleet: DemoFleet | None = None,
    sharing: Sharing | None = None,
    adapter: Adapter | None = None,
) -> int:
    """Run until SIGINT/SIGTERM (or `stop`), then shut down and write the final stats."""
    from app.receiver.recorder import Recorder

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    recorder = None
    if record_dir is not None:
        recorder = Recorder(record_dir)
        try:
            await recorder.start()
        except OSError as exc:
            print(
                f"securecam: error: cannot record to {record_dir}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
        receiver.add_frame_sink(recorder)
    started = time.monotonic()
    await receiver.start()
    if sharing is not None:
        try:
            await _start_sharing(sharing, receiver)
        except BaseException:
            await receiver.stop()
            raise
    if adapter is not None:
        adapter.start()
    known = [] if fleet is None else list(fleet.names)
    if fleet is not None:
        fleet.start(local_camera_url(receiver.host, receiver.port))
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATS_INTERVAL_S)
            await receiver.revalidate()  # the registry may have been edited meanwhile
            if adapter is not None:
                adapter.refresh()
            if stats_out is not None:
                write_stats(stats_out, receiver, _known(registry) + known, started, adapter)
    finally:
        if adapter is not None:
            await adapter.stop()
        if sharing is not None:
            await sharing.stop()
        if fleet is not None:
            await fleet.stop()
        await receiver.stop()
        if recorder is not None:
            await recorder.stop()
            # frames_written counts files on disk, so this line is what the folder holds
            if recorder.stopped_reason is None:
                log.info("recorded %d frames in %s", recorder.frames_written, record_dir)
            else:
                log.warning(
                    "recorded %d frames in %s, then recording stopped: %s",
                    recorder.frames_written,
                    record_dir,
                    recorder.stopped_reason,
                )
        if stats_out is not None:
            write_stats(stats_out, receiver, _known(registry) + known, started, adapter, final=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    return 0


async def _start_sharing(sharing: Sharing, receiver: Receiver) -> None:
    sharing.attach(receiver)
    try:
        await sharing.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise _SharePortInUse(exc.errno, exc.strerror) from None
        raise
    assert sharing.certificate is not None
    from app.services.network import lan_addresses  # QtNetwork: loaded only when sharing

    for url in sharing.urls(lan_addresses()):
        log.info("viewers open %s", url)
    log.info("certificate fingerprint (SHA-256): %s", sharing.certificate.fingerprint)
    if not sharing.store.list():
        log.warning("no viewers yet: add one with `securecam viewer add NAME`")


def _known(registry: Registry) -> list[str]:
    from app.devices.registry import RegistryError

    try:
        return [device.name for device in registry.list()]
    except RegistryError:
        return []  # a registry being edited by hand must not stop the stats


def stats_document(
    receiver: Receiver,
    registered: Iterable[str],
    started: float,
    adapter: Adapter | None = None,
    *,
    final: bool = False,
) -> dict[str, object]:
    """One stats line: every registered or seen device, connected or not; `adapting` says
    whether adaptive quality is on for it, `adapted` whether it changed its settings."""
    from app.protocol.clock import monotonic_us

    now_us = monotonic_us()
    names = sorted(set(registered) | set(receiver.stats))
    devices = []
    for name in names:
        snapshot = receiver.device_stats(name).snapshot(now_us)
        snapshot["adapting"] = adapter is not None and adapter.adapting(name)
        snapshot["adapted"] = adapter is not None and adapter.adapted(name)
        devices.append(snapshot)
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "uptime_s": round(time.monotonic() - started, 3),
        "final": final,
        "listen": camera_url(receiver.host or "0.0.0.0", receiver.port),
        "connections": receiver.connection_count,
        "connections_rejected": receiver.connections_rejected,
        "devices": devices,
    }


def write_stats(
    out: TextIO,
    receiver: Receiver,
    registered: Iterable[str],
    started: float,
    adapter: Adapter | None = None,
    final: bool = False,
) -> None:
    document = stats_document(receiver, registered, started, adapter, final=final)
    out.write(json.dumps(document) + "\n")
    out.flush()
