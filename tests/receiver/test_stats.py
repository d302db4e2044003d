"""Per-device stats: percentiles, fps window, bounded ring, JSON snapshot."""

import json

from app.protocol.hello import Suite
from app.protocol.records import Status
from app.protocol.timeline import FrameTimeline
from app.receiver.stats import RING_SIZE, DeviceState, DeviceStats, latency_summary, percentile


def timeline(seq: int, rx_us: int, latency_us: int, offset: int | None = 0) -> FrameTimeline:
    return FrameTimeline(
        "cam",
        Suite.NOISE,
        seq,
        1000,
        rx_us - latency_us,
        rx_us - latency_us,
        rx_us,
        rx_us,
        rx_us,
        clock_offset_us=offset,
    )


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0


def test_summary_of_no_values_is_explicitly_empty():
    assert latency_summary([]) == {
        "count": 0,
        "p50": None,
        "p95": None,
        "p99": None,
        "mean": None,
        "max": None,
    }


def test_latency_uses_the_clock_offset_and_skips_frames_without_one():
    stats = DeviceStats("cam")
    stats.add_frame(timeline(1, 10_000_000, 2_000, offset=0))
    stats.add_frame(timeline(2, 10_040_000, 5_000, offset=None))
    stats.add_frame(timeline(3, 10_080_000, 4_000, offset=0))
    assert stats.latencies_ms() == [2.0, 4.0]
    assert stats.frames_received == 3 and stats.bytes == 3000


def test_fps_counts_only_the_recent_window():
    stats = DeviceStats("cam")
    for i in range(100):
        stats.add_frame(timeline(i, i * 40_000, 1000))  # 25 fps for 4 s
    assert stats.fps(now_us=99 * 40_000) == 25.0
    assert stats.fps(now_us=99 * 40_000 + 10_000_000) == 0.0


def test_the_ring_is_bounded():
    stats = DeviceStats("cam")
    for i in range(RING_SIZE + 500):
        stats.add_frame(timeline(i, i * 1000, 100))
    assert len(stats.timelines) == RING_SIZE
    assert stats.frames_received == RING_SIZE + 500


def test_snapshot_is_json_ready_with_the_documented_fields():
    stats = DeviceStats("cam", suite=Suite.NOISE, state=DeviceState.LIVE)
    stats.status = Status(-60, 5, 12, 25, 640, 480, 100_000, 0, 3, "fw 1.0")
    stats.add_frame(timeline(1, 1_000_000, 3_000))
    snap = json.loads(json.dumps(stats.snapshot(now_us=1_000_000)))
    for key in (
        "device",
        "suite",
        "connected",
        "frames_received",
        "frames_rejected",
        "frames_dropped",
        "bytes",
        "fps",
    ):
        assert key in snap
    assert snap["connected"] is True and snap["resolution"] == "640x480"
    assert snap["latency_ms"]["p50"] == 3.0


def test_snapshot_shows_the_cameras_drops_and_stack_when_its_status_reports_them():
    stats = DeviceStats("cam", suite=Suite.NOISE, state=DeviceState.LIVE)
    stats.status = Status(
        -60, 5, 12, 25, 640, 480, 100_000, 0, 3, "fw", frames_dropped=0, stack_min_free=2480
    )
    snap = json.loads(json.dumps(stats.snapshot(now_us=1_000_000)))
    # Reported zero stays zero, apart from the receiver's own mailbox drops.
    assert snap["camera_frames_dropped"] == 0 and snap["stack_min_free"] == 2480
    assert snap["frames_dropped"] == 0


def test_snapshot_shows_unknown_not_zero_for_what_the_status_does_not_report():
    stats = DeviceStats("cam")
    snap = stats.snapshot(now_us=0)
    assert snap["camera_frames_dropped"] is None and snap["stack_min_free"] is None
    stats.status = Status(-60, 5, 12, 25, 640, 480, 100_000, 0, 3, "fw", frames_dropped=9)
    snap = json.loads(json.dumps(stats.snapshot(now_us=0)))
    assert snap["camera_frames_dropped"] == 9 and snap["stack_min_free"] is None


def test_snapshot_gives_the_cameras_settings_and_the_latency_of_the_last_10_s_only():
    stats = DeviceStats("cam", suite=Suite.NOISE, state=DeviceState.LIVE)
    assert stats.snapshot(now_us=0)["frame_size"] is None  # no STATUS yet: unknown
    stats.status = Status(-60, 5, 20, 15, 640, 480, 100_000, 0, 3, "fw")
    stats.add_frame(timeline(1, 1_000_000, 900_000))  # 900 ms, 20 s before "now"
    stats.add_frame(timeline(2, 20_000_000, 30_000))
    stats.add_frame(timeline(3, 21_000_000, 40_000))
    snap = json.loads(json.dumps(stats.snapshot(now_us=21_000_000)))
    assert (snap["frame_size"], snap["quality"], snap["fps_cap"]) == ("vga", 20, 15)
    assert snap["recent_latency_ms"]["count"] == 2 and snap["recent_latency_ms"]["max"] == 40.0
    assert snap["latency_ms"]["max"] == 900.0
