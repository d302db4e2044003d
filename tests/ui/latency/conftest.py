"""The latency dock over real DeviceStats rings filled with synthetic frame timelines.

The receiver is a real ReceiverService whose (never started) Receiver holds the stats (the
`receiver` fixture of tests/conftest.py), so the dock reads them through the real
`all_stats()` / `stats()`; the comparison service is real too. The timelines come from
tests/ui/latency/timelines.py.
"""

import pytest

from app.protocol.hello import Suite
from app.services.comparison import ComparisonService
from app.ui.latency.dock import LatencyDock
from tests.ui.latency.timelines import NOW, add_device, fill


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
    noise, plain = Suite.NOISE, Suite.PLAIN
    fill(add_device(receiver, "cam-a", noise), noise, 1000, unpainted_every=5, seed=1)
    fill(add_device(receiver, "cam-b", plain), plain, 1000, seed=2)
    fill(add_device(receiver, "cam-c", noise, live=False), noise, 300, painted=False, seed=3)
    return receiver
