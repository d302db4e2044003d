"""`python -m app.bench.board`: the firmware's loop on a model ESP32 link, in wall-clock time.

`securecam-board` (firmware/host/board, built by `make -C firmware/host`) is the firmware's
own StreamClient, WsClient and protocol core on the host, over a model of the ESP32's TCP
stack (lwIP's 5,744-byte send buffer drained at a rate and round trip) and sensor (a frame
every 1/fps s, the newest kept). It streams real UXGA JPEGs (~215 KB) to the app's Receiver
in this process over loopback. Two sections:

- loop: UXGA at 15 fps over 2 Mbit/s with a 10 ms round trip, the issue's case. The loop's
  worst iteration (wall, its own CPU time, time blocked), PONG delays from the PING's
  decryption to the PONG's last byte on the air (wall, and the link time of what was queued
  ahead of it), frames sent and dropped;
- window: a 20 Mbit/s link at round trips of 2, 10 and 30 ms: the throughput the app gets,
  against the bound a 5,744-byte send buffer sets (5,744 B per round trip).

Wall-clock figures include this machine's scheduling; repeats give medians and [min-max].
`write_frames_by_setting` renders frames per frame size and JPEG quality for the model's
--frames-by-setting, whose sensor then serves those of the settings in force
(tests/firmware/test_board_adapt.py closes adaptive quality against the firmware with them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.protocol.framesize import FrameSize, jpeg_quality_in_force
from app.protocol.session import Credentials
from app.receiver.adapt import QUALITY_STEP, QUALITY_WORST, SIZES
from app.receiver.events import FrameArrived, ReceiverEvent
from app.receiver.server import Receiver
from app.sim.camera import BOARD_SEND_BUFFER, jpeg_quality
from app.sim.sources import PrerenderedSource, SyntheticSource

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "firmware" / "host" / "build"
BINARY = BUILD / "securecam-board"
SEND_BUFFER = BOARD_SEND_BUFFER
NAME = "board"
_LOG = re.compile(r"^I \((\d+)\) securecam: (.*)$")


@dataclass
class BoardProcess:
    """A running securecam-board: commands in, JSON stats and UART log lines out."""

    process: asyncio.subprocess.Process
    timeout: float = 10.0  # for each answer to "stats"
    log: list[tuple[int, str]] = field(default_factory=list)  # (board ms, message)
    reader: asyncio.Task[None] | None = None

    async def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def stats(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        await self.command("stats")
        line = await asyncio.wait_for(self.process.stdout.readline(), self.timeout)
        stats: dict[str, Any] = json.loads(line)
        return stats

    def logged(self, text: str) -> list[tuple[int, str]]:
        """Log lines containing text, as (board milliseconds, message)."""
        return [(ms, message) for ms, message in self.log if text in message]

    async def _read_log(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            match = _LOG.match(raw.decode(errors="replace").rstrip())
            if match:
                self.log.append((int(match.group(1)), match.group(2)))


@contextlib.asynccontextmanager
async def board_process(
    binary: Path, args: Sequence[str], timeout: float = 10.0
) -> AsyncIterator[BoardProcess]:
    """Run securecam-board with args; on exit ask it to quit (then kill it if it must).
    `timeout` bounds each answer and the exit."""
    process = await asyncio.create_subprocess_exec(
        str(binary),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    board = BoardProcess(process, timeout)
    board.reader = asyncio.create_task(board._read_log())
    try:
        yield board
    finally:
        if process.returncode is None:
            with contextlib.suppress(ConnectionError):
                await board.command("quit")
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        await board.reader


def write_frames(folder: Path, count: int = 4) -> list[bytes]:
    """Real UXGA JPEGs (about 215 KB each) as NNN.jpg in folder, for --frames."""
    source = PrerenderedSource.synthetic(FrameSize.UXGA, count=count, quality=80)
    for i, jpeg in enumerate(source.frames):
        (folder / f"{i:03}.jpg").write_bytes(jpeg)
    return list(source.frames)


def setting_dir(folder: Path, size: FrameSize, quality: int) -> Path:
    """Where --frames-by-setting keeps the frames of `size` at `quality` (esp32's scale)."""
    return folder / f"{size.width}x{size.height}" / f"q{quality}"


def write_frames_by_setting(
    folder: Path,
    size: FrameSize = FrameSize.UXGA,
    quality: int = 12,
    count: int = 3,
    sizes: Sequence[FrameSize] = SIZES,
) -> dict[tuple[FrameSize, int], list[bytes]]:
    """Real JPEGs, `count` per frame size and JPEG quality, in folder/WIDTHxHEIGHT/qQ/NNN.jpg
    for --frames-by-setting: what an OV2640 gives at each size the adaptive ladder
    (app/receiver/adapt.py) can ask for, at each quality it can ask for there when the camera
    starts at `size` and `quality`: its own (raised to the buffer's floor, as STATUS reports
    it), QUALITY_STEP and QUALITY_WORST, each as the camera applies it at that size
    (jpeg_quality_in_force). Rendered by SyntheticSource, esp32's quality mapped to libjpeg's;
    the same scene at every setting. Returns the frames by (size, quality)."""
    asked = {quality, jpeg_quality_in_force(size, quality), QUALITY_STEP, QUALITY_WORST}
    written: dict[tuple[FrameSize, int], list[bytes]] = {}
    for frame_size in sizes:
        for q in sorted({jpeg_quality_in_force(frame_size, a) for a in asked}):
            source = SyntheticSource(frame_size, quality=jpeg_quality(q))
            target = setting_dir(folder, frame_size, q)
            target.mkdir(parents=True, exist_ok=True)
            frames = [source.next_frame() for _ in range(count)]
            for i, jpeg in enumerate(frames):
                (target / f"{i:03}.jpg").write_bytes(jpeg)
            written[frame_size, q] = frames
    return written


def board_args(
    port: int, key_file: Path, frames: Path, *extra: str, by_setting: bool = False
) -> list[str]:
    """securecam-board's arguments; `by_setting`: frames is a write_frames_by_setting folder."""
    return [
        *("--server", "127.0.0.1", "--port", str(port), "--name", NAME),
        *("--key-file", str(key_file)),
        *("--frames-by-setting" if by_setting else "--frames", str(frames)),
        *("--frame-size", str(FrameSize.UXGA.value), "--sensor-fps", "15"),
        *extra,
    ]


async def _run(
    frames: Path, key_file: Path, key: bytes, seconds: float, *link: str
) -> tuple[dict[str, Any], float, int]:
    """One board against a fresh receiver: its stats after `seconds` of streaming, the
    window's length and the frames the app got in it."""
    receiver = Receiver({NAME: Credentials(NAME, key)}.get, host="127.0.0.1", port=0)
    events: list[ReceiverEvent] = []
    receiver.add_listener(events.append)
    await receiver.start()
    try:
        args = board_args(receiver.port, key_file, frames, *link)
        async with board_process(BINARY, args) as board:
            while not any(isinstance(e, FrameArrived) for e in events):
                await asyncio.sleep(0.05)
            start = await board.stats()
            started = time.monotonic()
            got = sum(isinstance(e, FrameArrived) for e in events)
            await asyncio.sleep(seconds)
            end = await board.stats()
            window = time.monotonic() - started
            got = sum(isinstance(e, FrameArrived) for e in events) - got
        end["delivered_in_window"] = end["bytes_delivered"] - start["bytes_delivered"]
        end["pongs_in_window"] = len(end["pong_wall_ms"]) - len(start["pong_wall_ms"])
        return end, window, got
    finally:
        await receiver.stop()


def _spread(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    if not values:
        return "-"
    return (
        f"{fmt.format(statistics.median(values))} "
        f"[{fmt.format(min(values))}-{fmt.format(max(values))}]"
    )


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def bench(seconds: float, repeats: int) -> dict[str, Any]:
    result: dict[str, Any] = {"loop": [], "window": {}}
    key = bytes(range(40, 72))
    with tempfile.TemporaryDirectory(prefix="securecam-board-bench-") as tmp:
        folder = Path(tmp)
        key_file = folder / "key"
        key_file.write_text(key.hex())
        key_file.chmod(0o600)
        frames = folder / "frames"
        frames.mkdir()
        sizes = [len(f) for f in write_frames(frames)]
        result["frame_bytes"] = sizes
        for _ in range(repeats):
            stats, window, got = await _run(
                frames, key_file, key, seconds, "--rate-kbit", "2000", "--rtt-ms", "10"
            )
            stats["window_s"] = window
            stats["frames_in_window"] = got
            result["loop"].append(stats)
        for rtt in (2, 10, 30):
            runs = []
            for _ in range(repeats):
                stats, window, _got = await _run(
                    frames, key_file, key, seconds, "--rate-kbit", "20000", "--rtt-ms", str(rtt)
                )
                runs.append(stats["delivered_in_window"] * 8 / window / 1e6)
            result["window"][rtt] = runs
    return result


def report(result: dict[str, Any]) -> str:
    loop = result["loop"]

    def row(label: str, values: Sequence[float], unit: str, fmt: str = "{:.1f}") -> str:
        return f"  {label:<32}{_spread(values, fmt)} {unit}".rstrip()

    lines = [
        "== board: the firmware's loop on the host model of an ESP32 link",
        f"UXGA JPEGs of {min(result['frame_bytes']):,}-{max(result['frame_bytes']):,} B, "
        "sensor 15 fps, 2 Mbit/s, RTT 10 ms, lwIP send buffer 5,744 B; "
        f"{len(loop)} runs of {loop[0]['window_s']:.0f} s (median [min-max])",
        row("worst loop iteration, wall", [s["worst_wall_us"] / 1000 for s in loop], "ms"),
        row("worst loop iteration, its CPU", [s["worst_cpu_us"] / 1000 for s in loop], "ms"),
        row("worst time blocked in a call", [s["worst_blocked_us"] / 1000 for s in loop], "ms"),
        row("PONG delay p50 (wall)", [_pct(s["pong_wall_ms"], 0.5) for s in loop], "ms"),
        row("PONG delay worst (wall)", [max(s["pong_wall_ms"]) for s in loop], "ms"),
        row("PONG delay worst (link time)", [max(s["pong_link_ms"]) for s in loop], "ms"),
        row("PONGs measured", [len(s["pong_wall_ms"]) for s in loop], "", "{:.0f}"),
        row(
            "frames the app got per second",
            [s["frames_in_window"] / s["window_s"] for s in loop],
            "",
            "{:.2f}",
        ),
        row(
            "frames the camera dropped",
            [s["frames_dropped"] / max(1, s["frames_captured"]) * 100 for s in loop],
            "% of those captured (latest frame wins)",
            "{:.0f}",
        ),
        "",
        "  20 Mbit/s link: what reaches the app, against a 5,744-byte send buffer's bound",
        "  RTT ms   Mbit/s delivered       bound min(20, 5744 B/RTT)",
    ]
    for rtt, runs in result["window"].items():
        bound = min(20.0, SEND_BUFFER * 8 / (rtt / 1000) / 1e6)
        lines.append(f"  {rtt:>6}   {_spread(runs, '{:.2f}'):<22} {bound:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench.board", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="window per run (10)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case (3)")
    parser.add_argument("--quick", action="store_true", help="3 s windows, 1 repeat")
    parser.add_argument("--json", type=Path, help="also write every run as JSON")
    args = parser.parse_args(argv)
    seconds, repeats = (3.0, 1) if args.quick else (args.seconds, args.repeats)
    built = subprocess.run(
        ["make", "-C", str(ROOT / "firmware" / "host"), "build/securecam-board"],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        print(f"cannot build securecam-board:\n{built.stdout}{built.stderr}", file=sys.stderr)
        return 1
    result = asyncio.run(bench(seconds, repeats))
    print(report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
