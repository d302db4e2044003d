"""Synthetic frame timelines for the latency dock's tests, and the rings they fill."""

import random

from app.protocol.hello import Suite
from app.protocol.timeline import FrameTimeline
from app.receiver.stats import DeviceState, DeviceStats
from app.services.comparison import ComparisonResult
from app.services.receiver_service import ReceiverService

NOW = 5_000_000_000  # app clock, µs
OFFSET = 123_456_789  # device clock minus app clock
PERIOD = 40_000  # 25 fps


def make_timeline(
    device: str,
    suite: Suite,
    seq: int,
    capture: int,
    stages_us: tuple[int, int, int, int | None, int | None],
    offset: int | None = OFFSET,
    size: int = 20_000,
) -> FrameTimeline:
    """A frame captured at `capture` (app clock) taking device/network/decrypt/decode/paint µs."""
    device_us, network_us, decrypt_us, decode_us, paint_us = stages_us
    sent = capture + device_us
    last_rx = sent + network_us
    decrypted = last_rx + decrypt_us
    decoded = None if decode_us is None else decrypted + decode_us
    painted = None if decoded is None or paint_us is None else decoded + paint_us
    return FrameTimeline(
        device=device,
        suite=suite,
        seq=seq,
        size=size,
        device_capture_us=capture + (offset or 0),
        device_send_us=sent + (offset or 0),
        first_rx_us=sent + network_us // 2,
        last_rx_us=last_rx,
        decrypted_us=decrypted,
        clock_offset_us=offset,
        decoded_us=decoded,
        painted_us=painted,
    )


def fill(
    stats: DeviceStats,
    suite: Suite,
    frames: int,
    *,
    painted: bool = True,
    unpainted_every: int = 0,
    seed: int = 1,
) -> None:
    """`frames` frames at 25 fps, the newest captured 80 ms before NOW; varied stage times."""
    rng = random.Random(seed)
    for i in range(frames):
        capture = NOW - 80_000 - (frames - 1 - i) * PERIOD
        skip_paint = not painted or (unpainted_every and i % unpainted_every == 0)
        stages = (
            rng.randrange(3_000, 9_000),
            rng.randrange(2_000, 30_000),
            rng.randrange(100, 900),
            rng.randrange(1_000, 5_000) if painted else None,
            None if skip_paint else rng.randrange(2_000, 16_000),
        )
        stats.add_frame(make_timeline(stats.device, suite, i, capture, stages))


def add_device(
    receiver: ReceiverService, name: str, suite: Suite, live: bool = True
) -> DeviceStats:
    stats = receiver._receiver.device_stats(name)
    stats.suite = suite
    stats.state = DeviceState.LIVE if live else DeviceState.OFFLINE
    return stats


def in_window(stats: DeviceStats, end: str) -> list[FrameTimeline]:
    return [
        t
        for t in stats.timelines
        if t.capture_us >= NOW - 30_000_000 and getattr(t, end) is not None
    ]


def comparison_result(error=None) -> ComparisonResult:
    result = ComparisonResult("cam-a", 20, error=error)
    for suite, base in ((Suite.PLAIN, 30_000), (Suite.NOISE, 33_000)):
        for i in range(20):
            capture = NOW - 5_000_000 + i * PERIOD
            stages = (5_000, base - 20_000 + i * 500, 400, 3_000, 11_600)
            result.timelines[suite].append(make_timeline("cam-a", suite, i, capture, stages))
    return result


def with_paper(result, ms=(41.0, 39.5, 44.0, 40.25), error=None):
    """`result` as a run that also timed the paper scheme (`ms`), or failed to (`error`)."""
    result.paper = True
    result.paper_ms = [] if error else list(ms)
    result.paper_bytes = [] if error else [48_000] * len(ms)
    result.paper_error = error
    return result


def fill_latencies(stats: DeviceStats, suite: Suite, totals_ms: list[float], seq: int = 0) -> None:
    """Frames at 25 fps, the newest captured 80 ms before NOW, each painted `totals_ms[i]`
    after capture (device 2, decrypt 0.5, decode 1.5, paint 1 ms; the network the rest)."""
    for i, total in enumerate(totals_ms):
        capture = NOW - 80_000 - (len(totals_ms) - 1 - i) * PERIOD
        network = round(total * 1000) - 5_000
        stats.add_frame(
            make_timeline(
                stats.device, suite, seq + i, capture, (2_000, network, 500, 1_500, 1_000)
            )
        )


def shown(dock, qtbot, size: tuple[int, int], tab=None):
    """The dock on screen (offscreen) at `size`, showing `tab` (a page), laid out."""
    from PySide6.QtWidgets import QApplication

    dock.resize(*size)
    dock.show()
    qtbot.waitExposed(dock)
    if tab is not None:
        dock.tabs.setCurrentWidget(tab)
    QApplication.processEvents()
    return dock


# The dock's size in a 1280×800 window (the window gives it 300 px on a first run) and in a
# 1920×1080 one; and a cramped one.
AT_1280x800 = (1280, 300)
AT_1920x1080 = (1920, 300)
CRAMPED = (700, 200)
