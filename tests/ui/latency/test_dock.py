"""The latency dock as a whole: it follows the rings incrementally and redraws them cheaply."""

from app.protocol.hello import Suite
from app.receiver.stats import RING_SIZE
from app.ui import latency_dock
from app.ui.latency.dock import LatencyDock
from tests.ui.latency.timelines import AT_1280x800, add_device, fill, shown


def test_sixteen_full_rings_redraw(dock, receiver):
    for i in range(16):
        suite = Suite.PLAIN if i % 4 == 3 else Suite.NOISE
        fill(add_device(receiver, f"cam-{i:02}", suite), suite, RING_SIZE, seed=i)
    dock.refresh()
    curves = dock.live.curves
    assert len(curves) == 16
    assert all(len(c.getData()[0]) == 749 for c in curves.values())
    dock.refresh()  # nothing new: the incremental copies stay put
    assert all(len(c.getData()[0]) == 749 for c in curves.values())


def test_cameras_that_went_away_are_no_longer_followed(dock, receiver):
    fill(add_device(receiver, "cam-a", Suite.NOISE), Suite.NOISE, 100)
    dock.refresh()
    assert dock.selected_device() == "cam-a"
    del receiver._receiver.stats["cam-a"]
    dock.refresh()
    assert dock.selected_device() is None
    assert dock.live.curves == {}
    assert "No camera has sent frames yet" in dock.stages.label.text()


def test_the_old_import_path_is_the_same_dock():
    assert latency_dock.LatencyDock is LatencyDock


def test_the_timer_redraws_only_the_tab_on_show(dock, three_cameras, qtbot):
    shown(dock, qtbot, AT_1280x800, dock.comparison_tab)
    dock._tick()  # the comparison is on show: the live plots wait
    assert dock.live.curves == {} and dock.stages.summary == {}
    dock.tabs.setCurrentWidget(dock.stages)  # shown: drawn at once
    assert dock.stages.summary and dock.live.curves == {}
    dock.tabs.setCurrentWidget(dock.live)
    assert len(dock.live.curves) == 3
