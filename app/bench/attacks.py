"""`python -m app.bench.attacks`: what hostile peers cost a running `securecam serve`.

The receiver runs as its own process (`securecam serve`), with one good camera streaming into
it (`securecam sim`, VGA at 25 fps). Each attack runs for a fixed window while this process
samples the receiver's resident memory (/proc) and reads its per-second stats. Reported per
attack: the good camera's frame rate before and during the attack (a ratio in the same run),
the receiver's memory before, at its peak and after the attack, its open connections, and
whether a second, registered camera could connect while the attack ran.

Only the command-line interface is used, so the same file measures an older checkout too
(copy it there): that is how the closing figures compare before and after a change.
Traffic stays on 127.0.0.1; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

GOOD, SECOND = "good", "second"


@dataclass
class AttackResult:
    name: str
    good_fps_before: float
    good_fps_during: float
    rss_before_mb: float
    rss_peak_mb: float
    rss_after_mb: float  # `settle` seconds after the attack ended
    connections_peak: int
    second_camera_frames: int  # frames the second camera delivered during the attack
    # Python allocations still held `settle` s after the attack, in-process under tracemalloc:
    # what RSS keeps beyond this is the allocator's high-water mark, not live objects.
    traced_after_kb: int | None = None
    traced_peak_kb: int | None = None

    @property
    def fps_ratio(self) -> float:
        return self.good_fps_during / self.good_fps_before if self.good_fps_before else 0.0


class Receiver:
    """A `securecam serve` process and what it reports."""

    def __init__(self, python: str, config: Path, port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(
            [
                python,
                "-m",
                "app",
                "serve",
                "--config-dir",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--stats-json",
                "-",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.latest: dict[str, object] = {}

    async def follow(self) -> None:
        """Keep `latest` at the newest stats line (run as a task)."""
        assert self.process.stdout is not None
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, self.process.stdout.readline)
            if not line:
                return
            with contextlib.suppress(json.JSONDecodeError):
                self.latest = json.loads(line)

    def frames(self, device: str) -> int:
        for entry in self.latest.get("devices", []):  # type: ignore[union-attr]
            if entry["device"] == device:
                return int(entry["frames_received"])
        return 0

    def connections(self) -> int:
        return int(self.latest.get("connections", 0))  # type: ignore[arg-type]

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _upgrade_request(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /camera HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _ping_frame() -> bytes:
    mask = os.urandom(4)
    payload = bytes(125)  # the largest control frame
    return bytes([0x89, 0x80 | 125]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def _open(port: int, receive_buffer: int | None = None) -> asyncio.StreamWriter | None:
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        _, writer = await asyncio.open_connection(sock=sock)
    except OSError:
        sock.close()
        return None
    return writer


async def ping_flooders(port: int, seconds: float, count: int = 63) -> None:
    """`count` peers upgrade, then send WebSocket pings and never read a byte."""
    deadline = time.monotonic() + seconds
    burst = _ping_frame() * 64

    async def one() -> None:
        while time.monotonic() < deadline:  # reconnect when dropped, as an attacker would
            writer = await _open(port, receive_buffer=4096)
            if writer is None:
                await asyncio.sleep(0.1)
                continue
            try:
                writer.write(_upgrade_request(port))
                while time.monotonic() < deadline:
                    writer.write(burst)
                    await asyncio.wait_for(writer.drain(), max(0.01, deadline - time.monotonic()))
            except (OSError, TimeoutError):
                pass
            finally:
                writer.transport.abort()

    await asyncio.gather(*(one() for _ in range(count)))


async def slow_upgrades(port: int, seconds: float, count: int = 600) -> None:
    """`count` connections send large header lines and never finish the request."""
    deadline = time.monotonic() + seconds
    line = b"X-Pad: " + b"a" * 8000 + b"\r\n"

    async def one() -> None:
        writer = await _open(port)
        if writer is None:
            return
        try:
            writer.write(b"GET /camera HTTP/1.1\r\n")
            for _ in range(100):  # up to 800 KB of headers, within websockets' defaults
                if time.monotonic() >= deadline:
                    break
                writer.write(line)
                await asyncio.wait_for(writer.drain(), max(0.01, deadline - time.monotonic()))
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        except (OSError, TimeoutError):
            pass
        finally:
            writer.transport.abort()

    await asyncio.gather(*(one() for _ in range(count)))


async def no_attack(port: int, seconds: float) -> None:
    """The control: the same window with nobody attacking, so drift is not blamed on attacks."""
    del port
    await asyncio.sleep(seconds)


ATTACKS: dict[str, Callable[[int, float], Awaitable[None]]] = {
    "none (control: the same run, no attacker)": no_attack,
    "63 peers flood pings, never read": ping_flooders,
    "600 unfinished upgrades, large headers": slow_upgrades,
}


async def _window(receiver: Receiver, seconds: float, peak: list[float]) -> float:
    """The good camera's frame rate over `seconds`, sampling memory and connections meanwhile."""
    start_frames, start = receiver.frames(GOOD), time.monotonic()
    while time.monotonic() - start < seconds:
        await asyncio.sleep(0.25)
        peak[0] = max(peak[0], receiver.rss_mb())
        peak[1] = max(peak[1], receiver.connections())
    return (receiver.frames(GOOD) - start_frames) / (time.monotonic() - start)


async def run_attack(
    python: str, config: Path, name: str, seconds: float, settle: float
) -> AttackResult:
    port = _free_port()
    receiver = Receiver(python, config, port)
    follower = asyncio.ensure_future(receiver.follow())
    url = f"ws://127.0.0.1:{port}/camera"
    sim = [python, "-m", "app", "sim", "--config-dir", str(config), "--url", url, "--size", "vga"]
    cameras = [subprocess.Popen([*sim, "--device", GOOD], stderr=subprocess.DEVNULL)]
    try:
        while receiver.frames(GOOD) < 50:  # connected and past its first two seconds
            if receiver.process.poll() is not None:
                raise RuntimeError("securecam serve exited")
            await asyncio.sleep(0.1)
        peak = [0.0, 0.0]
        before = await _window(receiver, seconds / 2, peak)
        rss_before = receiver.rss_mb()
        peak = [rss_before, receiver.connections()]
        attack = asyncio.ensure_future(ATTACKS[name](port, seconds))
        await asyncio.sleep(seconds / 4)  # the attack is under way when the second camera comes
        second_start = receiver.frames(SECOND)
        cameras.append(
            subprocess.Popen(
                [*sim, "--device", SECOND, "--retry-rejected"], stderr=subprocess.DEVNULL
            )
        )
        during = await _window(receiver, seconds * 0.7, peak)
        second_frames = receiver.frames(SECOND) - second_start
        await attack
        await asyncio.sleep(settle)
        return AttackResult(
            name=name,
            good_fps_before=round(before, 2),
            good_fps_during=round(during, 2),
            rss_before_mb=round(rss_before, 1),
            rss_peak_mb=round(peak[0], 1),
            rss_after_mb=round(receiver.rss_mb(), 1),
            connections_peak=int(peak[1]),
            second_camera_frames=second_frames,
        )
    finally:
        for camera in cameras:
            camera.terminate()
        for camera in cameras:
            camera.wait(10)
        receiver.stop()
        follower.cancel()


async def traced_attack(python: str, name: str, seconds: float, settle: float) -> tuple[int, int]:
    """(KB still allocated after the attack, peak KB during it) for an in-process receiver.

    The receiver runs here under tracemalloc; the attacker runs as another process so its own
    allocations are not counted.
    """
    import gc
    import tracemalloc

    from app.protocol.session import Credentials
    from app.receiver.server import Receiver as InProcessReceiver

    receiver = InProcessReceiver({GOOD: Credentials(GOOD, bytes(32))}.get, host="127.0.0.1", port=0)
    await receiver.start()
    tracemalloc.start()
    try:
        gc.collect()
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        attacker = await asyncio.create_subprocess_exec(
            python,
            "-c",
            "import asyncio; from app.bench import attacks; "
            f"asyncio.run(attacks.ATTACKS[{name!r}]({receiver.port}, {seconds}))",
        )
        await attacker.wait()
        await asyncio.sleep(settle)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        return (current - baseline) // 1024, (peak - baseline) // 1024
    finally:
        tracemalloc.stop()
        await receiver.stop()


def _register(python: str, config: Path) -> None:
    for device in (GOOD, SECOND):
        subprocess.run(
            [python, "-m", "app", "device", "add", device, "--config-dir", str(config)],
            check=True,
            stdout=subprocess.DEVNULL,
        )


TRACED = ("traced_peak_kb", "traced_after_kb")


def _median_or_dash(values: list[int | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.median(known):.0f}" if known else "-"


def render(results: list[AttackResult], repeats: int) -> str:
    lines = [
        f"Attacks on `securecam serve` (1 good VGA camera at 25 fps; medians of {repeats} runs)",
        "",
        "| attack | good fps during / before | RSS before → peak → after (MB) "
        "| Python heap peak / after (KB over before) | peak connections "
        "| second camera's frames during |",
        "|---|---|---|---|---|---|",
    ]
    for name in ATTACKS:
        runs = [r for r in results if r.name == name]
        if not runs:
            continue
        ratios = [r.fps_ratio for r in runs]
        rss = " → ".join(
            f"{statistics.median(getattr(r, key) for r in runs):.0f}"
            for key in ("rss_before_mb", "rss_peak_mb", "rss_after_mb")
        )
        connections = statistics.median(r.connections_peak for r in runs)
        second = statistics.median(r.second_camera_frames for r in runs)
        traced = " / ".join(_median_or_dash([getattr(r, key) for r in runs]) for key in TRACED)
        lines.append(
            f"| {name} | {statistics.median(ratios):.2f} (spread {min(ratios):.2f}–"
            f"{max(ratios):.2f}) | {rss} | {traced} | {connections:.0f} | {second:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench.attacks", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="attack window (20)")
    parser.add_argument("--settle", type=float, default=10.0, help="wait after it (10)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per attack (3)")
    parser.add_argument("--only", choices=list(ATTACKS), action="append", help="one attack")
    parser.add_argument("--json", type=Path, help="also write every run as JSON")
    parser.add_argument("--python", default=sys.executable, help="interpreter running the app")
    args = parser.parse_args(argv)
    names = args.only or list(ATTACKS)
    results: list[AttackResult] = []
    with tempfile.TemporaryDirectory(prefix="securecam-attacks-") as tmp:
        config = Path(tmp)
        _register(args.python, config)
        for _ in range(args.repeats):
            for name in names:
                result = asyncio.run(
                    run_attack(args.python, config, name, args.seconds, args.settle)
                )
                result.traced_after_kb, result.traced_peak_kb = asyncio.run(
                    traced_attack(args.python, name, args.seconds, args.settle)
                )
                print(json.dumps(asdict(result)), file=sys.stderr)
                results.append(result)
    print(render(results, args.repeats))
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
