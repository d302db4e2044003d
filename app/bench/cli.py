"""`python -m app.bench`: measure the protocol core and the receiver on this machine."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from app.bench import BenchError
from app.bench.core import CoreSettings, run_core
from app.bench.gui import DEFAULT_CAMERAS as GUI_CAMERAS
from app.bench.gui import PIN_MODES, GuiSettings, run_gui
from app.bench.host import plan_cpus
from app.bench.link import WIFI_30, ShapedLink, unavailable_reason
from app.bench.paper import LABEL as PAPER_LABEL
from app.bench.paper import PaperSettings, run_paper
from app.bench.report import load_average, machine, render, targets
from app.bench.results import BenchReport, to_json
from app.bench.speed import measure as measure_speed
from app.bench.throughput import FleetSettings, run_fleet
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of camera counts: {text!r}") from None
    if not counts or any(not 1 <= n <= 64 for n in counts):
        raise argparse.ArgumentTypeError("camera counts must be 1..64 (the receiver's limit)")
    return counts


def _suites(text: str) -> tuple[Suite, ...]:
    try:
        return tuple(Suite[part.strip().upper()] for part in text.split(",") if part.strip())
    except KeyError:
        raise argparse.ArgumentTypeError("suites are 'plain' and/or 'noise'") from None


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m app.bench",
        description="Measure SecureCam's per-frame protocol cost and the receiver's throughput "
        "and latency on one core against simulated cameras, and the app window with N cameras.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="short run: 1.5 s windows, 0.5 s warm-up, fewer core samples",
    )
    p.add_argument("--seconds", type=_positive, help="measured window per configuration (8)")
    p.add_argument("--warmup", type=float, help="warm-up before each window, seconds (1)")
    p.add_argument("--cameras", type=_counts, default=(1, 8, 32), help="camera counts (1,8,32)")
    p.add_argument(
        "--suites", type=_suites, default=(Suite.PLAIN, Suite.NOISE), help="plain,noise (both)"
    )
    p.add_argument("--fps", type=_positive, default=25.0, help="frames per second per camera")
    p.add_argument(
        "--frame-size", type=FrameSize.parse, default=FrameSize.VGA, help="camera frame size (vga)"
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write every figure as JSON")
    p.add_argument("--skip-core", action="store_true", help="skip the per-frame core figures")
    p.add_argument("--skip-fleet", action="store_true", help="skip the receiver throughput runs")
    p.add_argument("--skip-gui", action="store_true", help="skip the app window runs")
    p.add_argument(
        "--gui-cameras",
        type=_counts,
        help=f"camera counts for the app window runs ({','.join(map(str, GUI_CAMERAS))}; "
        "--quick: 1,16)",
    )
    p.add_argument("--gui-seconds", type=_positive, help="app window: measured window (8)")
    p.add_argument("--gui-warmup", type=float, help="app window: warm-up, seconds (2)")
    p.add_argument(
        "--gui-pin",
        choices=PIN_MODES,
        default="one",
        help="app window: 'one' pins the app to the receiver's CPU (decode threads share it), "
        "'shared' lets it use every CPU alongside the cameras (one)",
    )
    p.add_argument(
        "--skip-paper",
        action="store_true",
        help=f"skip the Table 1 reproduction (SecureCam plain and Noise, and the {PAPER_LABEL})",
    )
    p.add_argument(
        "--paper-repeats",
        type=int,
        help="Table 1: 10-photo runs per pipeline (5; --quick: 2)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    seconds = args.seconds or (1.5 if args.quick else 8.0)
    warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[bench] {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    host = machine()  # before pinning, which narrows the CPUs allowed
    # Pin first, so the core figures are taken on the same CPU as the receiver's.
    plan = plan_cpus()
    progress(plan.note)
    progress("the machine's speed (OpenSSL AES-256-GCM, a CPython loop)")
    report = BenchReport(
        version=1,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=host,
        cpus=plan.record(),
        speed=[measure_speed()],
    )
    try:
        if not args.skip_core:
            settings = CoreSettings.quick() if args.quick else CoreSettings()
            report.core = run_core(settings, progress)
        if not args.skip_fleet:
            fleet = FleetSettings(
                cameras=args.cameras,
                suites=args.suites,
                seconds=seconds,
                warmup=warmup,
                fps=args.fps,
                size=args.frame_size,
                frames=10 if args.quick else 50,
            )
            report.fleet = asyncio.run(run_fleet(fleet, plan, progress))
        if not args.skip_gui:
            gui = GuiSettings(
                cameras=args.gui_cameras or ((1, 16) if args.quick else GUI_CAMERAS),
                seconds=args.gui_seconds or (1.5 if args.quick else 8.0),
                warmup=args.gui_warmup
                if args.gui_warmup is not None
                else (0.5 if args.quick else 2.0),
                fps=args.fps,
                size=args.frame_size,
                frames=10 if args.quick else 50,
                pin=args.gui_pin,
            )
            report.gui = run_gui(gui, plan, progress)
        if not args.skip_paper:
            paper = PaperSettings.quick() if args.quick else PaperSettings()
            if args.paper_repeats is not None:
                paper = PaperSettings(repeats=max(1, args.paper_repeats))
            reason = unavailable_reason()
            if reason is None:  # the first design's 30 Mbit/s Wi-Fi, shaped
                with ShapedLink(WIFI_30) as link:
                    described = f"shaped: {WIFI_30.describe()} (app/bench/link.py)"
                    report.paper = asyncio.run(
                        run_paper(
                            paper, link, link=described, on_paper_link=True, progress=progress
                        )
                    )
            else:
                progress(f"Table 1 on loopback, not on its 30 Mbit/s link: {reason}")
                report.paper = asyncio.run(run_paper(paper, progress=progress))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    report.load_average_after = load_average()
    if report.speed is not None:
        report.speed.append(measure_speed())
    report.targets = targets(report)
    report.duration_s = round(time.monotonic() - started, 1)
    print(render(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n")
        progress(f"wrote {args.json}")
    return 0
