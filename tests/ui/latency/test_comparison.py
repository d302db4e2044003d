"""The Comparison tab: a result fills the CDF and the table; runs start, progress and cancel."""

import asyncio

import pytest
from PySide6.QtCore import Qt

from app.protocol.hello import Suite
from app.protocol.timeline import Mark
from app.receiver.stats import latency_summary
from app.ui.latency_dock import LatencyDock
from tests.ui.latency.timelines import NOW, comparison_result
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
