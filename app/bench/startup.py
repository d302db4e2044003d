"""Start-up: `securecam --demo` to its first painted frame, against Python showing an empty
PySide6 window, in the same run (issue 13 §4: goal at most 2×).

Each is a fresh process, offscreen, timed from its spawn to the line it prints when done: the
reference prints after `QWidget.show()` and one event-loop pass; SecureCam logs "first frame
painted" when the demo camera's first frame is on screen. A third process, the floor, imports
only the libraries no first frame can do without (Qt and its asyncio loop, JPEG encoding and
decoding with numpy, the Noise crypto, WebSockets) and shows the same empty window: what is
left above it is SecureCam's own. They take turns, `--repeats` times, after one untimed start
of each that leaves Python's bytecode caches written, as a user's second start finds them;
the report gives each median [min–max] and the ratios of medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 2.0
REFERENCE = (
    "from PySide6.QtWidgets import QApplication, QWidget\n"
    "app = QApplication([])\n"
    "window = QWidget()\n"
    "window.resize(1280, 800)\n"
    "window.show()\n"
    "app.processEvents()\n"
    "print('shown', flush=True)\n"
)
# Everything the first frame needs that is not SecureCam's own code.
FLOOR = (
    "import asyncio, numpy, simplejpeg, qasync, websockets.asyncio.server, "
    "websockets.asyncio.client\n"
    "from Crypto.Cipher import AES\n"
    "from Crypto.Protocol import DH\n"
    "from PIL import ImageDraw\n" + REFERENCE
)
SIGN = "first frame painted"
TIMEOUT_S = 60.0


def _timed(argv: list[str], sign: str, env: dict[str, str]) -> float:
    """Seconds from spawning `argv` to a line containing `sign` on its stdout or stderr."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if sign in line:
                return time.perf_counter() - started
            if time.perf_counter() - started > TIMEOUT_S:
                break
        raise RuntimeError(f"{argv[:3]} never printed {sign!r}")
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def measure(repeats: int) -> tuple[list[float], list[float], list[float]]:
    """(reference, floor, app) seconds, `repeats` of each after an untimed start of each."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's Python writes its bytecode caches
    reference: list[float] = []
    floor: list[float] = []
    app: list[float] = []
    for run in range(repeats + 1):
        times = (
            _timed([sys.executable, "-c", REFERENCE], "shown", env),
            _timed([sys.executable, "-c", FLOOR], "shown", env),
            _app(env),
        )
        if run > 0:  # the first start of each writes the caches
            for values, seconds in zip((reference, floor, app), times, strict=True):
                values.append(seconds)
    return reference, floor, app


def _app(env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as home:
        argv = [sys.executable, "-m", "app", "--config-dir", str(Path(home)), "--demo"]
        return _timed(argv, SIGN, env)


def render(reference: list[float], floor: list[float], app: list[float]) -> list[str]:
    ratio = statistics.median(app) / statistics.median(reference)
    floor_ratio = statistics.median(floor) / statistics.median(reference)
    verdict = "MET" if ratio <= GOAL else "MISSED"
    return [
        f"Start-up, {len(app)} runs each, taking turns, offscreen (median [min–max]):",
        f"  Python + PySide6, an empty window shown          {_spread(reference)} s",
        f"  + the first frame's libraries, the same window   {_spread(floor)} s",
        f"  securecam --demo, first frame painted             {_spread(app)} s",
        f"  ratio {ratio:.2f}×   target ≤ {GOAL:g}×: {verdict}",
        f"  the libraries alone: {floor_ratio:.2f}× (SecureCam's own share: "
        f"{statistics.median(app) - statistics.median(floor):.2f} s)",
    ]


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}–{max(values):.2f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench.startup", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each (default 5)")
    args = parser.parse_args(argv)
    print("\n".join(render(*measure(max(1, args.repeats)))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
