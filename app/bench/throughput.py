"""Receiver throughput on one core: a real `Receiver` here, a fleet of cameras in a child process.

The benchmark process (pinned to one CPU) runs the receiver and a consumer task that takes
frames from `Receiver.subscribe()`; `python -m app.bench.fleet` (pinned to the other CPUs) runs
the `SimulatedCamera`s. Both talk real WebSockets over loopback. After a warm-up, a window is
measured: counters are differenced across it and latencies are taken from the stats ring for
the frames decrypted inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from app.bench.fleet import pin
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.session import Credentials, monotonic_us
from app.receiver.server import Receiver
from app.receiver.stats import RING_SIZE, latency_summary

LATENCY_RATIO_TARGET = 1.10
READY_TIMEOUT_S = 60.0
REPLY_TIMEOUT_S = 15.0
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class BenchError(RuntimeError):
    """The benchmark itself could not run (the camera process died, nothing connected...)."""


@dataclass(frozen=True, slots=True)
class FleetSettings:
    cameras: tuple[int, ...] = (1, 8, 32)
    suites: tuple[Suite, ...] = (Suite.PLAIN, Suite.NOISE)
    seconds: float = 8.0
    warmup: float = 1.0
    fps: float = 25.0
    size: FrameSize = FrameSize.VGA
    frames: int = 50  # distinct pre-rendered frames the cameras cycle through


@dataclass(frozen=True, slots=True)
class CpuPlan:
    receiver: set[int]
    cameras: set[int]
    pinned: bool
    note: str

    def to_json(self) -> dict[str, object]:
        return {
            "receiver_cpus": sorted(self.receiver),
            "camera_cpus": sorted(self.cameras),
            "pinned": self.pinned,
            "note": self.note,
        }


def plan_cpus() -> CpuPlan:
    """Receiver on the first allowed CPU, cameras on the rest; pins this process now.

    With a single CPU both share it (the figures then include the cameras' own cost).
    """
    if not hasattr(os, "sched_getaffinity"):
        return CpuPlan(set(), set(), False, "CPU pinning unsupported here: nothing pinned")
    allowed = sorted(os.sched_getaffinity(0))
    first = {allowed[0]}
    if len(allowed) < 2:
        pinned = pin(first)
        return CpuPlan(
            first,
            first,
            pinned,
            f"only CPU {allowed[0]} available: receiver and cameras share it, "
            "so the receiver figures include the cameras' load",
        )
    rest = set(allowed[1:])
    if not pin(first):
        return CpuPlan(set(), set(), False, "could not pin the benchmark process: nothing pinned")
    names = ",".join(map(str, sorted(rest)))
    return CpuPlan(first, rest, True, f"receiver on CPU {allowed[0]}, cameras on CPU {names}")


class _Warnings(logging.Handler):
    """Collects the receiver's warnings; the expected 'PLAIN, INSECURE' notices are not news."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("device %s connected from"):
            return
        self.messages.append(f"{record.name}: {record.getMessage()}")


class _Child:
    """The camera process and its line protocol."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, url: str, suite: Suite, settings: FleetSettings, cpus: set[int]) -> _Child:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")])
        )
        command = [
            sys.executable,
            "-m",
            "app.bench.fleet",
            "--url",
            url,
            "--suite",
            suite.name.lower(),
            "--fps",
            str(settings.fps),
            "--size",
            settings.size.name.lower(),
            "--frames",
            str(settings.frames),
        ]
        if cpus:
            command += ["--cpus", ",".join(map(str, sorted(cpus)))]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=2**20,
        )
        return cls(process)

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def expect(self, event: str, timeout: float = REPLY_TIMEOUT_S) -> dict:
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                line = await self.process.stdout.readline()
        except TimeoutError:
            raise BenchError(f"camera process did not send {event!r} within {timeout} s") from None
        if not line:
            code = await self.process.wait()
            raise BenchError(f"camera process exited with status {code} before {event!r}")
        message = json.loads(line)
        if message.get("event") != event:
            raise BenchError(f"camera process sent {message.get('event')!r}, not {event!r}")
        return message

    async def snapshot(self) -> dict:
        await self.send("snapshot")
        return await self.expect("snapshot")

    async def stop(self) -> dict | None:
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


def _totals(receiver: Receiver) -> dict[str, int]:
    stats = receiver.stats.values()
    return {
        "received": sum(s.frames_received for s in stats),
        "dropped": sum(s.frames_dropped for s in stats),
        "rejected": sum(s.frames_rejected for s in stats),
        "bytes": sum(s.bytes for s in stats),
    }


def _cpu_ticks() -> dict[int, tuple[int, int]] | None:
    """Per CPU (busy, total) clock ticks since boot, from /proc/stat; None where absent."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            lines = stat.readlines()
    except OSError:
        return None
    ticks = {}
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            total = sum(values)
            ticks[int(name[3:])] = (total - values[3] - values[4], total)
    return ticks


def _busy_percent(
    before: dict[int, tuple[int, int]] | None, after: dict[int, tuple[int, int]] | None
) -> dict[str, float]:
    """How busy each CPU was, by anyone, between two `_cpu_ticks` readings."""
    if not before or not after:
        return {}
    out = {}
    for cpu, (busy1, total1) in after.items():
        busy0, total0 = before.get(cpu, (busy1, total1))
        if total1 > total0:
            out[str(cpu)] = round((busy1 - busy0) / (total1 - total0) * 100, 1)
    return out


def _other_load(
    busy: dict[str, float], plan: CpuPlan, receiver_cpu: float, camera_cpu: float
) -> dict[str, float] | None:
    """CPU % used by anything but the two benchmark processes: the receiver's CPU, the rest.

    Only meaningful when the two processes are pinned apart; None otherwise.
    """
    if not busy or not plan.pinned or plan.receiver & plan.cameras:
        return None
    on_receiver = sum(busy.get(str(cpu), 0.0) for cpu in plan.receiver)
    on_cameras = sum(busy.get(str(cpu), 0.0) for cpu in plan.cameras)
    return {
        "receiver_cpus": round(max(0.0, on_receiver - receiver_cpu), 1),
        "camera_cpus": round(max(0.0, on_cameras - camera_cpu), 1),
    }


def _summary(values: Iterable[float]) -> dict[str, float | int | None]:
    return latency_summary(values)


def _latencies(
    receiver: Receiver, start_us: int, end_us: int, boot_us: dict[str, int]
) -> dict[str, object]:
    """Latency figures of the frames decrypted in [start_us, end_us)."""
    total, device, transit, receive, true, offset_error = [], [], [], [], [], []
    in_window = unknown_offset = 0
    for stats in receiver.stats.values():
        for t in stats.timelines:
            if not start_us <= t.decrypted_us < end_us:
                continue
            in_window += 1
            receive.append((t.decrypted_us - t.first_rx_us) / 1000)
            device.append((t.device_send_us - t.device_capture_us) / 1000)
            boot = boot_us.get(t.device)
            if boot is not None:  # the device clock's true zero on this machine's clock
                true.append((t.decrypted_us - (t.device_capture_us + boot)) / 1000)
            latency = t.latency_ms(t.decrypted_us)
            if latency is None:
                unknown_offset += 1
                continue
            total.append(latency)
            sent = t.sent_us
            assert sent is not None
            transit.append((t.first_rx_us - sent) / 1000)
            if boot is not None and t.clock_offset_us is not None:
                offset_error.append(abs(t.clock_offset_us + boot))
    return {
        "frames": in_window,
        "frames_without_clock_offset": unknown_offset,
        "capture_to_decrypted_ms": _summary(total),
        "breakdown_ms": {
            "capture_to_send": _summary(device),
            "send_to_first_rx": _summary(transit),
            "first_rx_to_decrypted": _summary(receive),
        },
        "true_capture_to_decrypted_ms": _summary(true),
        "clock_offset_error_us": {
            "max": max(offset_error, default=None),
            "median": sorted(offset_error)[len(offset_error) // 2] if offset_error else None,
        },
    }


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else 0.0


async def run_config(
    cameras: int, suite: Suite, settings: FleetSettings, plan: CpuPlan
) -> dict[str, object]:
    """One configuration: `cameras` cameras in `suite` for a warm-up, then a measured window."""
    keys = {f"bench{i:02d}": os.urandom(32) for i in range(cameras)}
    registry = {name: Credentials(name, psk, allow_plain=True) for name, psk in keys.items()}
    receiver = Receiver(registry.get, host="127.0.0.1", port=0)
    warnings = _Warnings()
    securecam_log = logging.getLogger("securecam")
    securecam_log.addHandler(warnings)
    propagate, securecam_log.propagate = securecam_log.propagate, False
    consumed = 0

    async def consume() -> None:
        nonlocal consumed
        mailbox = receiver.subscribe()
        while True:
            frame = await mailbox.get()
            if frame.jpeg:
                consumed += 1

    consumer: asyncio.Task[None] | None = None
    child: _Child | None = None
    final: dict | None = None
    try:
        await receiver.start()
        consumer = asyncio.create_task(consume())
        url = f"ws://127.0.0.1:{receiver.port}/camera"
        child = await _Child.start(url, suite, settings, plan.cameras)
        devices = [{"name": name, "psk": psk.hex()} for name, psk in keys.items()]
        await child.send(json.dumps({"devices": devices}))
        ready = await child.expect("ready", READY_TIMEOUT_S)
        if ready["connected"] == 0:
            raise BenchError(f"no camera connected ({cameras} cameras, {suite.name.lower()})")
        await asyncio.sleep(settings.warmup)

        first = await child.snapshot()
        ticks0 = _cpu_ticks()
        start_us, cpu0, rx0, consumed0 = (
            monotonic_us(),
            time.process_time(),
            _totals(receiver),
            consumed,
        )
        await asyncio.sleep(settings.seconds)
        last = await child.snapshot()
        ticks1 = _cpu_ticks()
        end_us, cpu1, rx1, consumed1 = (
            monotonic_us(),
            time.process_time(),
            _totals(receiver),
            consumed,
        )
        connected_at_end = receiver.connection_count
        final = await child.stop()
        child = None
    finally:
        if child is not None:
            await child.stop()
        if consumer is not None:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
        await receiver.stop()
        securecam_log.removeHandler(warnings)
        securecam_log.propagate = propagate

    wall_s = (end_us - start_us) / 1e6
    child_wall_s = (last["wall_us"] - first["wall_us"]) / 1e6
    receiver_cpu = (cpu1 - cpu0) / wall_s * 100
    camera_cpu = (last["cpu_s"] - first["cpu_s"]) / child_wall_s * 100
    busy = _busy_percent(ticks0, ticks1)
    received = rx1["received"] - rx0["received"]
    latency = _latencies(receiver, start_us, end_us, ready.get("boot_us", {}))
    camera_problems = {
        name: cam["last_close"]
        for name, cam in (final or last)["cameras"].items()
        if cam["connects"] != 1 or cam["last_close"] is not None
    }
    return {
        "cameras": cameras,
        "suite": suite.name.lower(),
        "fps_per_camera": settings.fps,
        "window_s": round(wall_s, 3),
        "connected": ready["connected"],
        "connected_at_end": connected_at_end,
        "frames_received": received,
        "frames_per_s": _rate(received, wall_s),
        "expected_frames_per_s": round(cameras * settings.fps, 2),
        "frames_consumed": consumed1 - consumed0,
        "frames_dropped": rx1["dropped"] - rx0["dropped"],
        "frames_rejected": rx1["rejected"] - rx0["rejected"],
        "megabytes_per_s": round((rx1["bytes"] - rx0["bytes"]) / wall_s / 1e6, 2),
        "frames_sent": last["frames_sent"] - first["frames_sent"],
        "frames_sent_per_s": _rate(last["frames_sent"] - first["frames_sent"], child_wall_s),
        "frames_skipped": last["frames_skipped"] - first["frames_skipped"],
        "receiver_cpu_percent": round(receiver_cpu, 1),
        "camera_process_cpu_percent": round(camera_cpu, 1),
        # Everyone's load per CPU: well above the two processes' own share means the
        # figures were taken on a machine that was busy with something else too.
        "cpu_busy_percent": busy,
        "other_load_percent": _other_load(busy, plan, receiver_cpu, camera_cpu),
        "latency": latency,
        "latency_ring_limited": latency["frames"] >= RING_SIZE,
        "camera_problems": camera_problems,
        "camera_errors": (final or {}).get("errors", []),
        "camera_warnings": (final or {}).get("warning_messages", []),
        "receiver_warnings": warnings.messages[:20],
    }


def _ratio(a: object, b: object) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b <= 0:
        return None
    return round(a / b, 3)


def ratios(configs: list[dict[str, object]]) -> list[dict[str, object]]:
    """Encrypted over plain, per camera count, wherever both suites were measured."""
    by_key = {(c["cameras"], c["suite"]): c for c in configs}
    out = []
    for count in sorted({c["cameras"] for c in configs}):  # type: ignore[type-var]
        noise, plain = by_key.get((count, "noise")), by_key.get((count, "plain"))
        if noise is None or plain is None:
            continue
        p50 = _ratio(
            noise["latency"]["capture_to_decrypted_ms"]["p50"],  # type: ignore[index]
            plain["latency"]["capture_to_decrypted_ms"]["p50"],  # type: ignore[index]
        )
        out.append(
            {
                "cameras": count,
                "latency_p50_ratio": p50,
                "latency_p99_ratio": _ratio(
                    noise["latency"]["capture_to_decrypted_ms"]["p99"],  # type: ignore[index]
                    plain["latency"]["capture_to_decrypted_ms"]["p99"],  # type: ignore[index]
                ),
                "true_latency_p50_ratio": _ratio(
                    noise["latency"]["true_capture_to_decrypted_ms"]["p50"],  # type: ignore[index]
                    plain["latency"]["true_capture_to_decrypted_ms"]["p50"],  # type: ignore[index]
                ),
                "cpu_ratio": _ratio(noise["receiver_cpu_percent"], plain["receiver_cpu_percent"]),
                "latency_p50_target": LATENCY_RATIO_TARGET,
                "latency_p50_target_met": None if p50 is None else p50 <= LATENCY_RATIO_TARGET,
            }
        )
    return out


async def run_fleet(
    settings: FleetSettings,
    plan: CpuPlan,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    say = progress or (lambda _: None)
    configs = []
    for count in settings.cameras:
        for suite in settings.suites:
            say(f"fleet: {count} camera(s), {suite.name.lower()}, {settings.seconds:g} s")
            configs.append(await run_config(count, suite, settings, plan))
    return {
        "settings": {
            "cameras": list(settings.cameras),
            "suites": [s.name.lower() for s in settings.suites],
            "seconds": settings.seconds,
            "warmup_s": settings.warmup,
            "fps": settings.fps,
            "frame_size": settings.size.name.lower(),
            "prerendered_frames": settings.frames,
        },
        "cpus": plan.to_json(),
        "configs": configs,
        "ratios": ratios(configs),
    }
