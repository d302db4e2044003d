"""Demo cameras: simulated ESP32-CAMs registered in a throwaway registry."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from pathlib import Path

from app.devices.registry import Registry
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.sim.camera import SimulatedCamera
from app.sim.sources import SyntheticSource
from app.tasks import spawn


def render_rooms_early(count: int, size: FrameSize = FrameSize.VGA) -> threading.Thread:
    """Render the rooms `DemoFleet(count)` will show, in a background thread started now.

    Started before the window is built, the rooms (about 50 ms each at VGA) render on the
    other core meanwhile, so the first demo frame need not wait for them.
    """

    def render() -> None:
        for index in range(count):
            SyntheticSource(size, seed=index).prepare()  # as DemoFleet.start_camera seeds it

    thread = threading.Thread(target=render, name="demo rooms", daemon=True)
    thread.start()
    return thread


class DemoFleet:
    """`count` demo cameras named demo-1..demo-N; plain is allowed so comparisons can run."""

    def __init__(
        self, count: int = 1, *, size: FrameSize = FrameSize.VGA, fps: float = 25.0
    ) -> None:
        if count < 1:
            raise ValueError("a demo needs at least one camera")
        self._tempdir = tempfile.TemporaryDirectory(prefix="securecam-demo-")
        self.registry = Registry(Path(self._tempdir.name))
        self.names = [f"demo-{i}" for i in range(1, count + 1)]
        for name in self.names:
            self.registry.add(name, allow_plain=True)
        self.size = size
        self.fps = fps
        self.cameras: dict[str, SimulatedCamera] = {}
        self._tasks: dict[str, asyncio.Task[object]] = {}

    def start(self, url: str, suite: Suite = Suite.NOISE) -> None:
        for name in self.names:
            self.start_camera(name, url, suite)

    def start_camera(self, name: str, url: str, suite: Suite = Suite.NOISE) -> SimulatedCamera:
        """(Re)start one camera; a running one is stopped first."""
        old = self._tasks.pop(name, None)
        if old is not None:
            self.cameras[name].stop()
        camera = SimulatedCamera(
            url,
            name,
            self.registry.get(name).key.raw,
            # Each camera its own room, the same one again when it restarts.
            SyntheticSource(self.size, label=name, seed=self.names.index(name)),
            suite=suite,
            fps=self.fps,
            capture_in_thread=True,  # the demo shares the window's event loop
        )
        self.cameras[name] = camera
        self._tasks[name] = spawn(camera.run(), name=f"demo camera {name}")
        return camera

    async def stop(self) -> None:
        for camera in self.cameras.values():
            camera.stop()
        tasks = list(self._tasks.values())
        self._tasks.clear()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=3)
            for task in pending:
                task.cancel()
            for task in done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()
        self._tempdir.cleanup()
