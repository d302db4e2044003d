"""The demo fleet's rooms can be rendered before the fleet exists, once, off the caller's thread."""

import threading

from app.protocol.framesize import FrameSize
from app.sim import sources
from app.sim.demo import DemoFleet, render_rooms_early
from app.sim.sources import SyntheticSource


async def test_rooms_rendered_early_are_the_ones_the_demo_cameras_show(monkeypatch):
    rendered: list[tuple[int, int, int, str]] = []
    real = sources._scene.__wrapped__

    def noting(seed, width, height):
        rendered.append((seed, width, height, threading.current_thread().name))
        return real(seed, width, height)

    monkeypatch.setattr(sources, "_scene", sources.lru_cache(maxsize=16)(noting))
    render_rooms_early(2, FrameSize.QQVGA).join()
    fleet = DemoFleet(2, size=FrameSize.QQVGA)
    for name in fleet.names:  # their rooms are ready: no second render
        fleet.start_camera(name, "ws://127.0.0.1:9/camera").source.next_frame()
    await fleet.stop()
    assert [r[:3] for r in rendered] == [(0, 160, 120), (1, 160, 120)]
    assert {r[3] for r in rendered} == {"demo rooms"}


def test_threads_asking_for_one_room_at_once_render_it_once(monkeypatch):
    calls = []
    real = sources._scene.__wrapped__

    def counting(seed, width, height):
        calls.append(seed)
        return real(seed, width, height)

    monkeypatch.setattr(sources, "_scene", sources.lru_cache(maxsize=16)(counting))
    threads = [
        threading.Thread(target=SyntheticSource(FrameSize.QQVGA, seed=7).prepare) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [7]
