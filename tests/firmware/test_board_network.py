"""The board layer's network half on the host, against the real receiver (docs: firmware/README.md,
"The host model").

`securecam-board` (firmware/host/board) is the firmware's own StreamClient, WsClient, ws_codec,
back-off and protocol core, compiled for the host, with a model of what the ESP32 puts under
them: lwIP's 5,744-byte TCP send buffer drained at a given rate and round trip, a sensor that
finishes a frame every 1/fps s into two buffers, and the app's side able to stop reading or
reset. It streams real UXGA JPEGs to the app's real Receiver over loopback.

What is asserted never depends on how busy this machine is:
- blocking is the time the loop spent waiting inside the model, and its work is its thread's
  CPU time, not wall time;
- a PONG's delay is the link time of what the firmware queued ahead of it (bytes / rate), which
  the firmware's design decides, not the scheduler;
- the end of a connection is noticed within loop iterations, not milliseconds.
Wall-clock figures are measured by `python -m app.bench.board`.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.bench.board import BoardProcess, board_args, board_process, write_frames
from app.protocol.framesize import FrameSize, jpeg_buffer_bytes
from app.protocol.records import Control
from app.protocol.session import Credentials
from app.receiver.events import (
    DeviceConnected,
    DeviceDisconnected,
    FrameArrived,
    ReceiverEvent,
    StatusArrived,
)
from app.receiver.server import Receiver
from app.sim.camera import BOARD_SEND_BUFFER
from tests.waiting import scaled, wait_until

KEY = bytes(range(40, 72))
NAME = "board"  # app.bench.board's device name
SEND_BUFFER = BOARD_SEND_BUFFER
CHUNK_DATA = 8192  # StreamClient::kChunkData
POLL_SLACK_US = 100_000  # a blocking wait's time outside its sleeps (polling, scheduling)


@pytest.fixture(scope="module")
def uxga_frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four real UXGA JPEGs of about 215 KB, as an OV2640 at quality 17 gives."""
    folder = tmp_path_factory.mktemp("uxga")
    for jpeg in write_frames(folder):
        assert len(jpeg) < jpeg_buffer_bytes(FrameSize.UXGA)  # the driver would drop it
    return folder


@dataclass
class Rig:
    receiver: Receiver
    events: list[ReceiverEvent]
    frames_dir: Path
    key_file: Path
    binary: Path

    def board(self, *args: str, server: str = "127.0.0.1") -> AsyncContextManager[BoardProcess]:
        argv = board_args(self.receiver.port, self.key_file, self.frames_dir, *args)
        argv[argv.index("--server") + 1] = server
        return board_process(self.binary, argv, timeout=scaled(10))

    def frames(self) -> list[FrameArrived]:
        return [e for e in self.events if isinstance(e, FrameArrived)]

    def statuses(self) -> list[StatusArrived]:
        return [e for e in self.events if isinstance(e, StatusArrived)]

    def count(self, kind: type) -> int:
        return sum(isinstance(e, kind) for e in self.events)


@pytest.fixture
async def rig(firmware_build: Path, uxga_frames: Path, tmp_path: Path) -> AsyncIterator[Rig]:
    receiver = Receiver({NAME: Credentials(NAME, KEY)}.get, host="127.0.0.1", port=0)
    events: list[ReceiverEvent] = []
    receiver.add_listener(events.append)
    await receiver.start()
    key_file = tmp_path / "key"
    key_file.write_text(KEY.hex())
    key_file.chmod(0o600)
    rig = Rig(receiver, events, uxga_frames, key_file, firmware_build / "securecam-board")
    try:
        yield rig
    finally:
        await receiver.stop()


async def test_loop_never_blocks_and_pongs_wait_for_at_most_one_chunk_on_a_2_mbit_link(
    rig: Rig,
) -> None:
    # UXGA frames of ~215 KB take ~0.9 s each at 2 Mbit/s; the app pings every second.
    async with rig.board("--rate-kbit", "2000", "--rtt-ms", "10") as board:
        await wait_until(lambda: len(rig.frames()) >= 3, scaled(30))
        stats = await wait_until_stats(board, lambda s: len(s["pong_link_ms"]) >= 3)
    assert stats["worst_blocked_us"] == 0  # no loop iteration waits at all (limit: 50 ms)
    assert stats["worst_cpu_us"] < 50_000
    assert stats["write_full"] > 0  # the link was the bottleneck, and the loop went on
    # Ahead of a PONG: at most the rest of one chunk and a full send buffer.
    worst = max(stats["pong_link_ms"])
    assert worst < 100
    assert worst <= (CHUNK_DATA + 200 + SEND_BUFFER) / (2e6 / 8) * 1000


async def test_a_control_mid_frame_holds_no_pong_back_and_applies_between_frames(
    rig: Rig,
) -> None:
    # A CONTROL makes a STATUS due; it waits for the frame's end, the PONGs must not.
    async with rig.board("--rate-kbit", "2000", "--rtt-ms", "10") as board:
        await wait_until(lambda: len(rig.frames()) >= 1, scaled(30))
        for quality in (20, 22, 24):
            # Applied (and reported) between frames: the next CONTROL lands in the next frame.
            assert await rig.receiver.send_control(NAME, Control(quality=quality))
            await wait_until(lambda q=quality: rig.statuses()[-1].status.quality == q, scaled(15))
        stats = await wait_until_stats(board, lambda s: len(s["pong_link_ms"]) >= 3)
    assert max(stats["pong_link_ms"]) <= (CHUNK_DATA + 200 + SEND_BUFFER) / (2e6 / 8) * 1000


async def test_frames_are_dropped_never_queued_on_a_slow_link_and_arrive_whole(rig: Rig) -> None:
    async with rig.board("--rate-kbit", "2000", "--rtt-ms", "10") as board:
        await wait_until(lambda: len(rig.frames()) >= 4, scaled(30))
        await wait_until(
            lambda: any((s.status.frames_dropped or 0) > 0 for s in rig.statuses()), scaled(15)
        )
        stats = await board.stats()
    sent = {path.read_bytes() for path in rig.frames_dir.glob("*.jpg")}
    frames = rig.frames()
    assert all(bytes(f.frame.jpeg) in sent for f in frames)  # whole and bit-exact, never cut
    seqs = [f.frame.seq for f in frames]
    assert seqs == sorted(set(seqs))
    # The sensor made ~15 frames a second; the link carries about one. Every frame captured
    # was either sent or counted as dropped: none waits in a queue.
    assert stats["frames_captured"] > 3 * stats["frames_started"]
    # Up to two frames are in between (one being sent, one on the capture task), and the
    # firmware counts drops from slot times when a frame ends: at most one slot off per frame
    # sent (stream.cpp), whatever the frames weigh.
    unaccounted = stats["frames_captured"] - stats["frames_started"] - stats["frames_dropped"]
    assert abs(unaccounted) <= 2 + stats["frames_started"]
    assert stats["bytes_accepted"] - stats["bytes_delivered"] <= SEND_BUFFER
    reported = max(s.status.frames_dropped or 0 for s in rig.statuses())
    assert 0 < reported <= stats["frames_dropped"]
    assert all(s.status.quality >= 17 for s in rig.statuses())  # UXGA's buffer floor


async def test_a_quality_the_jpeg_buffer_cannot_hold_is_raised_and_follows_the_size(
    rig: Rig,
) -> None:
    # camera_board.cpp itself runs here, over the model of esp32-camera: UXGA's buffer
    # (384,000 B) cannot take every frame below quality 17, VGA's share of it can take 4.
    def quality() -> int:
        return rig.statuses()[-1].status.quality

    async with rig.board("--quality", "12", "--rate-kbit", "20000", "--rtt-ms", "2") as board:
        await wait_until(lambda: bool(rig.statuses()), scaled(30))
        assert quality() == 17  # asked 12
        for control, expected in (
            (Control(frame_size=FrameSize.VGA.value), 12),
            (Control(quality=4), 4),
            (Control(frame_size=FrameSize.UXGA.value), 17),
        ):
            assert await rig.receiver.send_control(NAME, control)
            await wait_until(lambda expected=expected: quality() == expected, scaled(15))
        stats = await board.stats()
    assert stats["sensor_quality"] == 17  # what the sensor itself was set to
    assert board.logged("JPEG quality 17 at UXGA (4 could overflow the 384000-byte buffer)")


async def test_a_peer_that_stops_reading_fills_the_buffer_but_never_stops_the_loop(
    rig: Rig,
) -> None:
    async with rig.board("--rate-kbit", "8000", "--rtt-ms", "4") as board:
        await wait_until(lambda: len(rig.frames()) >= 1, scaled(30))
        await board.command("stall 1")
        before = await board.stats()
        await wait_until_stats(board, lambda s: s["write_full"] > before["write_full"] + 500)
        # 500 more writes refused: the loop kept going round, offering, never waiting.
        stalled = await board.stats()
        assert stalled["bytes_accepted"] - stalled["bytes_delivered"] <= SEND_BUFFER
        frames_before = len(rig.frames())
        await board.command("stall 0")
        await wait_until(lambda: len(rig.frames()) > frames_before + 1, scaled(30))
        after = await board.stats()
    assert after["worst_blocked_us"] == 0
    assert after["connects"] == 1  # the same session carried on


async def test_the_apps_fin_is_noticed_at_once_and_reconnection_follows_the_backoff(
    rig: Rig,
) -> None:
    async with rig.board("--rate-kbit", "8000", "--rtt-ms", "4") as board:
        await wait_until(lambda: len(rig.frames()) >= 1, scaled(30))
        server = rig.receiver._server  # the app half-closes: an orderly FIN, no close frame
        assert server is not None
        for connection in list(server.connections):
            sock = connection.transport.get_extra_info("socket")
            sock.shutdown(socket.SHUT_WR)
        await wait_until(lambda: rig.count(DeviceConnected) >= 2, scaled(30))
        stats = await board.stats()
    assert stats["end_notice_iterations"][0] <= 2
    assert board.logged("connection ended: 1006 the app closed the connection")
    match = re.search(r"reconnecting in (\d+) ms", board.logged("reconnecting in")[0][1])
    assert match is not None
    wait_us = int(match.group(1)) * 1000
    assert 250_000 <= wait_us <= 500_000  # the first back-off step: [d/2, d], d = 500 ms
    # Never earlier than the back-off: from the loop step that saw the FIN to the new connect.
    assert stats["connect_at_us"][1] - stats["end_iteration_start_us"][0] >= wait_us
    assert stats["connects"] == 2


async def test_a_reset_is_noticed_at_once_and_the_camera_reconnects(rig: Rig) -> None:
    async with rig.board("--rate-kbit", "8000", "--rtt-ms", "4") as board:
        await wait_until(lambda: len(rig.frames()) >= 1, scaled(30))
        await board.command("reset")
        await wait_until(lambda: rig.count(DeviceConnected) >= 2, scaled(30))
        stats = await board.stats()
    assert stats["end_notice_iterations"][0] <= 2
    assert board.logged("connection ended: 1006 connection reset")
    assert rig.count(DeviceDisconnected) >= 1


async def test_a_name_that_never_resolves_fails_in_time_without_blocking(rig: Rig) -> None:
    # The board's limit is 5 s (NetLink::kResolveTimeoutMs); 1 s here keeps the test short.
    async with rig.board("--dns-timeout-ms", "1000", server="camera-app.invalid") as board:
        await wait_until(lambda: bool(board.logged("name lookup timed out")), scaled(30))
        stats = await board.stats()
    assert stats["worst_blocked_us"] == 0
    assert board.logged("connection ended: 1006 name lookup timed out")
    assert board.logged("reconnecting in")


async def test_a_host_name_is_resolved_and_streams(rig: Rig) -> None:
    async with rig.board(server="localhost") as board:
        await wait_until(lambda: len(rig.frames()) >= 1, scaled(30))
        assert (await board.stats())["connects"] == 1


async def wait_until_stats(board: BoardProcess, predicate: Any) -> dict[str, Any]:
    """The board's stats once predicate(stats) holds (polled; the timeout is scaled)."""
    async with asyncio.timeout(scaled(30)):
        while True:
            stats = await board.stats()
            if predicate(stats):
                return stats
            await asyncio.sleep(0.05)


async def test_the_camera_starts_only_once_the_link_is_up_and_has_settled(rig: Rig) -> None:
    # main.cpp's staged start, run by the real wifi_link.cpp over a model of Arduino's WiFi:
    # the camera's power-up never overlaps association (a brownout on a weak supply).
    async with rig.board("--wifi-join-ms", "1500") as board:
        await wait_until(lambda: len(rig.frames()) >= 1, scaled(30))
        stats = await board.stats()
    joining = board.logged("wifi: joining")[0][0]
    connected = board.logged("wifi: connected")[0][0]
    camera = board.logged("camera: ready")[0][0]
    assert connected - joining >= 1500
    # StartStage::kSettleUs (500 ms) after association; the "connected" line is printed a
    # moment after the loop step read the clock it measures from.
    assert camera - connected >= 500 - POLL_SLACK_US // 1000
    assert stats["tx_power"] == 78  # WIFI_POWER_19_5dBm unless SECURECAM_WIFI_TX_POWER says
    assert board.logged("wifi: transmit power 19.50 dBm")


async def test_a_refused_network_lets_the_camera_start_between_attempts(rig: Rig) -> None:
    async with rig.board("--wifi-refuses", "1", "--wifi-join-ms", "300") as board:
        await wait_until(lambda: bool(board.logged("camera: ready")), scaled(30))
    failed = board.logged("wifi: not connected; retrying in")[0][0]
    assert board.logged("camera: ready")[0][0] >= failed  # never during the attempt
    assert not rig.frames()


async def test_a_lost_station_link_ends_the_session_and_streaming_resumes(rig: Rig) -> None:
    async with rig.board("--rate-kbit", "8000", "--rtt-ms", "4") as board:
        await wait_until(lambda: len(rig.frames()) >= 1, scaled(30))
        await board.command("wifi-lose")
        await wait_until(lambda: rig.count(DeviceConnected) >= 2, scaled(30))
        frames = len(rig.frames())
        await wait_until(lambda: len(rig.frames()) > frames, scaled(30))
    assert board.logged("wifi: connection lost")
    assert board.logged("connection ended: 1006 connection dropped")


async def test_a_console_scan_holds_the_loop_for_its_length_and_lists_strongest_first(
    rig: Rig,
) -> None:
    # The one step that still blocks: asynchronous, 120 ms a channel, polled with a 4 s limit
    # (the synchronous call waited up to 10 s).
    async with rig.board() as board:
        await wait_until(lambda: len(rig.frames()) >= 1, scaled(30))
        await board.command("scan")
        assert board.process.stdout is not None
        line = await asyncio.wait_for(board.process.stdout.readline(), scaled(10))
        stats = await board.stats()
    networks = json.loads(line)["networks"]
    assert [n["ssid"] for n in networks] == ["host-model", "cafe", "neighbour"]
    assert [n["secured"] for n in networks] == [True, False, True]
    # Held for the scan (blocked counts the sleeps between polls, not the polls themselves).
    assert stats["worst_blocked_us"] >= 13 * 120_000 - POLL_SLACK_US
    assert stats["scan_stops"] == 0
    assert board.logged("wifi: scan found 3 networks")


async def test_a_scan_arduino_gives_up_on_is_stopped_so_the_next_can_start(rig: Rig) -> None:
    # Associated, the driver returns to its channel between channels: twice as slow here, so
    # Arduino's 20 x 120 ms limit passes first; it reports a failure and leaves the driver
    # scanning, which the board must stop.
    async with rig.board("--scan-slowdown", "2") as board:
        await wait_until(lambda: bool(board.logged("camera: ready")), scaled(30))
        assert board.process.stdout is not None
        results = []
        for _ in range(2):
            await board.command("scan")
            line = await asyncio.wait_for(board.process.stdout.readline(), scaled(10))
            results.append(json.loads(line)["networks"])
        stats = await board.stats()
    assert results == [[], []]
    assert stats["scan_stops"] == 2  # each scan started (the driver was free) and was stopped
    assert stats["worst_blocked_us"] >= 20 * 120_000 - POLL_SLACK_US
    assert len(board.logged("wifi: the scan did not finish in 2400 ms; stopped it")) == 2
