"""The latency plots follow the theme: background, axes, legend and curves switch at once, and
every curve, bar and mark colour stands out from the plot in light and in dark."""

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.protocol.hello import Suite
from app.ui.latency.comparison import PAPER_SHADE, paper_colour
from app.ui.plots import (
    ENCRYPTED_SHADES,
    GRAPHIC_CONTRAST,
    PLAIN_SHADES,
    STAGES,
    PlotColours,
    PlotView,
    shade,
)
from app.ui.theme import Theme, apply_theme, contrast
from tests.ui.latency.timelines import AT_1280x800, comparison_result, shown, with_paper

NOISE, PLAIN = Suite.NOISE, Suite.PLAIN
AA_TEXT = 4.5


@pytest.fixture(autouse=True)
def back_to_light(qapp):
    apply_theme(Theme.LIGHT)
    yield
    apply_theme(Theme.LIGHT)


def plot_views(dock) -> list[PlotView]:
    return [dock.live.view, dock.stages.plot.getViewWidget(), dock.comparison_tab.view]


def looks(view: PlotView) -> dict[str, str]:
    """What a plot shows now: its painted background, tick text, axis line, label colours."""
    plot = view.getPlotItem()
    axis = plot.getAxis("left")
    image = view.grab().toImage()
    return {
        "painted background": image.pixelColor(image.width() - 3, 3).name(),
        "ticks": axis.textPen().color().name(),
        "axis": axis.pen().color().name(),
        "label": axis.labelStyle["color"],
    }


def test_switching_the_theme_recolours_every_latency_plot_at_once(dock, three_cameras, qtbot):
    comparison = dock.comparison_tab
    shown(dock, qtbot, AT_1280x800, dock.live)
    dock.refresh()
    dock._comparison.finished.emit(with_paper(comparison_result()))
    light = {id(view): looks(view) for view in plot_views(dock)}
    live_pens = {key: c.opts["pen"].color().name() for key, c in dock.live.curves.items()}
    brushes = {stage: bars.opts["brush"] for stage, bars in dock.stages.bars.items()}
    legend_style = dock.live.legend.styleSheet()

    apply_theme(Theme.DARK)
    QApplication.processEvents()

    background = QApplication.palette().color(QPalette.ColorRole.Base)
    text = QApplication.palette().color(QPalette.ColorRole.Text)
    for view in plot_views(dock):
        dark = looks(view)
        assert (
            dark["painted background"] == background.name() != light[id(view)]["painted background"]
        )
        assert dark["ticks"] == dark["label"] == text.name() != light[id(view)]["ticks"]
        assert contrast(QColor(dark["axis"]), background) >= GRAPHIC_CONTRAST
    for key, curve in dock.live.curves.items():
        pen = curve.opts["pen"].color()
        assert pen.name() != live_pens[key]
        assert contrast(pen, background) >= GRAPHIC_CONTRAST, key
    for stage, bars in dock.stages.bars.items():
        assert bars.opts["brush"] != brushes[stage]
        assert contrast(bars.opts["brush"], background) >= GRAPHIC_CONTRAST, stage
    assert background.name() in dock.live.legend.styleSheet() != legend_style
    assert comparison.curves[PLAIN].opts["pen"].color() == shade(PLAIN_SHADES[0])
    assert comparison.paper_curve.opts["pen"].color() == paper_colour()
    assert paper_colour().name() in comparison.paper_label.text()

    apply_theme(Theme.LIGHT)
    QApplication.processEvents()
    assert {id(view): looks(view) for view in plot_views(dock)} == light
    assert {k: c.opts["pen"].color().name() for k, c in dock.live.curves.items()} == live_pens


def test_a_plot_made_while_the_theme_is_dark_starts_dark(qtbot):
    apply_theme(Theme.DARK)
    view = PlotView()
    qtbot.addWidget(view)
    assert view.colours.background == QApplication.palette().color(QPalette.ColorRole.Base)
    assert view.getPlotItem().getAxis("bottom").textPen().color() == PlotColours.now().text


@pytest.mark.parametrize("theme", [Theme.LIGHT, Theme.DARK])
def test_every_curve_bar_and_mark_colour_stands_out_from_the_plot(qapp, theme):
    apply_theme(theme)
    colours = PlotColours.now()
    window = QApplication.palette().color(QPalette.ColorRole.Window)  # the legend row's
    specs = {
        **{f"encrypted {i}": s for i, s in enumerate(ENCRYPTED_SHADES)},
        **{f"plain {i}": s for i, s in enumerate(PLAIN_SHADES)},
        **{f"stage {stage.value}": s for stage, _, s in STAGES},
        "paper scheme": PAPER_SHADE,
    }
    for name, spec in specs.items():
        for background in (colours.background, window):
            assert contrast(shade(spec), background) >= GRAPHIC_CONTRAST, (theme, name)
    assert contrast(colours.text, colours.background) >= AA_TEXT
    assert contrast(colours.axis, colours.background) >= GRAPHIC_CONTRAST
    # the two families never share a colour, in either theme
    assert not {shade(s).name() for s in ENCRYPTED_SHADES} & {shade(s).name() for s in PLAIN_SHADES}
