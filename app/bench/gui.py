"""The desktop app's window under N simulated cameras, offscreen: frames painted, drops, latency.

`python -m app.bench.gui --cameras N` measures one camera count in this process: a real
`QApplication` on the offscreen platform with a qasync loop (as `app.ui.run` sets it up), a
throwaway config directory whose registry holds the cameras, the real `AppServices` and the real
`MainWindow` shown at a realistic size, first-run layout (latency dock visible, redrawing at
10 Hz). The cameras run in `python -m app.bench.fleet` (pre-rendered frames, Noise, pinned to
the other CPU), exactly as for the headless receiver benchmark. By default the app is pinned to
the first CPU, its UI thread and JPEG decode threads sharing it (`--gui-pin shared` lets it use
both CPUs, then alongside the cameras). After a warm-up a window is measured:

- counters are differenced across it: frames received (receiver stats), painted (sum of the
  tiles' `painted`), replaced while waiting for the decoder (`FrameDecoder.dropped`), replaced
  on a tile before it was painted (tile `unpainted`), decode failures, mailbox drops, and the
  frames the cameras had to skip because sending fell behind;
- every frame decrypted inside the window is followed, after a short settle, through the
  receiver's timeline ring: painted or not, and why not (never decoded / decoded, not painted);
- latencies come from the timelines painted inside the window (capture on the app's clock via
  the receiver's clock-sync estimate, and the true one from the cameras' boot times);
- the UI loop lag is `MainWindow.loop_lag_ms` read after every probe (100 ms timer), plus a
  finer 20 ms probe of the bench's own;
- CPU: process and UI (main) thread time over wall time, in % of one core, and the camera
  process's; garbage collector pauses.

A camera count "holds" with no frame lost (decrypted in the window, never painted), a
capture-to-painted p99 under 100 ms, every camera connected from start to end and the cameras
skipping at most 1% of their frames (a skip means a camera fell behind its schedule: a hiccup of
the simulator itself, or many of them, the app not reading its sockets).

The default 2 s warm-up measures a young process: the receiver's timeline rings (2048 frames per
camera) fill only after 82 s at 25 fps and the latency dock's plots after 30 s, and both add to
the garbage collector's and the redraws' work. `--warmup 90` measures the steady state.
`--attribute` also times the UI thread's main handlers (wrapped at class level in this process
only) and `--profile` writes a cProfile of the UI thread: both are for finding where its time
goes, and both perturb the figures a little (cProfile a lot).

`run_gui` (used by `python -m app.bench`) runs each camera count in a fresh process, so no Qt
state carries over and a crash costs one row, and collects the JSON each prints.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from app.bench.fleet import pin
from app.bench.throughput import (
    READY_TIMEOUT_S,
    BenchError,
    CpuPlan,
    FleetSettings,
    _busy_percent,
    _Child,
    _cpu_ticks,
    _other_load,
)
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.session import monotonic_us
from app.receiver.stats import RING_SIZE, latency_summary

DEFAULT_CAMERAS = (1, 4, 8, 16, 24, 32)
TARGET_CAMERAS = 16  # the product target: 16 cameras hold on 2 cores
LATENCY_P99_TARGET_MS = 100.0
WINDOW_SIZE = (1600, 1000)
CAMERA_SKIP_LIMIT = 0.01  # of the frames sent: more fails a row (see the module doc)
DOCK_HISTORY_S = 30.0  # app.ui.latency_dock.LIVE_WINDOW_S (not imported: it pulls in Qt)
SETTLE_S = 0.5  # after the window: frames decrypted near its end get time to be painted
FINE_PROBE_MS = 20
PIN_MODES = ("one", "shared")
# Beyond the process's own start-up, connect and shutdown time.
_CHILD_SLACK_S = 120.0
OTHERS_LIMIT = 10.0  # CPU % by other processes on the benchmark's CPUs that taints a row
_MAX_MESSAGES = 20
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class GuiSettings:
    cameras: tuple[int, ...] = DEFAULT_CAMERAS
    seconds: float = 8.0
    warmup: float = 2.0
    fps: float = 25.0
    size: FrameSize = FrameSize.VGA
    frames: int = 50  # distinct pre-rendered frames the cameras cycle through
    pin: str = "one"  # "one": the app on the first CPU only; "shared": on every allowed CPU
    stop_above: int = TARGET_CAMERAS  # stop after the first failing count above this


# -- one camera count, in this process -------------------------------------------------------


class _Messages(logging.Handler):
    """Counts and keeps the first few warnings (the app's loggers, or Qt's messages)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.messages: list[str] = []

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.messages) < _MAX_MESSAGES:
            self.messages.append(text)

    def emit(self, record: logging.LogRecord) -> None:
        self.add(f"{record.name}: {record.getMessage()}")


class _Window:
    """What the measured window collects besides the counters: lag samples, garbage collector
    pauses (they stop whichever thread triggers them, usually the UI thread) and an optional
    profile (cProfile with `time.thread_time`: the UI thread only, in CPU time).
    """

    def __init__(self, profile: Path | None = None) -> None:
        self.active = False
        self.lag: list[float] = []
        self.fine_lag: list[float] = []
        self.gc_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._gc_started = 0.0
        self.profile = profile
        self._profiler = cProfile.Profile(time.thread_time) if profile is not None else None

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self.active:
            pause = (time.perf_counter() - self._gc_started) * 1000
            self.gc_pauses[info["generation"]].append(pause)

    def start(self) -> None:
        self.active = True
        gc.callbacks.append(self._gc)
        if self._profiler is not None:
            self._profiler.enable()

    def stop(self) -> None:
        self.active = False
        gc.callbacks.remove(self._gc)
        if self._profiler is not None and self.profile is not None:
            self._profiler.disable()
            self._profiler.dump_stats(self.profile)

    def gc_summary(self) -> dict[str, object]:
        every = [p for pauses in self.gc_pauses.values() for p in pauses]
        return {
            "collections": [len(self.gc_pauses[g]) for g in (0, 1, 2)],
            "total_ms": round(sum(every), 2),
            "max_ms": round(max(every, default=0.0), 2),
            "gen2_max_ms": round(max(self.gc_pauses[2], default=0.0), 2),
        }


class _Attribution:
    """The UI thread's CPU time per hooked function, over the window (`--attribute`).

    Wraps methods at class level before the window exists (bound slots are taken at connect
    time); the wrappers time only calls on the UI thread while the window is measured. Nested
    rows are included in their parents: the hooks list says which is inside which.
    """

    def __init__(self, collect: _Window) -> None:
        self.collect = collect
        self.rows: dict[str, list[float]] = {}  # name: [calls, cpu s, max wall s]
        self._ui = threading.get_ident()

    def wrap(self, owner: type, attr: str, name: str) -> None:
        original = getattr(owner, attr)
        rows, collect, ui = self.rows, self.collect, self._ui
        rows[name] = [0, 0.0, 0.0]

        @functools.wraps(original)
        def timed(*args: object, **kwargs: object) -> object:
            if not collect.active or threading.get_ident() != ui:
                return original(*args, **kwargs)
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                row = rows[name]
                row[0] += 1
                row[1] += time.thread_time() - cpu0
                row[2] = max(row[2], time.perf_counter() - wall0)

        setattr(owner, attr, timed)

    def install(self) -> None:
        import pyqtgraph
        import qasync

        from app.protocol.noise import CipherState
        from app.receiver.server import Receiver
        from app.services.decoder import FrameDecoder
        from app.ui.devices_panel import DevicesPanel
        from app.ui.latency_dock import LatencyDock
        from app.ui.main_window import MainWindow
        from app.ui.tile import CameraTile

        for owner, attr, name in (
            (qasync._SimpleTimer, "timerEvent", "asyncio callbacks (qasync timerEvent)"),
            (Receiver, "_handle_events", "  receiver: one message (decrypt, stats, submit)"),
            (CipherState, "decrypt_with_ad", "    decrypt (CipherState.decrypt_with_ad)"),
            (FrameDecoder, "submit", "    FrameDecoder.submit (to the decode pool)"),
            (FrameDecoder, "_finished", "  decoded frame to its tile (FrameDecoder._finished)"),
            (DevicesPanel, "update_device", "  devices panel update (deviceChanged)"),
            (CameraTile, "paintEvent", "tile paint (CameraTile.paintEvent)"),
            (CameraTile, "_paint_overlay", "  tile overlay (text, lock, bars)"),
            (pyqtgraph.GraphicsView, "paintEvent", "plot paint (pyqtgraph GraphicsView)"),
            (LatencyDock, "refresh", "latency dock refresh (10 Hz timer)"),
            (MainWindow, "refresh_tiles", "tile info refresh (4 Hz timer)"),
            (MainWindow, "refresh_status", "status bar refresh (1 Hz timer)"),
        ):
            self.wrap(owner, attr, name)

    def report(self, seconds: float) -> dict[str, dict[str, float | int]]:
        return {
            name: {
                "calls": int(calls),
                "cpu_ms_per_s": round(cpu * 1000 / seconds, 2),
                "cpu_us_per_call": round(cpu * 1e6 / calls, 1) if calls else None,
                "max_wall_ms": round(wall * 1000, 2),
            }
            for name, (calls, cpu, wall) in self.rows.items()
        }


def _summary(values: Iterable[float]) -> dict[str, float | int | None]:
    return latency_summary(values)


def _lag_summary(values: list[float]) -> dict[str, float | int | None]:
    summary = latency_summary(values)
    return {key: summary[key] for key in ("count", "p50", "p99", "max")}


def _frames(services: object, start_us: int, end_us: int, boot_us: dict[str, int]) -> dict:
    """Follow every frame decrypted in [start_us, end_us); latencies of those painted in it."""
    to_painted, to_decrypted, true_painted = [], [], []
    decrypt_to_decode, decode_to_paint, rx_to_decrypted, capture_to_rx = [], [], [], []
    received = painted = never_decoded = not_painted = unknown_offset = 0
    for stats in services.receiver.all_stats().values():  # type: ignore[attr-defined]
        for t in stats.timelines:
            if start_us <= t.decrypted_us < end_us:
                received += 1
                if t.painted_us is not None:
                    painted += 1
                elif t.decoded_us is None:
                    never_decoded += 1
                else:
                    not_painted += 1
            if t.painted_us is None or not start_us <= t.painted_us < end_us:
                continue
            rx_to_decrypted.append((t.decrypted_us - t.first_rx_us) / 1000)
            if t.decoded_us is not None:
                decrypt_to_decode.append((t.decoded_us - t.decrypted_us) / 1000)
                decode_to_paint.append((t.painted_us - t.decoded_us) / 1000)
            boot = boot_us.get(t.device)
            if boot is not None:
                true_painted.append((t.painted_us - (t.device_capture_us + boot)) / 1000)
            latency = t.latency_ms(t.painted_us)
            if latency is None:
                unknown_offset += 1
                continue
            to_painted.append(latency)
            capture = t.capture_us
            assert capture is not None
            capture_to_rx.append((t.first_rx_us - capture) / 1000)
            decrypted = t.latency_ms(t.decrypted_us)
            assert decrypted is not None
            to_decrypted.append(decrypted)
    return {
        "followed": {
            "decrypted_in_window": received,
            "painted": painted,
            "never_painted": received - painted,
            "never_decoded": never_decoded,
            "decoded_not_painted": not_painted,
        },
        "latency": {
            "frames_without_clock_offset": unknown_offset,
            "capture_to_painted_ms": _summary(to_painted),
            "capture_to_decrypted_ms": _summary(to_decrypted),
            "true_capture_to_painted_ms": _summary(true_painted),
            "breakdown_ms": {
                "capture_to_first_rx": _summary(capture_to_rx),
                "first_rx_to_decrypted": _summary(rx_to_decrypted),
                "decrypted_to_decoded": _summary(decrypt_to_decode),
                "decoded_to_painted": _summary(decode_to_paint),
            },
        },
    }


def _counters(services: object, window: object) -> dict[str, int]:
    receiver = services.receiver  # type: ignore[attr-defined]
    stats = receiver.all_stats().values()
    tiles = window.wall.tiles.values()  # type: ignore[attr-defined]
    return {
        "received": sum(s.frames_received for s in stats),
        "mailbox_dropped": sum(s.frames_dropped for s in stats),
        "rejected": sum(s.frames_rejected for s in stats),
        "bytes": sum(s.bytes for s in stats),
        "painted": sum(tile.painted for tile in tiles),
        "unpainted": sum(tile.unpainted for tile in tiles),
        "decoder_dropped": receiver.decoder.dropped,
        "decode_failed": receiver.decoder.failed,
    }


def _tracked_objects() -> dict[str, object]:
    """How many objects a full collection walks, and the commonest types among them."""
    counts: dict[str, int] = {}
    objects = gc.get_objects()
    for obj in objects:
        name = type(obj).__name__
        counts[name] = counts.get(name, 0) + 1
    top = sorted(counts.items(), key=lambda item: -item[1])[:8]
    return {"count": len(objects), "top_types": dict(top)}


def _tile_sizes(window: object) -> list[list[int]]:
    sizes = {(t.width(), t.height()) for t in window.wall.tiles.values()}  # type: ignore[attr-defined]
    return sorted([w, h] for w, h in sizes)


async def _measure(
    services: object,
    window: object,
    keys: dict[str, bytes],
    settings: GuiSettings,
    camera_cpus: set[int],
    collect: _Window,
) -> dict[str, object]:
    cameras = len(keys)
    if not await services.start():  # type: ignore[attr-defined]
        raise BenchError(f"the receiver did not start: {services.receiver.error}")  # type: ignore[attr-defined]
    fleet = FleetSettings(
        cameras=(cameras,), fps=settings.fps, size=settings.size, frames=settings.frames
    )
    child = await _Child.start(services.demo_url(), Suite.NOISE, fleet, camera_cpus)  # type: ignore[attr-defined]
    final = None
    try:
        devices = [{"name": name, "psk": psk.hex()} for name, psk in keys.items()]
        await child.send(json.dumps({"devices": devices}))
        ready = await child.expect("ready", READY_TIMEOUT_S)
        if ready["connected"] == 0:
            raise BenchError(f"no camera connected ({cameras} cameras)")
        await asyncio.sleep(settings.warmup)

        first = await child.snapshot()
        ticks0 = _cpu_ticks()
        collect.start()
        start_us, cpu0, ui0, c0 = (
            monotonic_us(),
            time.process_time(),
            time.thread_time(),
            _counters(services, window),
        )
        await asyncio.sleep(settings.seconds)
        end_us, cpu1, ui1, c1 = (
            monotonic_us(),
            time.process_time(),
            time.thread_time(),
            _counters(services, window),
        )
        collect.stop()
        ticks1 = _cpu_ticks()
        last = await child.snapshot()
        connected_at_end = len(services.receiver.live_devices())  # type: ignore[attr-defined]
        await asyncio.sleep(SETTLE_S)  # the cameras keep sending meanwhile
        followed = _frames(services, start_us, end_us, ready.get("boot_us", {}))
        tracked = _tracked_objects()
        final = await child.stop()
        child = None
    finally:
        if child is not None:
            await child.stop()

    wall_s = (end_us - start_us) / 1e6
    child_wall_s = (last["wall_us"] - first["wall_us"]) / 1e6
    app_cpu = (cpu1 - cpu0) / wall_s * 100
    camera_cpu = (last["cpu_s"] - first["cpu_s"]) / child_wall_s * 100
    busy = _busy_percent(ticks0, ticks1)
    app_cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    plan = CpuPlan(set(app_cpus), camera_cpus, bool(app_cpus and camera_cpus), "")
    delta = {key: c1[key] - c0[key] for key in c0}
    skipped = last["frames_skipped"] - first["frames_skipped"]
    never_painted = followed["followed"]["never_painted"]
    p99 = followed["latency"]["capture_to_painted_ms"]["p99"]
    all_connected = ready["connected"] == cameras and connected_at_end == cameras
    lost = never_painted
    sent = last["frames_sent"] - first["frames_sent"]
    camera_problems = {
        name: cam["last_close"]
        for name, cam in (final or last)["cameras"].items()
        if cam["connects"] != 1 or cam["last_close"] is not None
    }
    return {
        "cameras": cameras,
        "fps_per_camera": settings.fps,
        "window_s": round(wall_s, 3),
        "connected": ready["connected"],
        "connected_at_end": connected_at_end,
        "expected_frames_per_s": round(cameras * settings.fps, 2),
        "frames_sent": sent,
        "frames_received": delta["received"],
        "frames_received_per_s": round(delta["received"] / wall_s, 2),
        "frames_painted": delta["painted"],
        "frames_painted_per_s": round(delta["painted"] / wall_s, 2),
        "megabytes_per_s": round(delta["bytes"] / wall_s / 1e6, 2),
        # The target's "drops": frames received in the window that never reached the screen.
        "frames_lost": lost,
        "camera_skip_limit": round(sent * CAMERA_SKIP_LIMIT),
        "drops": {
            "received_minus_painted": delta["received"] - delta["painted"],
            "never_painted": never_painted,
            "decoder_dropped": delta["decoder_dropped"],
            "unpainted_at_paint": delta["unpainted"],
            "decode_failed": delta["decode_failed"],
            "mailbox_dropped": delta["mailbox_dropped"],
            "camera_skipped": skipped,
            "rejected": delta["rejected"],
        },
        "followed": followed["followed"],
        "latency": followed["latency"],
        "loop_lag_ms": _lag_summary(collect.lag),
        "fine_loop_lag_ms": {**_lag_summary(collect.fine_lag), "probe_ms": FINE_PROBE_MS},
        "gc_pauses": collect.gc_summary(),
        "gc_tracked_objects": tracked,
        "process_cpu_percent": round(app_cpu, 1),
        "ui_thread_cpu_percent": round((ui1 - ui0) / wall_s * 100, 1),
        "camera_process_cpu_percent": round(camera_cpu, 1),
        "cpu_busy_percent": busy,
        # CPU % used by anything else on the app's / the cameras' CPUs (pinned apart only).
        "other_load_percent": _other_load(busy, plan, app_cpu, camera_cpu),
        "window_size": [window.width(), window.height()],  # type: ignore[attr-defined]
        "tile_sizes": _tile_sizes(window),
        "holds": lost == 0
        and p99 is not None
        and p99 < LATENCY_P99_TARGET_MS
        and all_connected
        and skipped <= sent * CAMERA_SKIP_LIMIT,
        "camera_problems": camera_problems,
        "camera_errors": (final or {}).get("errors", []),
        "camera_warnings": (final or {}).get("warning_messages", []),
    }


def measure(
    cameras: int,
    settings: GuiSettings,
    gui_cpus: set[int],
    camera_cpus: set[int],
    profile: Path | None = None,
    attribute: bool = False,
) -> dict[str, object]:
    """One camera count with the real window, in this process (which it pins to `gui_cpus`).

    With `profile`, the UI thread's CPU time over the window is written there (pstats).
    """
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: never a real window
    import qasync
    from PySide6.QtCore import Qt, QTimer, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from app.devices.registry import DeviceKey, Registry
    from app.services.app_services import AppServices
    from app.services.settings import ReceiverSettings
    from app.ui.main_window import MainWindow

    pinned = pin(gui_cpus)
    warnings = _Messages()
    securecam_log = logging.getLogger("securecam")
    securecam_log.addHandler(warnings)
    securecam_log.propagate = False  # collected, not printed
    qt_messages = _Messages()
    qInstallMessageHandler(lambda _kind, _context, text: qt_messages.add(text))

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    keys = {f"bench{i:02d}": os.urandom(32) for i in range(cameras)}
    collect = _Window(profile)
    attribution = _Attribution(collect) if attribute else None
    if attribution is not None:
        attribution.install()  # before the window connects its slots
    with tempfile.TemporaryDirectory(prefix="securecam-guibench-") as tmp:
        config = Path(tmp)
        registry = Registry(config)
        for name, psk in keys.items():
            registry.add(name, key=DeviceKey(psk))
        services = AppServices(config)
        services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
        window = MainWindow(services)
        window.resize(*WINDOW_SIZE)

        def app_probe() -> None:  # runs right after MainWindow._probe_lag (connected first)
            if collect.active:
                collect.lag.append(window.loop_lag_ms)

        window._lag_timer.timeout.connect(app_probe)
        fine = QTimer(window)
        fine.setTimerType(Qt.TimerType.PreciseTimer)
        fine.setInterval(FINE_PROBE_MS)
        last_fine = [time.monotonic()]

        def fine_probe() -> None:
            now = time.monotonic()
            if collect.active:
                collect.fine_lag.append(max(0.0, (now - last_fine[0]) * 1000 - FINE_PROBE_MS))
            last_fine[0] = now

        fine.timeout.connect(fine_probe)
        fine.start()
        window.show()

        async def session() -> dict[str, object]:
            # As in app.ui.run: the services shut down while the loop still runs, so no decoder
            # callback is left for after it stops.
            try:
                return await _measure(services, window, keys, settings, camera_cpus, collect)
            finally:
                fine.stop()
                window.close()
                await services.shutdown()

        try:
            result = loop.run_until_complete(session())
        finally:
            loop.close()
            asyncio.set_event_loop(None)
            securecam_log.removeHandler(warnings)
    if attribution is not None:
        result["ui_attribution"] = attribution.report(result["window_s"])  # type: ignore[arg-type]
    result["gui_cpus"] = sorted(gui_cpus) if pinned else None
    result["camera_cpus"] = sorted(camera_cpus)
    result["app_warnings"] = warnings.messages
    result["app_warning_count"] = warnings.count
    result["qt_messages"] = qt_messages.messages
    result["qt_message_count"] = qt_messages.count
    return result


# -- every camera count, each in a fresh process ---------------------------------------------


def gui_cpus(plan: CpuPlan, mode: str) -> tuple[set[int], set[int], str]:
    """(app CPUs, camera CPUs, note) for a pin mode: the app alone on the first CPU, or shared."""
    if not plan.pinned or not plan.receiver:
        return set(), set(), "nothing pinned"
    cameras = plan.cameras
    if mode == "shared" or plan.receiver == plan.cameras:
        app = plan.receiver | plan.cameras
        names = ",".join(map(str, sorted(app)))
        note = f"app unpinned (CPUs {names}, shared with the cameras on CPU " + (
            ",".join(map(str, sorted(cameras))) + ")"
        )
        return app, cameras, note
    app_cpu = ",".join(map(str, sorted(plan.receiver)))
    cam_cpu = ",".join(map(str, sorted(cameras)))
    return (
        set(plan.receiver),
        set(cameras),
        f"app pinned to CPU {app_cpu} (UI thread and decode threads share it), "
        f"cameras on CPU {cam_cpu}",
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
        command += ["--cpus", ",".join(map(str, sorted(app)))]
    if cams:
        command += ["--camera-cpus", ",".join(map(str, sorted(cams)))]
    return command


def run_one(cameras: int, settings: GuiSettings, app: set[int], cams: set[int]) -> dict:
    """One camera count in a fresh `python -m app.bench.gui` process; an error becomes a row."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["QT_QPA_PLATFORM"] = "offscreen"
    timeout = settings.warmup + settings.seconds + _CHILD_SLACK_S
    started = time.monotonic()
    try:
        run = subprocess.run(
            _command(cameras, settings, app, cams),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=_PROJECT_ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"cameras": cameras, "holds": False, "error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " | ".join(run.stderr.strip().splitlines()[-3:])
        return {
            "cameras": cameras,
            "holds": False,
            "error": f"exit status {run.returncode}, no result: {tail or 'no output'}",
        }
    if run.returncode != 0 and "error" not in result:
        result["error"] = f"exit status {run.returncode}"
    result.setdefault("holds", False)
    result["process_s"] = round(time.monotonic() - started, 1)
    stderr = run.stderr.strip()
    if stderr:
        result["stderr_tail"] = stderr.splitlines()[-5:]
    return result


def run_gui(
    settings: GuiSettings, plan: CpuPlan, progress: Callable[[str], None] | None = None
) -> dict[str, object]:
    """Every camera count in turn; stops after the first failure above `settings.stop_above`."""
    say = progress or (lambda _: None)
    app, cams, note = gui_cpus(plan, settings.pin)
    configs: list[dict] = []
    stopped_after = None
    for count in settings.cameras:
        say(f"gui: {count} camera(s), {settings.seconds:g} s, window offscreen")
        row = run_one(count, settings, app, cams)
        configs.append(row)
        if row.get("error"):
            say(f"gui: {count} camera(s) failed: {row['error']}")
        elif "latency" in row:
            p99 = row["latency"]["capture_to_painted_ms"]["p99"]
            say(
                f"gui: {count} camera(s): {row['frames_lost']} lost, capture→painted p99 "
                f"{_ms(p99)} ms, {'holds' if row['holds'] else 'does NOT hold'}"
            )
        if not row.get("holds") and count > settings.stop_above and count != settings.cameras[-1]:
            stopped_after = count
            break
    holding = [c["cameras"] for c in configs if c.get("holds")]
    contiguous = 0
    for c in sorted(configs, key=lambda c: c["cameras"]):
        if not c.get("holds"):
            break
        contiguous = c["cameras"]
    return {
        "settings": {
            "cameras": list(settings.cameras),
            "seconds": settings.seconds,
            "warmup_s": settings.warmup,
            "fps": settings.fps,
            "frame_size": settings.size.name.lower(),
            "prerendered_frames": settings.frames,
            "suite": "noise",
            "window_size": list(WINDOW_SIZE),
            "pin": settings.pin,
            "latency_p99_target_ms": LATENCY_P99_TARGET_MS,
            "target_cameras": TARGET_CAMERAS,
        },
        "cpus": {"app": sorted(app), "cameras": sorted(cams), "note": note},
        "configs": configs,
        "largest_holding": max(holding, default=None),
        "largest_holding_all_below": contiguous or None,
        "stopped_after": stopped_after,
    }


# -- report ----------------------------------------------------------------------------------


def _ms(value: object) -> str:
    return "-" if value is None else f"{value:.1f}"


def _gc(pauses: dict | None) -> str:
    if not pauses:
        return "-"
    return f"{pauses['max_ms']:.1f} ({pauses['collections'][2]})"


def gui_targets(gui: dict) -> list[dict[str, object]]:
    """The product target: TARGET_CAMERAS cameras, no drops, p99 under the limit."""
    s = gui["settings"]
    name = (
        f"app window: {s['target_cameras']} cameras × {s['fps']:g} fps "
        f"{s['frame_size'].upper()}, zero drops, capture→painted p99 < "
        f"{s['latency_p99_target_ms']:g} ms"
    )
    row = next((c for c in gui["configs"] if c["cameras"] == s["target_cameras"]), None)
    if row is None:
        largest = gui["largest_holding"]
        return [
            {"name": name, "value": "not measured", "met": None},
            {"name": "app window: largest camera count that holds", "value": largest, "met": None},
        ]
    if row.get("error"):
        value = "error"
    else:
        p99 = row["latency"]["capture_to_painted_ms"]["p99"]
        value = f"{row['frames_lost']} lost, p99 {_ms(p99)} ms"
    return [
        {"name": name, "value": value, "met": bool(row.get("holds"))},
        {
            "name": "app window: largest camera count that holds",
            "value": "none" if gui["largest_holding"] is None else gui["largest_holding"],
            "met": None,
        },
    ]


def render_gui(gui: dict) -> list[str]:
    lines: list[str] = []
    add = lines.append
    s = gui["settings"]
    width, height = s["window_size"]
    add(
        f"3. Desktop app window, offscreen {width}×{height}: cameras × {s['fps']:g} fps "
        f"{s['frame_size'].upper()} (noise), {s['seconds']:g} s window after {s['warmup_s']:g} s "
        "warm-up, each count in a fresh process"
    )
    add(f"   CPUs: {gui['cpus']['note']}")
    ring_fill_s = RING_SIZE / s["fps"]
    if s["warmup_s"] < ring_fill_s:
        add(
            f"   NOTE: a young process: the stats rings fill after {ring_fill_s:.0f} s and the "
            f"latency plots after {DOCK_HISTORY_S:.0f} s; --gui-warmup 90 measures the steady "
            "state (longer GC pauses, costlier redraws)"
        )
    add(
        "   lost = frames decrypted in the window never painted (followed through the stats "
        "ring): dec = replaced while waiting"
    )
    add(
        "   for the decoder, tile = replaced on the tile before a paint; skip = frames the "
        "cameras skipped, falling behind (not in 'lost'; over 1% fails the row)"
    )
    add(
        "   latency = capture → painted over frames painted in the window (clock-sync "
        "estimate); lag = MainWindow.loop_lag_ms (100 ms probe)"
    )
    add(
        "   CPU% = process / UI thread time over the window, % of one core (the decode threads "
        "are the difference); cam = camera process;"
    )
    add("   others% = CPU % taken by other processes on the app's / the cameras' CPUs")
    add(
        f"   {'cams':>4} {'rx/s (exp)':>13} {'painted/s':>9} {'lost':>5} {'dec':>4} "
        f"{'tile':>4} {'skip':>4}  {'cap→painted p50/p95/p99':>23} {'lag p50/p99/max':>18} "
        f"{'CPU% proc/UI':>12} {'cam%':>5} {'others%':>8}  holds"
    )
    for c in gui["configs"]:
        if c.get("error"):
            add(f"   {c['cameras']:>4}  ERROR: {c['error']}")
            continue
        d, painted, lag = c["drops"], c["latency"]["capture_to_painted_ms"], c["loop_lag_ms"]
        rate = f"{c['frames_received_per_s']:.0f} ({c['expected_frames_per_s']:g})"
        other = c.get("other_load_percent")
        others = "-" if not other else f"{other['receiver_cpus']:.0f} / {other['camera_cpus']:.0f}"
        add(
            f"   {c['cameras']:>4} {rate:>13} {c['frames_painted_per_s']:>9.0f} "
            f"{c['frames_lost']:>5} {d['decoder_dropped']:>4} {d['unpainted_at_paint']:>4} "
            f"{d['camera_skipped']:>4}  "
            f"{_ms(painted['p50']) + ' / ' + _ms(painted['p95']) + ' / ' + _ms(painted['p99']):>23}"
            f" {_ms(lag['p50']) + ' / ' + _ms(lag['p99']) + ' / ' + _ms(lag['max']):>18} "
            f"{c['process_cpu_percent']:>6.0f} /{c['ui_thread_cpu_percent']:>4.0f} "
            f"{c['camera_process_cpu_percent']:>5.0f} {others:>8}  "
            f"{'yes' if c['holds'] else 'NO'}"
        )
    add("")
    add(
        "   p50 / p99 by stage, ms: capture→rx (camera, loopback, waiting for the UI loop) | "
        "rx→decrypted | decrypted→decoded (decode threads) | decoded→painted;"
    )
    add(
        "   true = capture→painted on the shared clock; fine lag = the bench's own "
        f"{FINE_PROBE_MS} ms probe; GC = longest garbage collector pause (gen-2 collections)"
    )
    add(
        f"   {'cams':>4} {'capture→rx':>13} {'rx→decrypted':>13} {'decrypted→decoded':>18} "
        f"{'decoded→painted':>16} {'cap→decrypted':>14} {'true p99':>9} {'fine lag p99/max':>17} "
        f"{'GC ms (gen2)':>13}"
    )

    def pair(figure: dict) -> str:
        return f"{_ms(figure['p50'])} / {_ms(figure['p99'])}"

    for c in gui["configs"]:
        if c.get("error"):
            continue
        b, fine = c["latency"]["breakdown_ms"], c["fine_loop_lag_ms"]
        add(
            f"   {c['cameras']:>4} {pair(b['capture_to_first_rx']):>13} "
            f"{pair(b['first_rx_to_decrypted']):>13} {pair(b['decrypted_to_decoded']):>18} "
            f"{pair(b['decoded_to_painted']):>16} "
            f"{pair(c['latency']['capture_to_decrypted_ms']):>14} "
            f"{_ms(c['latency']['true_capture_to_painted_ms']['p99']):>9} "
            f"{_ms(fine['p99']) + ' / ' + _ms(fine['max']):>17} "
            f"{_gc(c.get('gc_pauses')):>13}"
        )
    add("")
    largest = gui["largest_holding"]
    line = f"   largest camera count that holds: {'none' if largest is None else largest}"
    contiguous = gui["largest_holding_all_below"]
    if largest is not None and contiguous != largest:
        line += f" (but a smaller count failed: every count up to {contiguous or 'none'} held)"
    add(line)
    if gui["stopped_after"] is not None:
        add(
            f"   stopped after {gui['stopped_after']} cameras, the first failure above "
            f"{s['target_cameras']}"
        )
    problems = []
    for c in gui["configs"]:
        tag = f"{c['cameras']} camera(s)"
        if c.get("error"):
            continue
        other = c.get("other_load_percent")
        if other and max(other.values()) > OTHERS_LIMIT:
            problems.append(
                f"{tag}: other processes used {other['receiver_cpus']:.0f}% / "
                f"{other['camera_cpus']:.0f}% of the app's / cameras' CPUs: figures pessimistic"
            )
        if c["connected"] != c["cameras"] or c["connected_at_end"] != c["cameras"]:
            problems.append(
                f"{tag}: {c['connected']} connected at start, {c['connected_at_end']} at end"
            )
        if c["drops"]["camera_skipped"]:
            problems.append(
                f"{tag}: the cameras skipped {c['drops']['camera_skipped']} frames "
                f"(limit {c['camera_skip_limit']})"
            )
        for name, close in c["camera_problems"].items():
            problems.append(f"{tag}: camera {name} closed: {close}")
        problems += [f"{tag}: camera error {e}" for e in c["camera_errors"]]
        problems += [f"{tag}: {w}" for w in c["camera_warnings"] + c["app_warnings"]]
        if c["drops"]["decode_failed"] or c["drops"]["mailbox_dropped"]:
            problems.append(
                f"{tag}: {c['drops']['decode_failed']} decode failures, "
                f"{c['drops']['mailbox_dropped']} mailbox drops"
            )
        if c.get("stderr_tail"):
            problems.append(f"{tag}: the app process wrote to stderr: {c['stderr_tail'][-1]}")
        if c["latency"]["frames_without_clock_offset"]:
            problems.append(
                f"{tag}: {c['latency']['frames_without_clock_offset']} painted frames had no "
                "clock offset (left out of the latency figures)"
            )
    if problems:
        add("   problems seen:")
        lines.extend(f"   - {p}" for p in problems[:30])
    return lines


# -- command line ----------------------------------------------------------------------------


def _cpus(text: str) -> set[int]:
    return {int(part) for part in text.split(",") if part.strip()}


def _default_cpus() -> tuple[set[int], set[int]]:
    if not hasattr(os, "sched_getaffinity"):
        return set(), set()
    allowed = sorted(os.sched_getaffinity(0))
    return {allowed[0]}, set(allowed[1:]) or {allowed[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m app.bench.gui",
        description="One camera count against the real window, offscreen (see the module doc).",
    )
    p.add_argument("--cameras", type=int, required=True, help="number of cameras (1..64)")
    p.add_argument("--seconds", type=float, default=8.0, help="measured window (8)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up before it (2)")
    p.add_argument("--fps", type=float, default=25.0, help="frames per second per camera (25)")
    p.add_argument("--frame-size", type=FrameSize.parse, default=FrameSize.VGA, help="(vga)")
    p.add_argument("--frames", type=int, default=50, help="distinct pre-rendered frames (50)")
    p.add_argument("--cpus", type=_cpus, help="pin the app to these CPUs (default: the first)")
    p.add_argument("--camera-cpus", type=_cpus, help="the cameras' CPUs (default: the others)")
    p.add_argument("--json", default="-", metavar="PATH", help="write the result here (- stdout)")
    p.add_argument(
        "--attribute",
        action="store_true",
        help="time the UI thread's main handlers (CPU ms per second) into 'ui_attribution'",
    )
    p.add_argument(
        "--profile",
        type=Path,
        metavar="PATH",
        help="write a cProfile of the UI thread's CPU time over the window (pstats file)",
    )
    args = p.parse_args(argv)
    if not 1 <= args.cameras <= 64:
        p.error("--cameras must be 1..64 (the receiver's limit)")
    default_app, default_cams = _default_cpus()
    app = args.cpus if args.cpus is not None else default_app
    cams = args.camera_cpus if args.camera_cpus is not None else default_cams
    settings = GuiSettings(
        cameras=(args.cameras,),
        seconds=args.seconds,
        warmup=args.warmup,
        fps=args.fps,
        size=args.frame_size,
        frames=args.frames,
    )
    status = 0
    try:
        result = measure(args.cameras, settings, app, cams, args.profile, args.attribute)
    except BenchError as exc:
        result, status = {"cameras": args.cameras, "holds": False, "error": str(exc)}, 2
    text = json.dumps(result, ensure_ascii=False)
    if args.json == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        Path(args.json).write_text(text + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
