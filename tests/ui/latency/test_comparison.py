"""The Comparison tab: a result fills the CDF and the table; runs start, progress and cancel."""

import asyncio

import pytest
from PySide6.QtCore import QPointF, Qt

from app.protocol.hello import Suite
from app.protocol.timeline import Mark, Stage
from app.receiver.stats import latency_summary
from app.services.comparison import PAPER_LABEL
from app.ui.latency.comparison import PAPER_COLUMN
from app.ui.latency_dock import LatencyDock
from app.ui.plots import format_ms
from tests.ui.latency.timelines import (
    NOW,
    AT_1280x800,
    comparison_result,
    make_timeline,
    shown,
    with_paper,
)
from tests.waiting import wait_until

NOISE, PLAIN = Suite.NOISE, Suite.PLAIN


def test_a_comparison_result_fills_the_cdf_and_the_table(dock, comparison):
    tab = dock.comparison_tab
    assert "No comparison" in tab.result_label.text()
    result = comparison_result()
    comparison.finished.emit(result)

    for suite in Suite:
        x, y = tab.curves[suite].getData()
        assert list(x) == sorted(result.latencies_ms(suite, Mark.PAINTED))
        assert y[-1] == 1.0

    summary = result.summary(Mark.PAINTED)
    assert summary.suites[PLAIN]["p50"] == pytest.approx(34.5)  # rank 10 of 30 + i × 0.5 ms
    table = tab.table
    assert table.item(0, 0).text() == "34.5 ms"
    assert table.item(0, 0).data(Qt.ItemDataRole.UserRole) == summary.suites[PLAIN]["p50"]
    assert table.item(0, 1).data(Qt.ItemDataRole.UserRole) == summary.suites[NOISE]["p50"]
    p50_ratio = summary.suites[NOISE]["p50"] / summary.suites[PLAIN]["p50"]
    assert table.item(0, 2).text() == f"{p50_ratio:.2f}×"
    assert table.item(3, 2).data(Qt.ItemDataRole.UserRole) == summary.ratio["mean"]
    assert "INSECURE" in tab.curves[PLAIN].name()
    assert "only to measure" in tab.insecure_label.text()
    assert tab.error_label.isHidden()

    tab.set_mark(Mark.DECRYPTED)
    x, _ = tab.curves[NOISE].getData()
    assert list(x) == sorted(result.latencies_ms(NOISE, Mark.DECRYPTED))
    expected = latency_summary(result.latencies_ms(PLAIN, Mark.DECRYPTED))["p50"]
    assert table.item(0, 0).data(Qt.ItemDataRole.UserRole) == expected


def test_a_result_with_nothing_painted_shows_capture_to_decrypted(dock, comparison):
    result = comparison_result()
    for timelines in result.timelines.values():
        for t in timelines:
            t.painted_us = None
    comparison.finished.emit(result)
    assert dock.comparison_tab.mark() is Mark.DECRYPTED


def test_a_result_with_an_error_says_so(dock, comparison):
    comparison.finished.emit(comparison_result(error="the camera did not switch suites in time"))
    tab = dock.comparison_tab
    assert not tab.error_label.isHidden()
    assert "did not switch suites" in tab.error_label.text()
    assert dock.tabs.currentWidget() is tab


def test_the_dialog_offers_connected_cameras(dock, three_cameras):
    dock.open_comparison_dialog()
    dialog = dock.comparison_tab.dialog
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
    assert dock.comparison_tab.dialog.device() == "demo-1"
    dock.comparison_tab.dialog.reject()
    dock.stop()


def test_a_refused_start_shows_why(dock):
    tab = dock.comparison_tab
    assert not dock.run_comparison("cam-a", 2)
    assert "at least" in tab.error_label.text()
    assert tab.run_button.isEnabled()


def test_progress_and_cancel_follow_the_service(qloop, dock, comparison, three_cameras):
    dock.show()
    tab = dock.comparison_tab
    assert dock.run_comparison("cam-a", 16)
    assert dock.tabs.currentWidget() is tab
    assert not tab.run_button.isEnabled() and tab.cancel_button.isVisible()
    comparison.progress.emit(8, 32)
    assert (tab.progress_bar.value(), tab.progress_bar.maximum()) == (8, 32)

    qloop.run_until_complete(asyncio.sleep(0))  # the run asks the camera for plain
    tab.cancel_button.click()
    result = qloop.run_until_complete(wait_until(lambda: comparison.last))
    assert result.error == "cancelled"
    assert "cancelled" in tab.error_label.text()
    assert tab.run_button.isEnabled() and not tab.cancel_button.isVisible()


# -- the paper scheme's series ----------------------------------------------------------------


def legend_labels(tab) -> list[str]:
    return tab.legend.labels()


def test_a_result_with_the_paper_scheme_shows_a_third_labelled_dashed_curve_and_column(
    dock, comparison
):
    tab = dock.comparison_tab
    comparison.finished.emit(with_paper(comparison_result()))

    x, y = tab.paper_curve.getData()
    assert list(x) == [39.5, 40.25, 41.0, 44.0] and y[-1] == 1.0
    assert tab.paper_curve.name() == PAPER_LABEL == "paper scheme (insecure, measurement only)"
    assert PAPER_LABEL in legend_labels(tab)
    pen = tab.paper_curve.opts["pen"]
    assert pen.style() == Qt.PenStyle.DashLine
    assert all(pen.color() != tab.curves[s].opts["pen"].color() for s in Suite)
    # The table's fourth column: the four times' summary, under the label's own words.
    assert not tab.table.isColumnHidden(PAPER_COLUMN)
    header = tab.table.horizontalHeaderItem(PAPER_COLUMN).text()
    assert header.replace("\n", " ") == PAPER_LABEL
    p50 = latency_summary([41.0, 39.5, 44.0, 40.25])["p50"]
    assert tab.table.item(0, PAPER_COLUMN).data(Qt.ItemDataRole.UserRole) == p50
    assert tab.table.item(0, PAPER_COLUMN).text() == f"{p50:.1f} ms"
    # The caption says what the times are, and what they are not.
    caption = tab.paper_label.text()
    assert not tab.paper_label.isHidden()
    assert PAPER_LABEL in caption and "4 of this run's frames" in caption
    assert "start of sending to decrypted and reassembled" in caption
    assert "not the camera's capture → decrypted latency" in caption and "in ms" in caption

    tab.set_mark(Mark.DECRYPTED)  # the paper times are not a capture → mark latency
    assert list(tab.paper_curve.getData()[0]) == [39.5, 40.25, 41.0, 44.0]


def test_a_result_without_the_paper_scheme_shows_two_curves_as_before(dock, comparison):
    tab = dock.comparison_tab
    comparison.finished.emit(with_paper(comparison_result()))
    comparison.finished.emit(comparison_result())  # the next run did not ask

    x, _ = tab.paper_curve.getData()
    assert x is None or len(x) == 0
    assert PAPER_LABEL not in legend_labels(tab) and len(legend_labels(tab)) == 2
    assert tab.table.isColumnHidden(PAPER_COLUMN) and tab.paper_label.isHidden()


def test_a_paper_measurement_that_failed_says_why_beside_the_live_result(dock, comparison):
    tab = dock.comparison_tab
    comparison.finished.emit(with_paper(comparison_result(), error="cancelled"))
    assert "not measured (cancelled)" in tab.paper_label.text()
    assert tab.error_label.isHidden()  # the live run itself completed
    assert tab.table.item(0, PAPER_COLUMN).text() == "—"


def test_the_dialog_offers_the_paper_scheme_off_by_default_and_passes_it_on(
    qloop, dock, comparison, three_cameras
):
    tab = dock.comparison_tab
    dock.open_comparison_dialog()
    dialog = tab.dialog
    assert not dialog.paper_check.isChecked() and not dialog.paper()
    assert dialog.paper_check.text() == f"Also measure the {PAPER_LABEL}"
    dialog.paper_check.setChecked(True)
    dialog.accept()
    assert comparison.running and comparison._current.paper

    comparison.paperProgress.emit(3, 16)
    assert tab.progress_bar.text() == "paper scheme: 3 / 16 frames"
    comparison.cancel()
    result = qloop.run_until_complete(wait_until(lambda: comparison.last))
    assert result.error == "cancelled"


def test_pointing_at_a_cdf_point_shows_its_frames_seq_and_stages(dock, comparison, qtbot):
    tab = dock.comparison_tab
    result = comparison_result()
    comparison.finished.emit(result)
    shown(dock, qtbot, AT_1280x800, tab)
    frame = result.timelines[NOISE][7]
    x, y = tab.curves[NOISE].getData()
    (index,) = [i for i, v in enumerate(x) if v == frame.to_painted_ms]
    scene = tab.plot.getViewBox().mapViewToScene(QPointF(x[index], y[index]))
    tab.hover.show_at(scene)
    text = tab.hover.text
    assert "seq 7" in text and NOISE.label in text
    assert format_ms(frame.to_painted_ms) in text
    for stage in Stage:
        assert format_ms(frame.stage_ms(stage)) in text, stage


def test_the_caption_says_what_the_table_leaves_out(dock, comparison):
    result = comparison_result()
    result.timelines[NOISE][3].painted_us = None  # drawn over before it was painted
    comparison.finished.emit(result)
    text = dock.comparison_tab.result_label.text()
    assert "19 encrypted and 20 plain frames (20 asked per suite)" in text
    assert "Frames never painted (the window drew a newer one first) are left out" in text


def test_a_start_up_straggler_does_not_squeeze_the_cdf_and_the_caption_says_so(dock, comparison):
    tab = dock.comparison_tab
    result = comparison_result()
    capture = NOW - 5_000_000
    slow = make_timeline("cam-a", NOISE, 99, capture, (5_000, 250_000, 400, 3_000, 11_600))
    result.timelines[NOISE].append(slow)
    comparison.finished.emit(result)

    (left, right), _ = tab.plot.viewRange()
    assert left <= 0 and 45 < right < 100  # the frames of 30-46 ms in view, not 270 ms
    assert "slowest 1 frame (up to 270.0 ms) is past the plot's right edge" in (
        tab.result_label.text()
    )
    x, _ = tab.curves[NOISE].getData()
    assert x.max() == pytest.approx(270.0)  # still on the curve, and in the table
