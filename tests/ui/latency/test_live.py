"""The Live tab: a curve per camera and suite, the chosen one standing out, decrypted fallback."""

import random

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtTest import QTest

from app.protocol.hello import Suite
from app.protocol.timeline import Stage
from app.ui.latency.dock import LatencyDock
from app.ui.plots import SEQ, format_ms, robust_top, suite_colours
from tests.ui.latency.timelines import (
    NOW,
    OFFSET,
    AT_1280x800,
    add_device,
    fill,
    fill_latencies,
    in_window,
    make_timeline,
    shown,
)
from tests.waiting import scaled_ms

NOISE, PLAIN = Suite.NOISE, Suite.PLAIN


def test_live_curves_per_camera_coloured_by_suite(dock, three_cameras):
    dock.refresh()
    live = dock.live
    assert set(live.curves) == {("cam-a", NOISE), ("cam-b", PLAIN), ("cam-c", NOISE)}

    painted_a = in_window(three_cameras.stats("cam-a"), "painted_us")
    x, y = live.curves[("cam-a", NOISE)].getData()
    assert len(x) == len(painted_a) == 749 - 149  # 749 frames in 30 s; every 5th never painted
    assert sorted(y) == pytest.approx(sorted(t.to_painted_ms for t in painted_a))
    assert x.min() >= -30.0 and x.max() < 0  # seconds ago

    x, _ = live.curves[("cam-b", PLAIN)].getData()
    assert len(x) == len(in_window(three_cameras.stats("cam-b"), "painted_us")) == 749

    encrypted = live.curves[("cam-a", NOISE)].opts["pen"].color().name()
    plain = live.curves[("cam-b", PLAIN)].opts["pen"].color().name()
    assert encrypted in [c.name() for c in suite_colours(NOISE)]
    assert plain in [c.name() for c in suite_colours(PLAIN)]
    assert encrypted != plain

    labels = set(live.legend.labels())
    assert f"cam-b · {PLAIN.label}" in labels
    assert "cam-a" in labels


def test_the_selected_camera_stands_out_on_the_live_plot(dock, three_cameras):
    dock.refresh()
    curves = dock.live.curves
    assert {c.opts["pen"].color().alpha() for c in curves.values()} == {255}
    dock.select_device("cam-b")
    pens = {key[0]: curve.opts["pen"] for key, curve in curves.items()}
    assert pens["cam-b"].widthF() > pens["cam-a"].widthF()
    assert pens["cam-a"].color().alpha() < 255 and pens["cam-b"].color().alpha() == 255
    dock.select_device(None)
    assert curves[("cam-a", NOISE)].opts["pen"].color().alpha() == 255


def test_a_camera_without_painted_frames_falls_back_to_decrypted(dock, three_cameras):
    dock.refresh()
    live = dock.live
    headless = in_window(three_cameras.stats("cam-c"), "decrypted_us")
    _, y = live.curves[("cam-c", NOISE)].getData()
    assert sorted(y) == pytest.approx(sorted(t.to_decrypted_ms for t in headless))
    assert "cam-c · capture→decrypted" in set(live.legend.labels())
    assert live.axis_labels.full("left") == "latency (ms)"  # painted and not

    del three_cameras._receiver.stats["cam-a"], three_cameras._receiver.stats["cam-b"]
    dock.refresh()
    assert live.axis_labels.full("left") == "capture → decrypted (ms)"
    assert "cam-c" in live.note.text()


def test_a_frame_painted_after_a_redraw_appears_in_the_next(dock, receiver):
    stats = add_device(receiver, "cam-a", NOISE)
    fill(stats, NOISE, 10)
    late = make_timeline("cam-a", NOISE, 10, NOW - 30_000, (5_000, 10_000, 500, 2_000, None))
    stats.add_frame(late)
    dock.refresh()
    assert len(dock.live.curves[("cam-a", NOISE)].getData()[0]) == 10

    late.painted_us = late.decoded_us + 4_000
    dock.refresh()
    x, y = dock.live.curves[("cam-a", NOISE)].getData()
    assert len(x) == 11
    assert y[-1] == pytest.approx(late.to_painted_ms)


def test_curves_of_cameras_that_went_away_are_removed(dock, three_cameras):
    dock.refresh()
    del three_cameras._receiver.stats["cam-b"]
    dock.refresh()
    assert set(dock.live.curves) == {("cam-a", NOISE), ("cam-c", NOISE)}
    assert f"cam-b · {PLAIN.label}" not in set(dock.live.legend.labels())


# -- the scale, the marks, the hover and the note -----------------------------------------------


def steady(count: int, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(10.0, 30.0) for _ in range(count)]


def test_a_start_up_spike_does_not_set_the_scale_and_is_marked_at_its_top(dock, receiver):
    rng = random.Random(3)
    spike = [rng.uniform(200.0, 400.0) for _ in range(50)]  # 2 s at start-up
    calm = steady(500)  # then 20 s of steady frames
    fill_latencies(add_device(receiver, "cam-a", NOISE), NOISE, spike + calm)
    dock.refresh()
    live = dock.live

    p99 = float(np.percentile(calm, 99))
    assert p99 <= live.top() <= 1.6 * p99  # the steady line fills the plot
    x, y = live.curves[("cam-a", NOISE)].getData()
    marked = live.marked()
    assert sorted(marked) == pytest.approx(sorted(x[:50]))  # every spike frame, and only them
    _, marks_y = live.marks[("cam-a", NOISE)].getData()
    assert (marks_y > live.scale.top).all() and (marks_y < live.top()).all()  # top edge
    assert (y <= marks_y[0]).all()  # the line runs up to its marks, not out of the plot
    assert "50 slow frames above the scale" in live.note.text()
    assert f"the slowest {format_ms(max(spike))}" in live.note.text()


def test_a_lasting_rise_does_set_the_scale(dock, receiver):
    high = [v * 10 for v in steady(300)]  # 100 to 300 ms for 12 s: the new normal
    fill_latencies(add_device(receiver, "cam-a", NOISE), NOISE, steady(200) + high)
    dock.refresh()
    assert dock.live.top() >= max(high)
    assert len(dock.live.marked()) == 0


def test_the_scale_does_not_hop_between_redraws(dock, receiver):
    stats = add_device(receiver, "cam-a", NOISE)
    fill_latencies(stats, NOISE, steady(500))
    dock.refresh()
    top = dock.live.top()
    fill_latencies(stats, NOISE, [v * 0.8 for v in steady(100, seed=9)], seq=500)
    dock.refresh()  # a little lower: not enough to shrink the scale
    assert dock.live.top() == top


def frame_position(live, key, seq):
    """The scene position of frame `seq`'s point on the curve `key`, and the frame's row."""
    shown = live.shown[key]
    (index,) = np.flatnonzero(shown.rows[:, SEQ] == seq)
    vb = live.plot.getViewBox()
    return vb.mapViewToScene(QPointF(shown.x[index], shown.y[index])), index


def test_pointing_at_a_point_shows_its_frames_seq_and_stage_breakdown(dock, three_cameras, qtbot):
    dock.refresh()
    shown(dock, qtbot, AT_1280x800, dock.live)
    live = dock.live
    frame = next(t for t in three_cameras.stats("cam-b").timelines if t.seq == 990)
    scene, _ = frame_position(live, ("cam-b", PLAIN), 990)

    view = live.view
    QTest.mouseMove(view.viewport(), view.mapFromScene(scene))
    qtbot.waitUntil(lambda: "seq 990" in live.hover.text, timeout=scaled_ms(5000))
    text = live.hover.text
    assert "cam-b" in text and PLAIN.label in text
    assert format_ms(frame.to_painted_ms) in text
    for stage in Stage:
        assert format_ms(frame.stage_ms(stage)) in text, stage
    ring_x, _ = live.hover.ring.getData()
    assert ring_x[0] == pytest.approx((frame.capture_us - NOW) / 1e6)

    far = live.plot.getViewBox().mapViewToScene(QPointF(-29.0, live.top() * 0.99))
    live.hover.show_at(far)  # nothing near: no tooltip
    assert live.hover.text == ""


def test_pointing_at_a_mark_shows_the_frames_real_latency(dock, receiver, qtbot):
    spike = [300.0] * 5
    fill_latencies(add_device(receiver, "cam-a", NOISE), NOISE, spike + steady(300))
    dock.refresh()
    shown(dock, qtbot, AT_1280x800, dock.live)
    scene, _ = frame_position(dock.live, ("cam-a", NOISE), 2)
    dock.live.hover.show_at(scene)
    assert "seq 2" in dock.live.hover.text and "300.0 ms" in dock.live.hover.text


def test_the_note_says_what_the_plot_shows_and_what_to_do(dock, receiver):
    live = dock.live
    dock.refresh()
    assert "Start the demo or add a camera" in live.note.text()

    stats = add_device(receiver, "cam-a", NOISE)
    fill(stats, NOISE, 20)
    for t in stats.timelines:  # connected, but its clock not known yet
        t.clock_offset_us = None
    dock.refresh()
    assert "Waiting for cam-a to report its capture times" in live.note.text()

    for t in stats.timelines:
        t.clock_offset_us = OFFSET
    dock.refresh()
    assert "Each point is a frame" in live.note.text()
    assert "Not drawn" not in live.note.text()
    for word in ("replaced", "clock offset", "skipped"):  # the implementer's words are gone
        assert word not in live.note.text()


def test_the_note_says_which_cameras_lose_frames_before_they_are_shown(dock, three_cameras):
    dock.refresh()
    note = dock.live.note.text()
    assert "Not drawn: frames the window had no time to show (cam-a 20%)" in note
    assert "cam-c: not shown in this window" in note


def test_a_robust_top_ignores_up_to_a_quarter_of_outliers_and_is_a_nice_number():
    calm = np.array(steady(750))
    p99 = float(np.percentile(calm, 99))
    for outliers in (0, 10, 150):  # none, a few, a fifth of the frames
        values = np.concatenate((np.full(outliers, 900.0), calm))
        top = robust_top(values)
        assert p99 * 1.15 <= top <= p99 * 1.15 * 1.25, outliers
        assert top == 40.0  # a nice number: 34.3 ms rounded up to 4 × 10
    assert robust_top(np.array([np.nan]), floor=10.0) == 10.0


def test_the_notes_numbers_change_at_most_once_a_second(receiver, comparison, qtbot):
    now = [NOW]
    dock = LatencyDock(receiver, comparison, clock=lambda: now[0])
    qtbot.addWidget(dock)
    dock.stop()
    stats = add_device(receiver, "cam-a", NOISE)
    fill_latencies(stats, NOISE, [300.0] * 5 + steady(500))
    dock.refresh()
    assert "5 slow frames" in dock.live.note.text()

    fill_latencies(stats, NOISE, [300.0] * 2, seq=505)  # two more, the next tick
    now[0] += 100_000
    dock.refresh()
    assert len(dock.live.marked()) == 7  # the plot follows at once
    assert "5 slow frames" in dock.live.note.text()  # the words wait
    now[0] += 1_000_000
    dock.refresh()
    assert "7 slow frames" in dock.live.note.text()


def test_marks_keep_the_newest_frames_over_every_curve_each_in_its_curves_colour(
    dock, receiver, monkeypatch
):
    from app.ui.latency import live as live_module

    monkeypatch.setattr(live_module, "MAX_MARKS", 30)
    # Two cameras with a slow frame every fifth: 40 marks each, more than the 30 kept.
    slow = [500.0 if i % 5 == 0 else v for i, v in enumerate(steady(200))]
    for name in ("cam-a", "cam-b"):
        fill_latencies(add_device(receiver, name, NOISE), NOISE, slow)
    dock.refresh()
    live = dock.live
    slow_x = [live.curves[(n, NOISE)].getData()[0][::5] for n in ("cam-a", "cam-b")]
    assert len(live.marked()) == 30
    assert np.sort(live.marked()) == pytest.approx(np.sort(np.concatenate(slow_x))[-30:])
    for key, item in live.marks.items():
        assert item.opts["brush"].color() == live.curves[key].opts["pen"].color()
