"""The dock's text and tables fit: axis labels along their axes, the CDF legend off the data,
the comparison table's rows and columns in view (or scrollable, the most important first)."""

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QFontMetricsF

from app.protocol.hello import Suite
from app.ui.latency.comparison import PAPER_COLUMN, RATIO_COLUMN
from tests.ui.latency.timelines import (
    CRAMPED,
    AT_1280x800,
    AT_1920x1080,
    comparison_result,
    shown,
    with_paper,
)

SIZES = [AT_1280x800, AT_1920x1080, CRAMPED]


def plots(dock):
    return [
        (dock.live, dock.live.plot, dock.live.axis_labels),
        (dock.stages, dock.stages.plot, dock.stages.axis_labels),
        (dock.comparison_tab, dock.comparison_tab.plot, dock.comparison_tab.axis_labels),
    ]


def global_rect(widget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def data_area(view, plot) -> QRect:
    """The plot's data area (its view box) in global coordinates."""
    area = view.mapFromScene(plot.getViewBox().sceneBoundingRect()).boundingRect()
    return QRect(view.viewport().mapToGlobal(area.topLeft()), area.size())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_axis_label_fits_along_its_axis(dock, three_cameras, comparison, qtbot, size):
    del three_cameras._receiver.stats["cam-c"]  # every camera painted: the longest label
    comparison.finished.emit(with_paper(comparison_result()))
    dock.refresh()
    for tab, plot, _ in plots(dock):
        shown(dock, qtbot, size, tab)
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            text = axis.labelText
            width = QFontMetricsF(axis.label.font()).horizontalAdvance(text)
            length = axis.size().height() if name == "left" else axis.size().width()
            assert text and width <= length, (type(tab).__name__, name, text, width, length)


def test_axes_show_their_full_labels_when_there_is_room(dock, three_cameras, qtbot):
    del three_cameras._receiver.stats["cam-c"]  # every camera painted: capture → painted
    dock.refresh()
    shown(dock, qtbot, AT_1280x800, dock.live)
    labels = dock.live.axis_labels
    assert labels.shown("left") == labels.full("left") == "capture → painted (ms)"
    assert labels.shown("bottom") == "captured (seconds ago)"
    shown(dock, qtbot, (1280, 120), dock.live)  # too short for it: a shorter one, uncut
    assert labels.shown("left") in ("latency (ms)", "ms")
    assert dock.live.plot.getAxis("left").toolTip() == "capture → painted (ms)"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_cdf_legend_is_off_the_plot_area(dock, comparison, qtbot, size):
    tab = dock.comparison_tab
    comparison.finished.emit(with_paper(comparison_result()))
    shown(dock, qtbot, size, tab)
    assert len(tab.legend.labels()) == 3 and tab.legend.isVisible()
    legend = global_rect(tab.legend)
    assert legend.height() >= tab.legend.heightForWidth(legend.width())  # none of it cut
    assert not legend.intersects(data_area(tab.view, tab.plot))


def test_the_live_legend_is_off_the_plot_area(dock, three_cameras, qtbot):
    dock.refresh()
    shown(dock, qtbot, AT_1280x800, dock.live)
    legend = global_rect(dock.live.legend)
    assert dock.live.legend.isVisible()
    assert not legend.intersects(data_area(dock.live.view, dock.live.plot))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("paper", [False, True], ids=["two suites", "with the paper scheme"])
def test_the_comparison_table_shows_every_row_and_each_column_fits_or_scrolls_into_view(
    dock, comparison, qtbot, size, paper
):
    tab = dock.comparison_tab
    result = comparison_result()
    comparison.finished.emit(with_paper(result) if paper else result)
    shown(dock, qtbot, size, tab)
    table = tab.table
    assert table.isVisible()
    viewport = table.viewport().rect()
    for row in range(table.rowCount()):  # p50, p95, p99 and the mean, none cut
        rect = table.visualRect(table.model().index(row, 0))
        assert viewport.contains(rect), (row, rect, viewport)
    # The table itself is in view at 1280×800 and up; in a smaller dock, a scroll away.
    if size != CRAMPED:
        assert global_rect(tab).contains(global_rect(table))
    else:
        area = table.parentWidget().parentWidget().parentWidget()  # body, viewport, area
        area.ensureWidgetVisible(table, 0, 0)
        assert global_rect(area.viewport()).contains(global_rect(table))
    columns = [c for c in range(table.columnCount()) if not table.isColumnHidden(c)]
    assert columns == ([0, 1, RATIO_COLUMN, PAPER_COLUMN] if paper else [0, 1, RATIO_COLUMN])
    bar = table.horizontalScrollBar()
    bar.setValue(0)
    if bar.maximum() == 0:  # everything fits
        for column in columns:
            rect = table.visualRect(table.model().index(0, column))
            assert viewport.contains(rect), (column, rect, viewport)
    else:  # the most important first: both suites in view, the rest a scroll away
        for column in (0, 1):
            assert viewport.contains(table.visualRect(table.model().index(0, column)))
        bar.setValue(bar.maximum())
        last = table.visualRect(table.model().index(0, columns[-1]))
        assert viewport.contains(last)
    # Each header says all of its words (no elision): its text fits its section.
    header = table.horizontalHeader()
    metrics = header.fontMetrics()
    for column in columns:
        text = table.horizontalHeaderItem(column).text()
        need = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
        assert need <= header.sectionSize(column), text


def test_a_comparison_shown_at_1280x800_keeps_its_buttons_in_view(dock, comparison, qtbot):
    tab = dock.comparison_tab
    comparison.finished.emit(with_paper(comparison_result()))
    shown(dock, qtbot, AT_1280x800, tab)
    assert tab.run_button.isVisible()
    assert global_rect(tab).contains(global_rect(tab.run_button))


def test_the_stages_table_shows_every_row(dock, three_cameras, qtbot):
    dock.refresh()
    shown(dock, qtbot, AT_1280x800, dock.stages)
    table = dock.stages.table
    for row in range(table.rowCount()):
        rect = table.visualRect(table.model().index(row, 0))
        assert table.viewport().rect().contains(rect), row


def test_the_paper_header_keeps_the_label_words(dock, comparison):
    from app.services.comparison import PAPER_LABEL

    header = dock.comparison_tab.table.horizontalHeaderItem(PAPER_COLUMN).text()
    assert header.replace("\n", " ") == PAPER_LABEL
    assert dock.comparison_tab.table.horizontalHeaderItem(0).text().replace("\n", " ") == (
        Suite.PLAIN.label
    )
