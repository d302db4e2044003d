"""Adaptive quality closed against the firmware itself: the app's real Receiver and Adapter, and
`securecam-board` (the firmware's StreamClient and camera_board.cpp on the host model,
firmware/host/board) streaming over the model's lwIP link. The sensor model serves JPEGs
rendered at the frame size and quality in force (--frames-by-setting), so every CONTROL the
Adapter sends changes what crosses the link, as on a real OV2640.

Conditions are waited for, never timed; how long each took is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.bench.board import (
    NAME,
    BoardProcess,
    board_args,
    board_process,
    write_frames_by_setting,
)
from app.protocol.clock import monotonic_us
from app.protocol.framesize import FrameSize, jpeg_buffer_bytes
from app.protocol.records import Control
from app.protocol.session import Credentials
from app.receiver.adapt import SIZES, QualityController, Setting
from app.receiver.adapter import Adapter
from app.receiver.events import FrameArrived, ReceiverEvent, StatusArrived
from app.receiver.server import Receiver
from app.receiver.stats import percentile
from app.sim.sources import jpeg_dimensions
from tests.waiting import scaled, wait_until

KEY = bytes(range(40, 72))
STEADY_S = 3.0  # settings and the drop counter held this long, latency under the goal: settled
P95_GOAL_MS = 200.0
_DECISION = re.compile(r": adapted (\w+) to (.+?) \(")

Rendered = dict[tuple[FrameSize, int], list[bytes]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Rendered]:
    """Three frames per size of the ladder and quality it can ask for, from UXGA at q12."""
    folder = tmp_path_factory.mktemp("by-setting")
    frames = write_frames_by_setting(folder)
    for (size, _quality), jpegs in frames.items():
        assert all(len(j) < jpeg_buffer_bytes(FrameSize.UXGA) for j in jpegs)  # none dropped
        assert {jpeg_dimensions(j) for j in jpegs} == {(size.width, size.height)}
    return folder, frames


@dataclass
class Run:
    receiver: Receiver
    adapter: Adapter
    events: list[ReceiverEvent]
    board: BoardProcess

    @property
    def controller(self) -> QualityController:
        return self.adapter.controller(NAME)

    def statuses(self) -> list[StatusArrived]:
        return [e for e in self.events if isinstance(e, StatusArrived)]


@contextlib.asynccontextmanager
async def running(
    binary: Path, frames: Path, tmp_path: Path, *args: str, adapt: bool = True
) -> AsyncIterator[Run]:
    """The receiver (and its Adapter, disabled unless `adapt`) and securecam-board with
    --frames-by-setting `frames` and `args`."""
    receiver = Receiver({NAME: Credentials(NAME, KEY)}.get, host="127.0.0.1", port=0)
    events: list[ReceiverEvent] = []
    receiver.add_listener(events.append)
    await receiver.start()
    adapter = Adapter(receiver, enabled=adapt)
    adapter.start()
    key_file = tmp_path / "key"
    key_file.write_text(KEY.hex())
    key_file.chmod(0o600)
    argv = board_args(receiver.port, key_file, frames, *args, by_setting=True)
    try:
        async with board_process(binary, argv, scaled(10)) as board:
            yield Run(receiver, adapter, events, board)
    finally:
        await adapter.stop()
        await receiver.stop()


@pytest.fixture
async def run(
    firmware_build: Path, rendered: tuple[Path, Rendered], tmp_path: Path
) -> AsyncIterator[Run]:
    # UXGA at JPEG quality 12 (the board raises it to UXGA's floor, 17), a 25 fps sensor and
    # the firmware's default cap of 25 fps, over 2 Mbit/s with a 2 ms round trip (at 10 ms the
    # 5,744-byte send buffer alone would hold the link under 4.6 Mbit/s: no room for VGA).
    async with running(
        firmware_build / "securecam-board",
        rendered[0],
        tmp_path,
        *("--frame-size", str(FrameSize.UXGA.value), "--quality", "12", "--sensor-fps", "25"),
        *("--rate-kbit", "2000", "--rtt-ms", "2"),
    ) as run:
        yield run


async def test_the_sensor_model_serves_the_size_in_force_at_the_nearest_rendered_quality(
    firmware_build: Path, rendered: tuple[Path, Rendered], tmp_path: Path
) -> None:
    frames = rendered[1]

    async with running(
        firmware_build / "securecam-board",
        rendered[0],
        tmp_path,
        *("--frame-size", str(FrameSize.VGA.value), "--quality", "12"),
        *("--rate-kbit", "20000", "--rtt-ms", "2"),
        adapt=False,
    ) as run:

        def got(size: FrameSize, quality: int) -> bool:
            return any(
                isinstance(e, FrameArrived) and bytes(e.frame.jpeg) in frames[size, quality]
                for e in run.events
            )

        async def control(control: Control) -> None:
            assert await run.receiver.send_control(NAME, control)

        await wait_until(lambda: got(FrameSize.VGA, 12), 30, interval=0.05)
        # 25 was not rendered: 20 and 30 are as near, and the smaller frames win the tie.
        await control(Control(quality=25))
        await wait_until(lambda: got(FrameSize.VGA, 30), 15, interval=0.05)
        assert run.statuses()[-1].status.quality == 25  # what the camera was set to
        # HD was not rendered: the model's sensor refuses it, and the firmware keeps VGA.
        await control(Control(frame_size=FrameSize.HD))
        await wait_until(lambda: run.board.logged("camera: could not switch to HD"), 15)
        await control(Control(frame_size=FrameSize.QVGA, quality=12))
        await wait_until(lambda: got(FrameSize.QVGA, 12), 15, interval=0.05)
    sizes = [FrameSize(s.status.frame_size) for s in run.statuses()]
    assert FrameSize.HD not in sizes
    assert sizes[-1] is FrameSize.QVGA


async def settle(run: Run, timeout: float) -> tuple[float, float, int]:
    """Wait until, for STEADY_S, the Adapter changed nothing, the board's frames_dropped (what
    STATUS reports) did not grow and frames captured in that span crossed with a p95 under the
    goal. Returns the seconds taken (to the span's start), that p95 and frames_dropped."""
    started = time.monotonic()

    async def mark() -> tuple[int, int, int]:
        stats = await run.board.stats()
        return run.adapter.changes, stats["frames_dropped"], monotonic_us()

    async with asyncio.timeout(timeout):
        since = await mark()
        while True:
            await asyncio.sleep(0.25)
            now = await mark()
            if now[:2] != since[:2]:
                since = now  # a change or a drop: the steady span starts again
                continue
            if now[2] - since[2] < STEADY_S * 1e6:
                continue
            latencies = sorted(
                ms
                for e in run.events
                if isinstance(e, FrameArrived)
                and (t := e.frame.timeline).capture_us is not None
                and t.capture_us >= since[2]
                and (ms := t.latency_ms(t.decrypted_us)) is not None
            )
            p95 = percentile(latencies, 95) if len(latencies) >= 5 else math.inf
            if p95 < P95_GOAL_MS:
                return time.monotonic() - started - STEADY_S, p95, now[1]
            since = now


async def test_the_firmware_applies_each_adaptive_step_live_down_on_2_mbit_and_up_on_30(
    run: Run, rendered: tuple[Path, Rendered], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.receiver.adapter")
    started = time.monotonic()
    first = await wait_until(run.statuses, 30, interval=0.05)
    ceiling = Setting.of(first[0].status)
    assert ceiling == Setting(FrameSize.UXGA, 17, 25)  # 12 raised to UXGA's buffer floor

    took, p95, dropped = await settle(run, scaled(90))
    low = run.controller.current
    assert low is not None and run.controller.adapted
    # A UXGA frame alone takes 0.75 s at 2 Mbit/s: it had to go well below.
    assert low.frame_size.pixels < FrameSize.UXGA.pixels
    # UXGA dropped most of the sensor's frames, and STATUS said so; then the count held.
    assert dropped > 0
    assert max(s.status.frames_dropped or 0 for s in run.statuses()) > 0
    print(
        f"\n2 Mbit/s: settled at {low.describe()} after {took:.1f} s "
        f"(then for {STEADY_S:g} s: p95 {p95:.0f} ms, frames_dropped held at {dropped})"
    )
    stepped = time.monotonic()

    await run.board.command("rate 30000")

    def climbed() -> Setting | None:
        # A larger frame size than the one it settled at: the firmware applied the app's
        # steps up live. How far it climbs depends on what the model link carries at 2 ms
        # (about 11-13 Mbit/s here; CIF to VGA is a few per cent from the 60 % busy rule),
        # so the goal's own figure is measured in `make bench` on the shaped link instead.
        current = run.controller.current
        return current if current and current.frame_size.pixels > low.frame_size.pixels else None

    high = await wait_until(climbed, 120, interval=0.05)
    assert high is not None
    high_dimensions = (high.frame_size.width, high.frame_size.height)
    print(f"30 Mbit/s: climbed to {high.describe()} after {time.monotonic() - stepped:.1f} s")
    # The STATUS confirming a new size comes before the first frame at that size.
    await wait_until(
        lambda: any(
            isinstance(e, FrameArrived) and jpeg_dimensions(bytes(e.frame.jpeg)) == high_dimensions
            for e in run.events
        ),
        30,
        interval=0.05,
    )
    print(f"whole run {time.monotonic() - started:.1f} s")

    # Every decision reached the firmware, which applied it live: a STATUS reports each,
    # in the order they were made.
    made = [(r.created, m) for r in caplog.records if (m := _DECISION.search(r.getMessage()))]
    decisions = [m.group(2) for _, m in made]
    reported = [s.describe() for e in run.statuses() if (s := Setting.of(e.status)) is not None]
    wall = time.time() - time.monotonic()  # LogRecord.created is wall-clock time
    for created, m in made:
        print(f"  {created - wall - started:5.1f} s  {m.group(1):<4} {m.group(2)}")
    assert len(decisions) >= 2 and decisions[-1] == high.describe()
    position = 0
    for decision in decisions:
        assert decision in reported[position:], f"{decision} never reported after {position}"
        position = reported.index(decision, position)

    # The frames are the sensor's at the settings in force: each has the dimensions the STATUS
    # before it reports, and is one rendered at that size.
    by_size: dict[tuple[int, int], set[bytes]] = {}
    for (size, _quality), jpegs in rendered[1].items():
        by_size.setdefault((size.width, size.height), set()).update(jpegs)
    status = None
    sizes_seen: list[tuple[int, int]] = []
    for event in run.events:
        if isinstance(event, StatusArrived):
            status = event.status
        elif isinstance(event, FrameArrived):
            assert status is not None
            jpeg = bytes(event.frame.jpeg)
            assert jpeg_dimensions(jpeg) == (status.width, status.height)
            assert jpeg in by_size[status.width, status.height]
            if not sizes_seen or sizes_seen[-1] != (status.width, status.height):
                sizes_seen.append((status.width, status.height))
    assert sizes_seen[0] == (1600, 1200)
    assert (low.frame_size.width, low.frame_size.height) in sizes_seen
    assert sizes_seen[-1] == high_dimensions
    assert {FrameSize(s.status.frame_size) for s in run.statuses()} <= set(SIZES)
