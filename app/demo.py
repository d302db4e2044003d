"""`securecam --demo [N]` without a window: a receiver, N demo cameras and live stats."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import TextIO

from app.devices.lookup import credentials_lookup
from app.protocol.session import monotonic_us
from app.receiver.server import CAMERA_PATH, Receiver
from app.sim.demo import DemoFleet

REFRESH_S = 1.0


def run_headless_demo(args: argparse.Namespace) -> int:
    count = args.demo or 1
    try:
        return asyncio.run(headless_demo(count, sys.stdout))
    except KeyboardInterrupt:
        return 0


async def headless_demo(count: int, out: TextIO, *, duration_s: float | None = None) -> int:
    """Stream from `count` demo cameras and print their stats until interrupted."""
    fleet = DemoFleet(count)
    receiver = Receiver(credentials_lookup(fleet.registry), host="127.0.0.1", port=0)
    await receiver.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    url = f"ws://127.0.0.1:{receiver.port}{CAMERA_PATH}"
    out.write(f"SecureCam demo: receiver on {url}, {count} simulated camera(s). Ctrl-C stops.\n")
    fleet.start(url)
    deadline = None if duration_s is None else loop.time() + duration_s
    try:
        while not stop.is_set() and (deadline is None or loop.time() < deadline):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REFRESH_S)
            _print_stats(out, receiver, fleet.names)
    finally:
        await fleet.stop()
        await receiver.stop()
    return 0


def _print_stats(out: TextIO, receiver: Receiver, names: list[str]) -> None:
    now = monotonic_us()
    for name in names:
        snap = receiver.device_stats(name).snapshot(now)
        latency = snap["latency_ms"]
        assert isinstance(latency, dict)
        p50, p99 = latency["p50"], latency["p99"]
        lat = "   -   " if p50 is None else f"{p50:6.2f} / {p99:6.2f}"
        suite = "encrypted" if snap["suite"] == "noise" else snap["suite"] or "-"
        out.write(
            f"{name:<10} {suite:<10} {snap['state']:<10} {snap['fps']:6.1f} fps  "
            f"{snap['frames_received']:>7} frames  {snap['frames_dropped']:>4} dropped  "
            f"capture->decrypted p50/p99 {lat} ms  {snap['resolution'] or ''}\n"
        )
    out.flush()
