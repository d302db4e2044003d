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
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.bench.fleet import CameraProcess, Snapshot
from app.bench.host import CpuPlan, busy_percent, collecting, cpu_ticks, other_load
from app.bench.results import (
    FleetBreakdown,
    FleetConfig,
    FleetLatency,
    FleetResult,
    FleetSettingsRecord,
    OffsetError,
    Ratio,
    Summary,
)
from app.protocol.clock import monotonic_us
from app.protocol.endpoints import local_camera_url
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.session import Credentials
from app.receiver.server import Receiver
from app.receiver.stats import RING_SIZE

LATENCY_RATIO_TARGET = 1.10


@dataclass(frozen=True, slots=True)
class FleetSettings:
    cameras: tuple[int, ...] = (1, 8, 32)
    suites: tuple[Suite, ...] = (Suite.PLAIN, Suite.NOISE)
    seconds: float = 8.0
    warmup: float = 1.0
    fps: float = 25.0
    size: FrameSize = FrameSize.VGA
    frames: int = 50  # distinct pre-rendered frames the cameras cycle through

    def record(self) -> FleetSettingsRecord:
        return FleetSettingsRecord(
            cameras=list(self.cameras),
            suites=list(self.suites),
            seconds=self.seconds,
            warmup_s=self.warmup,
            fps=self.fps,
            frame_size=self.size.name.lower(),
            prerendered_frames=self.frames,
        )


class ReceiverWarnings(logging.Handler):
    """Collects the receiver's warnings; the expected 'PLAIN, INSECURE' notices are not news."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("device %s connected from"):
            return
        self.messages.append(f"{record.name}: {record.getMessage()}")


@dataclass(frozen=True, slots=True)
class _Totals:
    """The receiver's counters over every device."""

    received: int
    dropped: int
    rejected: int
    bytes: int

    @classmethod
    def of(cls, receiver: Receiver) -> _Totals:
        stats = receiver.stats.values()
        return cls(
            sum(s.frames_received for s in stats),
            sum(s.frames_dropped for s in stats),
            sum(s.frames_rejected for s in stats),
            sum(s.bytes for s in stats),
        )

    def __sub__(self, earlier: _Totals) -> _Totals:
        return _Totals(
            self.received - earlier.received,
            self.dropped - earlier.dropped,
            self.rejected - earlier.rejected,
            self.bytes - earlier.bytes,
        )


def _latencies(receiver: Receiver, start_us: int, end_us: int, ready: Snapshot) -> FleetLatency:
    """Latency figures of the frames decrypted in [start_us, end_us).

    The estimated ones place the capture with the receiver's clock-offset estimate; the true
    ones with each camera's real clock offset, which the camera process reported (`ready`).
    """
    total: list[float] = []
    device: list[float] = []
    transit: list[float] = []
    receive: list[float] = []
    true: list[float] = []
    offset_error: list[int] = []
    in_window = unknown_offset = 0
    for stats in receiver.stats.values():
        for t in stats.timelines:
            if not start_us <= t.decrypted_us < end_us:
                continue
            in_window += 1
            receive.append(t.receive_ms)
            device.append(t.device_ms)
            exact = ready.true_timeline(t)
            if exact is not None and exact.to_decrypted_ms is not None:
                true.append(exact.to_decrypted_ms)
            latency, sent_to_rx = t.to_decrypted_ms, t.transit_ms
            if latency is None or sent_to_rx is None:  # the clock offset is not known yet
                unknown_offset += 1
                continue
            total.append(latency)
            transit.append(sent_to_rx)
            error = ready.offset_error_us(t)
            if error is not None:
                offset_error.append(error)
    return FleetLatency(
        frames=in_window,
        frames_without_clock_offset=unknown_offset,
        capture_to_decrypted_ms=Summary.of(total),
        breakdown_ms=FleetBreakdown(
            capture_to_send=Summary.of(device),
            send_to_first_rx=Summary.of(transit),
            first_rx_to_decrypted=Summary.of(receive),
        ),
        true_capture_to_decrypted_ms=Summary.of(true),
        clock_offset_error_us=OffsetError(
            max=max(offset_error, default=None),
            median=sorted(offset_error)[len(offset_error) // 2] if offset_error else None,
        ),
    )


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else 0.0


async def run_config(
    cameras: int, suite: Suite, settings: FleetSettings, plan: CpuPlan
) -> FleetConfig:
    """One configuration: `cameras` cameras in `suite` for a warm-up, then a measured window.

    Raises:
        BenchError: if the camera process failed or no camera connected.
    """
    keys = {f"bench{i:02d}": os.urandom(32) for i in range(cameras)}
    registry = {name: Credentials(name, psk, allow_plain=True) for name, psk in keys.items()}
    receiver = Receiver(registry.get, host="127.0.0.1", port=0)
    warnings = ReceiverWarnings()
    consumed = 0

    async def consume() -> None:
        nonlocal consumed
        mailbox = receiver.subscribe()
        while True:
            frame = await mailbox.get()
            if frame.jpeg:
                consumed += 1

    consumer: asyncio.Task[None] | None = None
    child: CameraProcess | None = None
    final: Snapshot | None = None
    with collecting(warnings):
        try:
            await receiver.start()
            consumer = asyncio.create_task(consume())
            url = local_camera_url(receiver.host, receiver.port)
            child = await CameraProcess.start(
                url, suite, settings.fps, settings.size, settings.frames, plan.cameras
            )
            ready = await child.send_devices(keys)
            await asyncio.sleep(settings.warmup)

            first = await child.snapshot()
            ticks0 = cpu_ticks()
            start_us, cpu0, rx0, consumed0 = (
                monotonic_us(),
                time.process_time(),
                _Totals.of(receiver),
                consumed,
            )
            await asyncio.sleep(settings.seconds)
            last = await child.snapshot()
            ticks1 = cpu_ticks()
            end_us, cpu1, rx1, consumed1 = (
                monotonic_us(),
                time.process_time(),
                _Totals.of(receiver),
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

    wall_s = (end_us - start_us) / 1e6
    child_wall_s = (last.wall_us - first.wall_us) / 1e6
    receiver_cpu = (cpu1 - cpu0) / wall_s * 100
    camera_cpu = last.cpu_percent_since(first)
    busy = busy_percent(ticks0, ticks1)
    rx = rx1 - rx0
    latency = _latencies(receiver, start_us, end_us, ready)
    return FleetConfig(
        cameras=cameras,
        suite=suite,
        fps_per_camera=settings.fps,
        window_s=round(wall_s, 3),
        connected=ready.connected,
        connected_at_end=connected_at_end,
        frames_received=rx.received,
        frames_per_s=_rate(rx.received, wall_s),
        expected_frames_per_s=round(cameras * settings.fps, 2),
        frames_consumed=consumed1 - consumed0,
        frames_dropped=rx.dropped,
        frames_rejected=rx.rejected,
        megabytes_per_s=round(rx.bytes / wall_s / 1e6, 2),
        frames_sent=last.frames_sent - first.frames_sent,
        frames_sent_per_s=_rate(last.frames_sent - first.frames_sent, child_wall_s),
        frames_skipped=last.frames_skipped - first.frames_skipped,
        receiver_cpu_percent=round(receiver_cpu, 1),
        camera_process_cpu_percent=round(camera_cpu, 1),
        cpu_busy_percent=busy,
        other_load_percent=other_load(busy, plan, receiver_cpu, camera_cpu),
        latency=latency,
        latency_ring_limited=latency.frames >= RING_SIZE,
        camera_problems=(final or last).camera_problems(),
        camera_errors=(final.errors or []) if final else [],
        camera_warnings=(final.warning_messages or []) if final else [],
        receiver_warnings=warnings.messages[:20],
    )


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return round(a / b, 3)


def ratios(configs: list[FleetConfig]) -> list[Ratio]:
    """Encrypted over plain, per camera count, wherever both suites were measured."""
    by_key = {(c.cameras, c.suite): c for c in configs}
    out = []
    for count in sorted({c.cameras for c in configs}):
        noise, plain = by_key.get((count, Suite.NOISE)), by_key.get((count, Suite.PLAIN))
        if noise is None or plain is None:
            continue
        n, p = noise.latency, plain.latency
        p50 = _ratio(n.capture_to_decrypted_ms.p50, p.capture_to_decrypted_ms.p50)
        out.append(
            Ratio(
                cameras=count,
                latency_p50_ratio=p50,
                latency_p99_ratio=_ratio(
                    n.capture_to_decrypted_ms.p99, p.capture_to_decrypted_ms.p99
                ),
                true_latency_p50_ratio=_ratio(
                    n.true_capture_to_decrypted_ms.p50, p.true_capture_to_decrypted_ms.p50
                ),
                cpu_ratio=_ratio(noise.receiver_cpu_percent, plain.receiver_cpu_percent),
                latency_p50_target=LATENCY_RATIO_TARGET,
                latency_p50_target_met=None if p50 is None else p50 <= LATENCY_RATIO_TARGET,
            )
        )
    return out


async def run_fleet(
    settings: FleetSettings,
    plan: CpuPlan,
    progress: Callable[[str], None] | None = None,
) -> FleetResult:
    """Every camera count in every suite, in turn.

    Raises:
        BenchError: if a configuration could not run.
    """
    say = progress or (lambda _: None)
    configs = []
    for count in settings.cameras:
        for suite in settings.suites:
            say(f"fleet: {count} camera(s), {suite.name.lower()}, {settings.seconds:g} s")
            configs.append(await run_config(count, suite, settings, plan))
    return FleetResult(settings.record(), plan.record(), configs, ratios(configs))
