"""The latency dock cuts no text at its size in a 1280×800 window, with data on every tab, in
light and dark; nor does the comparison dialog (the walk is tests/ui/clipping.py)."""

from app.ui.latency.dock import LatencyDock
from tests.ui.clipping import in_both_themes
from tests.ui.latency.timelines import (
    NOW,
    AT_1280x800,
    comparison_result,
    shown,
    with_paper,
)


def walk_tabs(dock, qtbot) -> list[str]:
    found = []
    for tab in (dock.live, dock.stages, dock.comparison_tab):
        shown(dock, qtbot, AT_1280x800, tab)
        found += [f"{type(tab).__name__}: {problem}" for problem in in_both_themes(dock)]
    return found


def test_every_tab_with_three_cameras_and_a_comparison_cuts_no_text(
    dock, three_cameras, comparison, qtbot
):
    dock.build()
    comparison.finished.emit(with_paper(comparison_result()))
    dock.refresh()
    assert walk_tabs(dock, qtbot) == []


def test_a_failed_comparison_and_a_failed_paper_measurement_cut_no_text(
    dock, three_cameras, comparison, qtbot
):
    dock.build()
    comparison.finished.emit(
        with_paper(
            comparison_result(error="the camera did not switch suites in time"),
            error="cancelled",
        )
    )
    dock.refresh()
    shown(dock, qtbot, AT_1280x800, dock.comparison_tab)
    assert in_both_themes(dock) == []


def test_the_comparison_dialog_cuts_no_text_with_cameras_or_without(
    receiver, comparison, three_cameras, qtbot
):
    found = []
    for candidates in (["cam-a", "a-camera-with-a-long-name"], []):
        dock = LatencyDock(
            receiver, comparison, candidates=lambda c=candidates: c, clock=lambda: NOW
        )
        qtbot.addWidget(dock)
        shown(dock, qtbot, AT_1280x800)
        dock.open_comparison_dialog()
        dialog = dock.comparison_tab.dialog
        qtbot.waitExposed(dialog)
        found += [f"{candidates}: {problem}" for problem in in_both_themes(dialog)]
        dialog.reject()
        dock.stop()
    assert found == []
