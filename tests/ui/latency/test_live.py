"""The Live tab: a curve per camera and suite, the chosen one standing out, decrypted fallback."""

import pytest

from app.protocol.hello import Suite
from app.ui.plots import ENCRYPTED_COLOURS, PLAIN_COLOURS
from tests.ui.latency.timelines import NOW, add_device, fill, in_window, make_timeline

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
    assert encrypted in ENCRYPTED_COLOURS and plain in PLAIN_COLOURS
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
    assert live.plot.getAxis("left").labelText == "latency (ms)"  # painted and not

    del three_cameras._receiver.stats["cam-a"], three_cameras._receiver.stats["cam-b"]
    dock.refresh()
    assert live.plot.getAxis("left").labelText == "capture → decrypted (ms)"
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
