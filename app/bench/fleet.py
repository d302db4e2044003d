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

`CameraProcess` is the other end: the benchmark starts this module with it and reads its
lines as `Snapshot`s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import sys
import time
from dataclasses import dataclass, field

from app.bench import BenchError
from app.bench.host import child_env, cpu_list, parse_cpus, pin
from app.bench.results import OMIT_NONE, from_json, to_json
from app.protocol.clock import monotonic_us
from app.protocol.endpoints import CAMERA_PATH
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.timeline import FrameTimeline
from app.sim.camera import SimulatedCamera
from app.sim.sources import PrerenderedSource

CONNECT_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
READY_TIMEOUT_S = 60.0  # the benchmark's wait for "ready": beyond the cameras' own timeout
REPLY_TIMEOUT_S = 15.0
_MAX_WARNINGS = 20


@dataclass(slots=True)
class CameraCounts:
    frames_sent: int
    frames_skipped: int
    bytes_sent: int
    connects: int
    connected: bool
    last_close: list[int | str] | None  # [close code, reason]


@dataclass(slots=True)
class Snapshot:
    """One line from the camera process: its clocks and counters at one moment."""

    event: str  # "ready", "snapshot" or "stopped"
    wall_us: int  # this machine's monotonic clock
    cpu_s: float  # the camera process's CPU time
    connected: int
    frames_sent: int
    frames_skipped: int
    bytes_sent: int
    cameras: dict[str, CameraCounts]
    # "ready" only: each camera's device clock zero on this machine's monotonic clock.
    boot_us: dict[str, int] | None = field(default=None, metadata=OMIT_NONE)
    # "stopped" only: task errors and the warnings logged (count, first few).
    errors: list[str] | None = field(default=None, metadata=OMIT_NONE)
    warnings: int | None = field(default=None, metadata=OMIT_NONE)
    warning_messages: list[str] | None = field(default=None, metadata=OMIT_NONE)

    def camera_problems(self) -> dict[str, list[int | str] | None]:
        """How each camera that did not stay on its one connection last closed."""
        return {
            name: camera.last_close
            for name, camera in self.cameras.items()
            if camera.connects != 1 or camera.last_close is not None
        }

    def true_timeline(self, timeline: FrameTimeline) -> FrameTimeline | None:
        """`timeline` with its camera's true clock offset ("ready" line's boot times) in place
        of the receiver's estimate: its latencies are then exact. None for an unknown camera."""
        boot = (self.boot_us or {}).get(timeline.device)
        if boot is None:
            return None
        # The device clock reads app clock - boot, so device minus app clock is -boot.
        return dataclasses.replace(timeline, clock_offset_us=-boot, clock_error_us=0)

    def offset_error_us(self, timeline: FrameTimeline) -> int | None:
        """How far the receiver's clock-offset estimate for `timeline` was from the truth."""
        true = self.true_timeline(timeline)
        if true is None or timeline.clock_offset_us is None or true.clock_offset_us is None:
            return None
        return abs(timeline.clock_offset_us - true.clock_offset_us)

    def cpu_percent_since(self, first: Snapshot) -> float:
        """The camera process's CPU time from `first` to this one, in % of one core."""
        return (self.cpu_s - first.cpu_s) / ((self.wall_us - first.wall_us) / 1e6) * 100


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.messages) < _MAX_WARNINGS:
            self.messages.append(f"{record.name}: {record.getMessage()}")


def _write(snapshot: Snapshot) -> None:
    sys.stdout.write(json.dumps(to_json(snapshot)) + "\n")
    sys.stdout.flush()


def _snapshot(event: str, cameras: list[SimulatedCamera]) -> Snapshot:
    per_camera = {
        camera.device_id: CameraCounts(
            camera.stats.frames_sent,
            camera.stats.frames_skipped,
            camera.stats.bytes_sent,
            camera.stats.connects,
            camera.connected.is_set(),
            None if camera.stats.last_close is None else list(camera.stats.last_close),
        )
        for camera in cameras
    }
    return Snapshot(
        event,
        monotonic_us(),
        time.process_time(),
        sum(camera.connected.is_set() for camera in cameras),
        sum(camera.stats.frames_sent for camera in cameras),
        sum(camera.stats.frames_skipped for camera in cameras),
        sum(camera.stats.bytes_sent for camera in cameras),
        per_camera,
    )


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
    ready.boot_us = {c.device_id: monotonic_us() - c.device_clock() for c in cameras}
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
    final.errors = errors
    final.warnings = warnings.count
    final.warning_messages = warnings.messages
    _write(final)


class CameraProcess:
    """The benchmark's end of a `python -m app.bench.fleet` process and its line protocol."""

    def __init__(self, process: asyncio.subprocess.Process, suite: Suite) -> None:
        self.process = process
        self.suite = suite

    @classmethod
    async def start(
        cls,
        url: str,
        suite: Suite,
        fps: float,
        size: FrameSize,
        frames: int,
        cpus: set[int],
    ) -> CameraProcess:
        """Start the cameras' process (pinned to `cpus`, if any); it waits for `send_devices`."""
        command = [
            sys.executable,
            "-m",
            "app.bench.fleet",
            "--url",
            url,
            "--suite",
            suite.name.lower(),
            "--fps",
            str(fps),
            "--size",
            size.name.lower(),
            "--frames",
            str(frames),
        ]
        if cpus:
            command += ["--cpus", cpu_list(cpus)]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=child_env(),
            limit=2**20,
        )
        return cls(process, suite)

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def send_devices(self, keys: dict[str, bytes]) -> Snapshot:
        """Hand over the devices (name: PSK) through stdin; returns the "ready" snapshot.

        Raises:
            BenchError: if the process exited or did not answer in time, or no camera connected.
        """
        devices = [{"name": name, "psk": psk.hex()} for name, psk in keys.items()]
        await self.send(json.dumps({"devices": devices}))
        ready = await self.expect("ready", READY_TIMEOUT_S)
        if ready.connected == 0:
            suite = self.suite.name.lower()
            raise BenchError(f"no camera connected ({len(keys)} cameras, {suite})")
        return ready

    async def expect(self, event: str, timeout: float = REPLY_TIMEOUT_S) -> Snapshot:
        """The next line, which must be `event`.

        Raises:
            BenchError: if the process exited, sent something else or nothing within `timeout`.
        """
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                line = await self.process.stdout.readline()
        except TimeoutError:
            raise BenchError(f"camera process did not send {event!r} within {timeout} s") from None
        if not line:
            code = await self.process.wait()
            raise BenchError(f"camera process exited with status {code} before {event!r}")
        try:
            snapshot = from_json(Snapshot, json.loads(line))
        except ValueError as exc:
            raise BenchError(f"camera process sent a line that is not a snapshot: {exc}") from None
        if snapshot.event != event:
            raise BenchError(f"camera process sent {snapshot.event!r}, not {event!r}")
        return snapshot

    async def snapshot(self) -> Snapshot:
        await self.send("snapshot")
        return await self.expect("snapshot")

    async def stop(self) -> Snapshot | None:
        """Stop the cameras; their final snapshot, or None if the process could not say."""
        final = None
        with contextlib.suppress(BenchError, ConnectionError):
            await self.send("stop")
            final = await self.expect("stopped")
        with contextlib.suppress(ProcessLookupError):
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench.fleet", description=__doc__)
    parser.add_argument("--url", required=True, help=f"ws://host:port{CAMERA_PATH}")
    parser.add_argument("--suite", choices=[s.name.lower() for s in Suite], default="noise")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--size", default="vga", help="frame size name, e.g. vga")
    parser.add_argument("--frames", type=int, default=50, help="distinct pre-rendered frames")
    parser.add_argument("--cpus", type=parse_cpus, default=set(), help="pin to these CPUs, e.g. 1")
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
