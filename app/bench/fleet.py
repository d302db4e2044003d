"""`python -m app.bench.fleet`: the camera side of the throughput benchmark, in its own process.

Runs one real `SimulatedCamera` per device on one event loop, all replaying the same
pre-rendered JPEGs so the sender spends no CPU on encoding. Talks to the benchmark over pipes,
one JSON object per line:

- stdin, first line: ``{"devices": [{"name": ..., "psk": "<hex>"}, ...]}`` (keys never go to
  argv, where other users can read them, and are never printed);
- stdout: ``{"event": "ready", ...}`` once every camera is connected (or the connect timeout
  passed), then one ``{"event": "snapshot", ...}`` per ``snapshot`` line on stdin, and a final
  ``{"event": "stopped", ...}`` after ``stop`` (or end of stdin).

Warnings are collected and reported in the final line instead of being printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import time

from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.session import monotonic_us
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource

CONNECT_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
_MAX_WARNINGS = 20


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.messages) < _MAX_WARNINGS:
            self.messages.append(f"{record.name}: {record.getMessage()}")


def pin(cpus: set[int]) -> bool:
    """Pin this process to `cpus`; False where the OS does not allow or support it."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:
        return False
    return True


def _parse_cpus(text: str) -> set[int]:
    return {int(part) for part in text.split(",") if part.strip()}


def _write(obj: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _snapshot(event: str, cameras: list[SimulatedCamera]) -> dict[str, object]:
    per_camera = {
        camera.device_id: {
            "frames_sent": camera.stats.frames_sent,
            "frames_skipped": camera.stats.frames_skipped,
            "bytes_sent": camera.stats.bytes_sent,
            "connects": camera.stats.connects,
            "connected": camera.connected.is_set(),
            "last_close": camera.stats.last_close,
        }
        for camera in cameras
    }
    return {
        "event": event,
        "wall_us": monotonic_us(),
        "cpu_s": time.process_time(),
        "connected": sum(camera.connected.is_set() for camera in cameras),
        "frames_sent": sum(camera.stats.frames_sent for camera in cameras),
        "frames_skipped": sum(camera.stats.frames_skipped for camera in cameras),
        "bytes_sent": sum(camera.stats.bytes_sent for camera in cameras),
        "cameras": per_camera,
    }


async def _run(args: argparse.Namespace, warnings: _Collect) -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    config = json.loads(await stdin.readline())
    devices = [(d["name"], bytes.fromhex(d["psk"])) for d in config["devices"]]

    size = FrameSize.parse(args.size)
    frames = PrerenderedSource.synthetic(size, count=args.frames).frames
    suite = Suite[args.suite.upper()]
    cameras = []
    for index, (name, psk) in enumerate(devices):
        # Shared frames, each camera starting at a different one.
        offset = index % len(frames)
        source = PrerenderedSource(frames[offset:] + frames[:offset], size.width, size.height)
        cameras.append(
            SimulatedCamera(
                args.url,
                name,
                psk if suite is Suite.NOISE else None,
                source,
                suite=suite,
                fps=args.fps,
                reconnect=False,
            )
        )

    async def start(index: int, camera: SimulatedCamera) -> None:
        # Real cameras are not in lock-step: spread the capture phases over one frame interval.
        await asyncio.sleep(index / len(cameras) / args.fps)
        await camera.run()

    tasks = [asyncio.create_task(start(i, c)) for i, c in enumerate(cameras)]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await asyncio.gather(*(camera.connected.wait() for camera in cameras))
    ready = _snapshot("ready", cameras)
    # The device clock of each camera in this machine's monotonic microseconds: lets the
    # benchmark check the receiver's clock-sync estimate against the truth.
    ready["boot_us"] = {c.device_id: monotonic_us() - c.device_clock() for c in cameras}
    _write(ready)

    while True:
        line = (await stdin.readline()).strip()
        if line == b"snapshot":
            _write(_snapshot("snapshot", cameras))
            continue
        break  # "stop" or end of input
    for camera in cameras:
        camera.stop()
    done, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
    for task in pending:
        task.cancel()
    errors = [repr(t.exception()) for t in done if not t.cancelled() and t.exception()]
    final = _snapshot("stopped", cameras)
    final["errors"] = errors
    final["warnings"] = warnings.count
    final["warning_messages"] = warnings.messages
    _write(final)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench.fleet", description=__doc__)
    parser.add_argument("--url", required=True, help="ws://host:port/camera")
    parser.add_argument("--suite", choices=["noise", "plain"], default="noise")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--size", default="vga", help="frame size name, e.g. vga")
    parser.add_argument("--frames", type=int, default=50, help="distinct pre-rendered frames")
    parser.add_argument("--cpus", type=_parse_cpus, default=set(), help="pin to these CPUs, e.g. 1")
    args = parser.parse_args(argv)
    pin(args.cpus)
    warnings = _Collect()
    root = logging.getLogger()
    root.addHandler(warnings)
    root.setLevel(logging.WARNING)
    asyncio.run(_run(args, warnings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
