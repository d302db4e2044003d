"""Every camera count against the app window, each in a fresh `python -m app.bench.gui`.

A fresh process per count carries no Qt state over and a crash costs one row. The app and the
cameras are pinned by `gui_cpus`; `run_gui` stops after the first failing count above the
product target.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

from app.bench.gui.measure import (
    LATENCY_P99_TARGET_MS,
    TARGET_CAMERAS,
    WINDOW_SIZE,
    GuiSettings,
)
from app.bench.host import CpuPlan, child_env, cpu_list
from app.bench.results import (
    GuiCpus,
    GuiError,
    GuiResult,
    GuiRun,
    GuiSettingsRecord,
    gui_row,
)
from app.protocol.hello import Suite

PIN_MODES = ("one", "shared")
# Beyond the process's own start-up, connect and shutdown time.
_CHILD_SLACK_S = 120.0


def record(settings: GuiSettings) -> GuiSettingsRecord:
    """The settings as the report gives them, with the targets they were held to."""
    return GuiSettingsRecord(
        cameras=list(settings.cameras),
        seconds=settings.seconds,
        warmup_s=settings.warmup,
        fps=settings.fps,
        frame_size=settings.size.name.lower(),
        prerendered_frames=settings.frames,
        suite=Suite.NOISE,
        window_size=list(WINDOW_SIZE),
        pin=settings.pin,
        latency_p99_target_ms=LATENCY_P99_TARGET_MS,
        target_cameras=TARGET_CAMERAS,
    )


def gui_cpus(plan: CpuPlan, mode: str) -> tuple[set[int], set[int], str]:
    """(app CPUs, camera CPUs, note) for a pin mode: the app alone on the first CPU, or shared."""
    if not plan.pinned or not plan.receiver:
        return set(), set(), "nothing pinned"
    cameras = plan.cameras
    if mode == "shared" or plan.receiver == plan.cameras:
        app = plan.receiver | plan.cameras
        note = (
            f"app unpinned (CPUs {cpu_list(app)}, shared with the cameras on CPU "
            f"{cpu_list(cameras)})"
        )
        return app, cameras, note
    return (
        set(plan.receiver),
        set(cameras),
        f"app pinned to CPU {cpu_list(plan.receiver)} (UI thread and decode threads share it), "
        f"cameras on CPU {cpu_list(cameras)}",
    )


def _command(cameras: int, settings: GuiSettings, app: set[int], cams: set[int]) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "app.bench.gui",
        "--cameras",
        str(cameras),
        "--seconds",
        str(settings.seconds),
        "--warmup",
        str(settings.warmup),
        "--fps",
        str(settings.fps),
        "--frame-size",
        settings.size.name.lower(),
        "--frames",
        str(settings.frames),
        "--json",
        "-",
    ]
    if app:
        command += ["--cpus", cpu_list(app)]
    if cams:
        command += ["--camera-cpus", cpu_list(cams)]
    return command


def run_one(
    cameras: int, settings: GuiSettings, app: set[int], cams: set[int]
) -> GuiRun | GuiError:
    """One camera count in a fresh `python -m app.bench.gui` process; an error becomes a row."""
    timeout = settings.warmup + settings.seconds + _CHILD_SLACK_S
    started = time.monotonic()
    try:
        run = subprocess.run(
            _command(cameras, settings, app, cams),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_env(QT_QPA_PLATFORM="offscreen"),
        )
    except subprocess.TimeoutExpired:
        return GuiError(cameras, False, f"timed out after {timeout:.0f} s")
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    result: GuiRun | GuiError
    try:
        result = gui_row(json.loads(lines[-1]))
    except (IndexError, ValueError):  # no line, not JSON (JSONDecodeError), not a row
        tail = " | ".join(run.stderr.strip().splitlines()[-3:])
        return GuiError(
            cameras, False, f"exit status {run.returncode}, no result: {tail or 'no output'}"
        )
    if run.returncode != 0 and result.error is None:
        result.error = f"exit status {run.returncode}"
    result.process_s = round(time.monotonic() - started, 1)
    stderr = run.stderr.strip()
    if stderr:
        result.stderr_tail = stderr.splitlines()[-5:]
    return result


def run_gui(
    settings: GuiSettings, plan: CpuPlan, progress: Callable[[str], None] | None = None
) -> GuiResult:
    """Every camera count in turn; stops after the first failure above `settings.stop_above`."""
    say = progress or (lambda _: None)
    app, cams, note = gui_cpus(plan, settings.pin)
    configs: list[GuiRun | GuiError] = []
    stopped_after = None
    for count in settings.cameras:
        say(f"gui: {count} camera(s), {settings.seconds:g} s, window offscreen")
        row = run_one(count, settings, app, cams)
        configs.append(row)
        if isinstance(row, GuiError) or row.error:
            say(f"gui: {count} camera(s) failed: {row.error}")
        else:
            p99 = row.latency.capture_to_painted_ms.p99
            say(
                f"gui: {count} camera(s): {row.frames_lost} lost, capture→painted p99 "
                f"{'-' if p99 is None else f'{p99:.1f}'} ms, "
                f"{'holds' if row.holds else 'does NOT hold'}"
            )
        if not row.holds and count > settings.stop_above and count != settings.cameras[-1]:
            stopped_after = count
            break
    holding = [c.cameras for c in configs if c.holds]
    contiguous = 0
    for c in sorted(configs, key=lambda c: c.cameras):
        if not c.holds:
            break
        contiguous = c.cameras
    return GuiResult(
        settings=record(settings),
        cpus=GuiCpus(app=sorted(app), cameras=sorted(cams), note=note),
        configs=configs,
        largest_holding=max(holding, default=None),
        largest_holding_all_below=contiguous or None,
        stopped_after=stopped_after,
    )
