"""The latency dock over real DeviceStats rings filled with synthetic frame timelines.

The receiver is a real ReceiverService whose (never started) Receiver holds the stats, so the
dock reads them through the real `all_stats()` / `stats()`; the comparison service is real too.
"""

import asyncio
import csv
import random

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from app.protocol.timeline import FrameTimeline
from app.receiver.stats import RING_SIZE, DeviceState, DeviceStats, latency_summary
from app.services.comparison import ComparisonResult, ComparisonService
from app.services.receiver_service import ReceiverService
from app.ui.latency_dock import CSV_COLUMNS, LatencyDock
from app.ui.plots import ENCRYPTED_COLOURS, PLAIN_COLOURS, format_ms
from tests.waiting import wait_until

NOW = 5_000_000_000  # app clock, µs
OFFSET = 123_456_789  # device clock minus app clock
PERIOD = 40_000  # 25 fps


def make_timeline(
    device: str,
    suite: str,
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
    suite: str,
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


def add_device(receiver: ReceiverService, name: str, suite: str, live: bool = True) -> DeviceStats:
    stats = receiver._receiver.device_stats(name)
    stats.suite = suite
    stats.state = DeviceState.LIVE if live else DeviceState.OFFLINE
    return stats


@pytest.fixture
def comparison(receiver):
    return ComparisonService(receiver)


@pytest.fixture
def dock(receiver, comparison, qtbot):
    dock = LatencyDock(receiver, comparison, clock=lambda: NOW)
    qtbot.addWidget(dock)
    yield dock
    dock.stop()


@pytest.fixture
def three_cameras(receiver):
    fill(add_device(receiver, "cam-a", "noise"), "noise", 1000, unpainted_every=5, seed=1)
    fill(add_device(receiver, "cam-b", "plain"), "plain", 1000, seed=2)
    fill(add_device(receiver, "cam-c", "noise", live=False), "noise", 300, painted=False, seed=3)
    return receiver


def in_window(stats: DeviceStats, end: str) -> list[FrameTimeline]:
    return [
        t
        for t in stats.timelines
        if t.capture_us >= NOW - 30_000_000 and getattr(t, end) is not None
    ]


def test_live_curves_per_camera_coloured_by_suite(dock, three_cameras):
    dock.refresh()
    assert set(dock.live_curves) == {("cam-a", False), ("cam-b", True), ("cam-c", False)}

    painted_a = in_window(three_cameras.stats("cam-a"), "painted_us")
    x, y = dock.live_curves[("cam-a", False)].getData()
    assert len(x) == len(painted_a) == 749 - 149  # 749 frames in 30 s; every 5th never painted
    assert sorted(y) == pytest.approx(sorted(t.latency_ms(t.painted_us) for t in painted_a))
    assert x.min() >= -30.0 and x.max() < 0  # seconds ago

    x, _ = dock.live_curves[("cam-b", True)].getData()
    assert len(x) == len(in_window(three_cameras.stats("cam-b"), "painted_us")) == 749

    encrypted = dock.live_curves[("cam-a", False)].opts["pen"].color().name()
    plain = dock.live_curves[("cam-b", True)].opts["pen"].color().name()
    assert encrypted in ENCRYPTED_COLOURS and plain in PLAIN_COLOURS
    assert encrypted != plain

    labels = set(dock.live_legend.labels())
    assert "cam-b (plain, INSECURE)" in labels
    assert "cam-a" in labels


def test_the_selected_camera_stands_out_on_the_live_plot(dock, three_cameras):
    dock.refresh()
    assert {c.opts["pen"].color().alpha() for c in dock.live_curves.values()} == {255}
    dock.select_device("cam-b")
    pens = {key[0]: curve.opts["pen"] for key, curve in dock.live_curves.items()}
    assert pens["cam-b"].widthF() > pens["cam-a"].widthF()
    assert pens["cam-a"].color().alpha() < 255 and pens["cam-b"].color().alpha() == 255
    dock.select_device(None)
    assert dock.live_curves[("cam-a", False)].opts["pen"].color().alpha() == 255


def test_a_camera_without_painted_frames_falls_back_to_decrypted(dock, three_cameras):
    dock.refresh()
    headless = in_window(three_cameras.stats("cam-c"), "decrypted_us")
    _, y = dock.live_curves[("cam-c", False)].getData()
    assert sorted(y) == pytest.approx(sorted(t.latency_ms(t.decrypted_us) for t in headless))
    labels = set(dock.live_legend.labels())
    assert "cam-c · capture→decrypted" in labels
    assert dock.live_plot.getAxis("left").labelText == "latency (ms)"  # painted and not

    del three_cameras._receiver.stats["cam-a"], three_cameras._receiver.stats["cam-b"]
    dock.refresh()
    assert dock.live_plot.getAxis("left").labelText == "capture → decrypted (ms)"
    assert "cam-c" in dock.live_note.text()


def test_a_frame_painted_after_a_redraw_appears_in_the_next(dock, receiver):
    stats = add_device(receiver, "cam-a", "noise")
    fill(stats, "noise", 10)
    late = make_timeline("cam-a", "noise", 10, NOW - 30_000, (5_000, 10_000, 500, 2_000, None))
    stats.add_frame(late)
    dock.refresh()
    assert len(dock.live_curves[("cam-a", False)].getData()[0]) == 10

    late.painted_us = late.decoded_us + 4_000
    dock.refresh()
    x, y = dock.live_curves[("cam-a", False)].getData()
    assert len(x) == 11
    assert y[-1] == pytest.approx(late.latency_ms(late.painted_us))


def test_curves_of_cameras_that_went_away_are_removed(dock, three_cameras):
    dock.refresh()
    del three_cameras._receiver.stats["cam-b"]
    dock.refresh()
    assert set(dock.live_curves) == {("cam-a", False), ("cam-c", False)}
    assert "cam-b (plain, INSECURE)" not in set(dock.live_legend.labels())


def test_stages_are_the_means_of_the_last_two_seconds(dock, three_cameras):
    dock.refresh()
    assert dock.selected_device() == "cam-a"  # the first camera with data

    recent = [t for t in three_cameras.stats("cam-a").timelines if t.last_rx_us >= NOW - 2_000_000]
    assert 45 <= len(recent) <= 52

    def mean(values):
        values = [v for v in values if v is not None]
        return sum(values) / len(values)

    expected = {
        "device": mean((t.device_send_us - t.device_capture_us) / 1000 for t in recent),
        "network": mean(
            (t.last_rx_us - (t.device_send_us - t.clock_offset_us)) / 1000 for t in recent
        ),
        "decrypt": mean((t.decrypted_us - t.last_rx_us) / 1000 for t in recent),
        "decode": mean((t.decoded_us - t.decrypted_us) / 1000 for t in recent),
        "paint": mean(
            None if t.painted_us is None else (t.painted_us - t.decoded_us) / 1000 for t in recent
        ),
        "total": mean(t.latency_ms(t.painted_us) for t in recent),
    }
    painted = sum(t.painted_us is not None for t in recent)
    for row, key in enumerate(("device", "network", "decrypt", "decode", "paint", "total")):
        value, count = dock.stage_summary[key]
        assert value == pytest.approx(expected[key]), key
        assert count == (painted if key in ("paint", "total") else len(recent))
        assert dock.stage_table.item(row, 0).text() == format_ms(expected[key])
    stage_sum = sum(expected[k] for k in ("device", "network", "decrypt", "decode", "paint"))
    assert stage_sum == pytest.approx(expected["total"], rel=0.05)

    # The stacked bars' top of the newest full bin is the sum of its stage means.
    heights = sum(bars.opts["height"][-2] for bars in dock.stage_bars.values())
    assert 10 < heights < 80


def test_select_device_switches_the_stages_camera(dock, three_cameras):
    dock.refresh()
    dock.select_device("cam-c")
    assert dock.selected_device() == "cam-c"
    assert dock.stage_summary["paint"] == (None, 0)
    assert dock.stage_table.item(4, 0).text() == "—"
    assert dock.stage_table.verticalHeaderItem(5).text() == "capture → decrypted"
    assert dock.stage_combo.currentData() == "cam-c"
    assert "cam-c" in dock.stage_label.text()
    dock.select_device(None)
    assert dock.selected_device() == "cam-a"


def comparison_result(error=None) -> ComparisonResult:
    result = ComparisonResult("cam-a", 20, error=error)
    for suite, base in (("plain", 30_000), ("noise", 33_000)):
        for i in range(20):
            capture = NOW - 5_000_000 + i * PERIOD
            stages = (5_000, base - 20_000 + i * 500, 400, 3_000, 11_600)
            result.timelines[suite].append(make_timeline("cam-a", suite, i, capture, stages))
    return result


def test_a_comparison_result_fills_the_cdf_and_the_table(dock, comparison, qtbot):
    assert "No comparison" in dock.result_label.text()
    result = comparison_result()
    comparison.finished.emit(result)

    for suite in ("plain", "noise"):
        x, y = dock.cdf_curves[suite].getData()
        assert list(x) == sorted(result.latencies_ms(suite, "painted"))
        assert y[-1] == 1.0

    summary = result.summary("painted")
    assert summary["plain"]["p50"] == pytest.approx(34.5)  # rank 10 of 30 + i × 0.5 ms
    table = dock.comparison_table
    assert table.item(0, 0).text() == "34.5 ms"
    assert table.item(0, 0).data(Qt.ItemDataRole.UserRole) == summary["plain"]["p50"]
    assert table.item(0, 1).data(Qt.ItemDataRole.UserRole) == summary["noise"]["p50"]
    assert table.item(0, 2).text() == f"{summary['noise']['p50'] / summary['plain']['p50']:.2f}×"
    assert table.item(3, 2).data(Qt.ItemDataRole.UserRole) == summary["ratio"]["mean"]
    assert "INSECURE" in dock.cdf_curves["plain"].name()
    assert "only to measure" in dock.insecure_label.text()
    assert dock.error_label.isHidden()

    dock.cdf_stage_combo.setCurrentIndex(dock.cdf_stage_combo.findData("decrypted"))
    x, _ = dock.cdf_curves["noise"].getData()
    assert list(x) == sorted(result.latencies_ms("noise", "decrypted"))
    expected = latency_summary(result.latencies_ms("plain", "decrypted"))["p50"]
    assert table.item(0, 0).data(Qt.ItemDataRole.UserRole) == expected


def test_a_result_with_an_error_says_so(dock, comparison):
    comparison.finished.emit(comparison_result(error="the camera did not switch suites in time"))
    assert not dock.error_label.isHidden()
    assert "did not switch suites" in dock.error_label.text()


def test_the_dialog_offers_connected_cameras(dock, three_cameras):
    dock.open_comparison_dialog()
    dialog = dock._dialog
    assert [dialog.device_combo.itemText(i) for i in range(dialog.device_combo.count())] == [
        "cam-a",
        "cam-b",
    ]  # cam-c is offline
    assert dialog.frames() == 200
    assert dialog.frames_spin.minimum() == 8
    dialog.reject()


def test_candidates_can_come_from_the_window(receiver, comparison, qtbot):
    dock = LatencyDock(receiver, comparison, candidates=lambda: ["demo-1"], clock=lambda: NOW)
    qtbot.addWidget(dock)
    dock.open_comparison_dialog()
    assert dock._dialog.device() == "demo-1"
    dock._dialog.reject()
    dock.stop()


def test_a_refused_start_shows_why(dock):
    assert not dock.run_comparison("cam-a", 2)
    assert "at least" in dock.error_label.text()
    assert dock.run_button.isEnabled()


def test_progress_and_cancel_follow_the_service(qloop, dock, comparison, three_cameras):
    dock.show()
    assert dock.run_comparison("cam-a", 16)
    assert not dock.run_button.isEnabled() and dock.cancel_button.isVisible()
    comparison.progress.emit(8, 32)
    assert (dock.progress_bar.value(), dock.progress_bar.maximum()) == (8, 32)

    qloop.run_until_complete(asyncio.sleep(0.05))  # the run is asking the camera for plain
    dock.cancel_button.click()
    result = qloop.run_until_complete(wait_until(lambda: comparison.last))
    assert result.error == "cancelled"
    assert "cancelled" in dock.error_label.text()
    assert dock.run_button.isEnabled() and not dock.cancel_button.isVisible()


def test_export_csv_writes_every_timeline(dock, three_cameras, tmp_path):
    path = tmp_path / "latency.csv"
    assert dock.export_csv(path) == 2300
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 2301

    known = three_cameras.stats("cam-a").timelines[1]  # painted
    row = dict(zip(CSV_COLUMNS, rows[2], strict=True))
    assert (row["device"], row["suite"], row["seq"], row["size"]) == (
        "cam-a",
        "noise",
        "1",
        "20000",
    )
    assert int(row["capture_us"]) == known.device_capture_us - OFFSET
    assert int(row["sent_us"]) == known.device_send_us - OFFSET
    assert int(row["painted_us"]) == known.painted_us
    assert float(row["network_ms"]) == pytest.approx(
        (known.last_rx_us - known.device_send_us + OFFSET) / 1000
    )
    assert float(row["capture_to_painted_ms"]) == pytest.approx(known.latency_ms(known.painted_us))
    stages = sum(float(row[f"{k}_ms"]) for k in ("device", "network", "decrypt", "decode", "paint"))
    assert stages == pytest.approx(float(row["capture_to_painted_ms"]))

    unpainted = dict(zip(CSV_COLUMNS, rows[1], strict=True))  # seq 0: every 5th is unpainted
    assert unpainted["painted_us"] == "" and unpainted["paint_ms"] == ""


def test_export_png_writes_an_image_of_the_plots(dock, three_cameras, comparison, tmp_path):
    comparison.finished.emit(comparison_result())
    path = tmp_path / "latency.png"
    dock.export_png(path)
    image = QImage(str(path))
    assert not image.isNull()
    assert image.width() > 300 and image.height() > 3 * 200


def test_sixteen_full_rings_redraw(dock, receiver):
    for i in range(16):
        suite = "plain" if i % 4 == 3 else "noise"
        fill(add_device(receiver, f"cam-{i:02}", suite), suite, RING_SIZE, seed=i)
    dock.refresh()
    assert len(dock.live_curves) == 16
    assert all(len(c.getData()[0]) == 749 for c in dock.live_curves.values())
    dock.refresh()  # nothing new: the incremental copies stay put
    assert all(len(c.getData()[0]) == 749 for c in dock.live_curves.values())
