"""The latency dock's former home, kept so `from app.ui.latency_dock import LatencyDock` works.

The dock is `app.ui.latency.dock.LatencyDock` (the same class); its tabs and the export are the
other modules of `app.ui.latency`.
"""

from app.ui.latency.dock import LatencyDock

__all__ = ["LatencyDock"]
