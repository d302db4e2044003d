"""`python -m app.bench.cli_startup`: how fast `securecam --help` and `securecam device list`
answer, as a ratio to a bare Python that imports argparse and asyncio on the same machine.

Issue 13 asks for both within 2.5x of that floor. Each round runs the floor and every command
once, one after the other, each in a fresh process with the same interpreter, so the ratios
compare like with like whatever the machine's speed; the report gives each command's median
wall time, its median ratio to the floor measured in the same rounds, and the spread of the
per-round ratios (lowest to highest). `device list` reads a throwaway registry holding one
camera. Nothing here is a test: tests/test_cli_imports.py asserts what makes the commands fast
(the heavy libraries they no longer import), not a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TARGET_RATIO = 2.5
FLOOR = "python -c 'import argparse, asyncio'"
COMMANDS: dict[str, tuple[str, ...]] = {
    "securecam --help": ("--help",),
    "securecam device list": ("device", "list"),
}


@dataclass(frozen=True)
class Timing:
    """One command's wall times over the rounds (seconds) and its per-round ratios to the
    floor (None for the floor itself)."""

    label: str
    seconds: tuple[float, ...]
    ratios: tuple[float, ...] | None

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.seconds)

    @property
    def spread_ms(self) -> tuple[float, float]:
        return 1000 * min(self.seconds), 1000 * max(self.seconds)

    @property
    def ratio(self) -> float | None:
        return None if self.ratios is None else statistics.median(self.ratios)


def securecam_command(python: str = sys.executable, checkout: Path | None = None) -> list[str]:
    """The installed `securecam` script beside `python`, else `python -m app`; with
    `checkout`, `python -m app` (`measure` puts the checkout first on PYTHONPATH)."""
    if checkout is not None:
        return [python, "-m", "app"]
    script = Path(python).parent / "securecam"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("securecam")
    return [found] if found else [python, "-m", "app"]


def _wall(argv: Sequence[str], env: dict[str, str], cwd: Path | None) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return time.perf_counter() - started


def measure(
    rounds: int, python: str = sys.executable, checkout: Path | None = None
) -> list[Timing]:
    """The floor and each command, `rounds` times interleaved; the floor first in the list.

    `checkout`: time the `app` package of another checkout (e.g. an older commit unpacked
    with `git archive`) instead of the installed one; every process then runs in it, since
    `python -m` looks in the working directory first.
    """
    command = securecam_command(python, checkout)
    cwd = None if checkout is None else checkout.resolve()
    with tempfile.TemporaryDirectory(prefix="securecam-startup-") as home:
        env = {**os.environ, "SECURECAM_HOME": home}
        if checkout is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(checkout.resolve()), os.environ.get("PYTHONPATH")])
            )
        subprocess.run(
            [*command, "device", "add", "bench-cam"],
            env=env,
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        runs: dict[str, list[float]] = {FLOOR: [], **{label: [] for label in COMMANDS}}
        for _ in range(rounds + 1):  # the first round warms the disk cache and is dropped
            runs[FLOOR].append(_wall([python, "-c", "import argparse, asyncio"], env, cwd))
            for label, args in COMMANDS.items():
                runs[label].append(_wall([*command, *args], env, cwd))
    floor = runs[FLOOR][1:]
    timings = [Timing(FLOOR, tuple(floor), None)]
    for label in COMMANDS:
        seconds = runs[label][1:]
        ratios = tuple(s / f for s, f in zip(seconds, floor, strict=True))
        timings.append(Timing(label, tuple(seconds), ratios))
    return timings


def render(timings: Sequence[Timing]) -> str:
    """The report: one line per command, median [min-max] ms, and the ratio to the floor."""
    rounds = len(timings[0].seconds)
    lines = [
        f"Command-line start-up, {rounds} rounds; median [lowest-highest] "
        f"(target: within {TARGET_RATIO:g}x the floor)"
    ]
    width = max(len(t.label) for t in timings)
    for timing in timings:
        low, high = timing.spread_ms
        line = f"  {timing.label:<{width}}  {timing.median_ms:6.1f} ms [{low:.1f}-{high:.1f}]"
        if timing.ratios is not None and timing.ratio is not None:
            verdict = "ok" if timing.ratio <= TARGET_RATIO else "SLOW"
            line += (
                f"  {timing.ratio:.2f}x [{min(timing.ratios):.2f}-{max(timing.ratios):.2f}]"
                f"  {verdict}"
            )
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.bench.cli_startup",
        description="Time `securecam --help` and `securecam device list` against a bare Python "
        "importing argparse and asyncio.",
    )
    parser.add_argument(
        "--rounds", type=int, default=20, help="runs of each command (default %(default)s)"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter whose securecam to time (default: this one)",
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        help="time `python -m app` from this checkout's app package instead (default: the "
        "installed securecam)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    print(render(measure(args.rounds, args.python, args.checkout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
