"""The Stages tab: per-stage means of the last two seconds, bars, and the camera it shows."""

import pytest
from PySide6.QtCore import QPointF

from app.protocol.hello import Suite
from app.protocol.timeline import Stage
from app.ui.plots import format_ms
from tests.ui.latency.timelines import NOW, AT_1280x800, add_device, fill_latencies, shown


def test_stages_are_the_means_of_the_last_two_seconds(dock, three_cameras):
    dock.refresh()
    stages = dock.stages
    assert dock.selected_device() == "cam-a"  # the first camera with data

    recent = [t for t in three_cameras.stats("cam-a").timelines if t.last_rx_us >= NOW - 2_000_000]
    assert 45 <= len(recent) <= 52

    def mean(values):
        values = [v for v in values if v is not None]
        return sum(values) / len(values)

    # Written out from the stamps here, not through FrameTimeline's own arithmetic.
    expected = {
        Stage.DEVICE: mean((t.device_send_us - t.device_capture_us) / 1000 for t in recent),
        Stage.NETWORK: mean(
            (t.last_rx_us - (t.device_send_us - t.clock_offset_us)) / 1000 for t in recent
        ),
        Stage.DECRYPT: mean((t.decrypted_us - t.last_rx_us) / 1000 for t in recent),
        Stage.DECODE: mean((t.decoded_us - t.decrypted_us) / 1000 for t in recent),
        Stage.PAINT: mean(
            None if t.painted_us is None else (t.painted_us - t.decoded_us) / 1000 for t in recent
        ),
    }
    total = mean(
        None
        if t.painted_us is None
        else (t.painted_us - (t.device_capture_us - t.clock_offset_us)) / 1000
        for t in recent
    )
    painted = sum(t.painted_us is not None for t in recent)
    for row, stage in enumerate(Stage):
        value, count = stages.summary[stage]
        assert value == pytest.approx(expected[stage]), stage
        assert count == (painted if stage is Stage.PAINT else len(recent))
        assert stages.table.item(row, 0).text() == format_ms(expected[stage])
    assert stages.total[0] == pytest.approx(total) and stages.total[1] == painted
    assert stages.table.item(len(Stage), 0).text() == format_ms(total)
    assert sum(expected.values()) == pytest.approx(total, rel=0.05)

    # The stacked bars' top of the newest full bin is the sum of its stage means.
    heights = sum(bars.opts["height"][-2] for bars in stages.bars.values())
    assert 10 < heights < 80


def test_select_device_switches_the_stages_camera(dock, three_cameras):
    dock.refresh()
    stages = dock.stages
    dock.select_device("cam-c")
    assert dock.selected_device() == "cam-c"
    assert stages.summary[Stage.PAINT] == (None, 0)
    assert stages.table.item(4, 0).text() == "—"
    assert stages.table.verticalHeaderItem(5).text() == "capture → decrypted"
    assert stages.combo.currentData() == "cam-c"
    assert "cam-c" in stages.label.text()
    dock.select_device(None)
    assert dock.selected_device() == "cam-a"


def test_the_combo_box_chooses_the_camera(dock, three_cameras):
    dock.refresh()
    stages = dock.stages
    stages.combo.activated.emit(stages.combo.findData("cam-b"))
    assert dock.selected_device() == "cam-b"
    assert "cam-b" in stages.label.text() and "plain (INSECURE)" in stages.label.text()
    stages.combo.activated.emit(0)  # "first camera with data"
    assert dock.selected_device() == "cam-a"


def test_a_few_slow_half_seconds_do_not_set_the_bars_scale_and_are_marked(dock, receiver, qtbot):
    stats = add_device(receiver, "cam-a", Suite.NOISE)
    fill_latencies(stats, Suite.NOISE, [500.0] * 25 + [20.0] * 500)  # 1 s slow, then 20 s calm
    dock.refresh()
    stages = dock.stages
    top = stages.plot.viewRange()[1][1]
    assert 20.0 <= top <= 30.0
    x, y = stages.marks.getData()
    assert len(x) in (2, 3) and (x < -19).all()  # the slow bins (21 to 20 s ago), only those
    assert max((b.opts["y0"] + b.opts["height"]).max() for b in stages.bars.values()) < top

    shown(dock, qtbot, AT_1280x800, stages)
    vb = stages.plot.getViewBox()
    stages.hover.show_at(vb.mapViewToScene(QPointF(x[0], y[0] * 0.5)))
    assert "all stages" in stages.hover.text and "500.0 ms" in stages.hover.text


def test_the_newest_half_seconds_always_fit_the_bars_scale(dock, receiver):
    stats = add_device(receiver, "cam-a", Suite.NOISE)
    fill_latencies(stats, Suite.NOISE, [20.0] * 500 + [300.0] * 25)  # calm, then a slow second
    dock.refresh()
    stages = dock.stages
    top = stages.plot.viewRange()[1][1]
    assert top >= 300.0
    x, _ = stages.marks.getData()
    assert len(x) == 0
