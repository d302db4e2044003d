"""One camera count against the real window, in this process: what runs inside the app.

`python -m app.bench.gui --cameras N` (`main`) runs `measure` and prints its `GuiRun` as one
JSON line; `app.bench.gui.orchestrate` starts it once per camera count. What is measured, and
when a count holds, is described in `app.bench.gui`.
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
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.bench import BenchError
from app.bench.fleet import CameraProcess, Snapshot
from app.bench.host import (
    CpuPlan,
    allowed_cpus,
    busy_percent,
    collecting,
    cpu_ticks,
    other_load,
    parse_cpus,
    pin,
)
from app.bench.results import (
    Attribution,
    Drops,
    Followed,
    GcPauses,
    GuiBreakdown,
    GuiError,
    GuiLatency,
    GuiRun,
    LagSummary,
    Summary,
    TrackedObjects,
    to_json,
)
from app.protocol.clock import monotonic_us
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite

if TYPE_CHECKING:
    from app.services.app_services import AppServices
    from app.ui.main_window import MainWindow

DEFAULT_CAMERAS = (1, 4, 8, 16, 24, 32)
TARGET_CAMERAS = 16  # the product target: 16 cameras hold on 2 cores
LATENCY_P99_TARGET_MS = 100.0
WINDOW_SIZE = (1600, 1000)
CAMERA_SKIP_LIMIT = 0.01  # of the frames sent: more fails a row (see app.bench.gui)
DOCK_HISTORY_S = 30.0  # app.ui.latency_dock.LIVE_WINDOW_S (not imported: it pulls in Qt)
SETTLE_S = 0.5  # after the window: frames decrypted near its end get time to be painted
FINE_PROBE_MS = 20
_MAX_MESSAGES = 20


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

    def gc_summary(self) -> GcPauses:
        every = [p for pauses in self.gc_pauses.values() for p in pauses]
        return GcPauses(
            collections=[len(self.gc_pauses[g]) for g in (0, 1, 2)],
            total_ms=round(sum(every), 2),
            max_ms=round(max(every, default=0.0), 2),
            gen2_max_ms=round(max(self.gc_pauses[2], default=0.0), 2),
        )


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
            (CipherState, "decrypt_view_with_ad", "    decrypt (CipherState.decrypt_view_with_ad)"),
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

    def report(self, seconds: float) -> dict[str, Attribution]:
        return {
            name: Attribution(
                calls=int(calls),
                cpu_ms_per_s=round(cpu * 1000 / seconds, 2),
                cpu_us_per_call=round(cpu * 1e6 / calls, 1) if calls else None,
                max_wall_ms=round(wall * 1000, 2),
            )
            for name, (calls, cpu, wall) in self.rows.items()
        }


def _frames(
    services: AppServices, start_us: int, end_us: int, ready: Snapshot
) -> tuple[Followed, GuiLatency]:
    """Follow every frame decrypted in [start_us, end_us); latencies of those painted in it.

    The true capture→painted places the capture with each camera's real clock offset, which
    the camera process reported (`ready`); the others with the receiver's estimate.
    """
    to_painted: list[float] = []
    to_decrypted: list[float] = []
    true_painted: list[float] = []
    decrypt_to_decode: list[float] = []
    decode_to_paint: list[float] = []
    rx_to_decrypted: list[float] = []
    capture_to_rx: list[float] = []
    received = painted = never_decoded = not_painted = unknown_offset = 0
    for stats in services.receiver.all_stats().values():
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
            rx_to_decrypted.append(t.receive_ms)
            decode, paint = t.decode_ms, t.paint_ms
            if decode is not None and paint is not None:
                decrypt_to_decode.append(decode)
                decode_to_paint.append(paint)
            exact = ready.true_timeline(t)
            if exact is not None and exact.to_painted_ms is not None:
                true_painted.append(exact.to_painted_ms)
            to_paint, to_rx, decrypted = (
                t.to_painted_ms,
                t.latency_ms(t.first_rx_us),
                t.to_decrypted_ms,
            )
            if to_paint is None or to_rx is None or decrypted is None:  # no clock offset yet
                unknown_offset += 1
                continue
            to_painted.append(to_paint)
            capture_to_rx.append(to_rx)
            to_decrypted.append(decrypted)
    followed = Followed(
        decrypted_in_window=received,
        painted=painted,
        never_painted=received - painted,
        never_decoded=never_decoded,
        decoded_not_painted=not_painted,
    )
    latency = GuiLatency(
        frames_without_clock_offset=unknown_offset,
        capture_to_painted_ms=Summary.of(to_painted),
        capture_to_decrypted_ms=Summary.of(to_decrypted),
        true_capture_to_painted_ms=Summary.of(true_painted),
        breakdown_ms=GuiBreakdown(
            capture_to_first_rx=Summary.of(capture_to_rx),
            first_rx_to_decrypted=Summary.of(rx_to_decrypted),
            decrypted_to_decoded=Summary.of(decrypt_to_decode),
            decoded_to_painted=Summary.of(decode_to_paint),
        ),
    )
    return followed, latency


@dataclass(frozen=True, slots=True)
class _Counters:
    """The receiver's, the decoder's and the tiles' counters, summed over every camera."""

    received: int
    mailbox_dropped: int
    rejected: int
    bytes: int
    painted: int
    unpainted: int
    decoder_dropped: int
    decode_failed: int

    @classmethod
    def of(cls, services: AppServices, window: MainWindow) -> _Counters:
        receiver = services.receiver
        stats = receiver.all_stats().values()
        tiles = window.wall.tiles.values()
        return cls(
            received=sum(s.frames_received for s in stats),
            mailbox_dropped=sum(s.frames_dropped for s in stats),
            rejected=sum(s.frames_rejected for s in stats),
            bytes=sum(s.bytes for s in stats),
            painted=sum(tile.painted for tile in tiles),
            unpainted=sum(tile.unpainted for tile in tiles),
            decoder_dropped=receiver.decoder.dropped,
            decode_failed=receiver.decoder.failed,
        )

    def __sub__(self, earlier: _Counters) -> _Counters:
        return _Counters(*(getattr(self, name) - getattr(earlier, name) for name in self.__slots__))


def _tracked_objects() -> TrackedObjects:
    """How many objects a full collection walks, and the commonest types among them."""
    counts: dict[str, int] = {}
    objects = gc.get_objects()
    for obj in objects:
        name = type(obj).__name__
        counts[name] = counts.get(name, 0) + 1
    top = sorted(counts.items(), key=lambda item: -item[1])[:8]
    return TrackedObjects(count=len(objects), top_types=dict(top))


def _tile_sizes(window: MainWindow) -> list[list[int]]:
    sizes = {(t.width(), t.height()) for t in window.wall.tiles.values()}
    return sorted([w, h] for w, h in sizes)


async def _measure(
    services: AppServices,
    window: MainWindow,
    keys: dict[str, bytes],
    settings: GuiSettings,
    camera_cpus: set[int],
    collect: _Window,
) -> GuiRun:
    cameras = len(keys)
    if not await services.start():
        raise BenchError(f"the receiver did not start: {services.receiver.error}")
    child = await CameraProcess.start(
        services.demo_url(), Suite.NOISE, settings.fps, settings.size, settings.frames, camera_cpus
    )
    final, stopped = None, False
    try:
        ready = await child.send_devices(keys)
        await asyncio.sleep(settings.warmup)

        first = await child.snapshot()
        ticks0 = cpu_ticks()
        collect.start()
        start_us, cpu0, ui0, c0 = (
            monotonic_us(),
            time.process_time(),
            time.thread_time(),
            _Counters.of(services, window),
        )
        await asyncio.sleep(settings.seconds)
        end_us, cpu1, ui1, c1 = (
            monotonic_us(),
            time.process_time(),
            time.thread_time(),
            _Counters.of(services, window),
        )
        collect.stop()
        ticks1 = cpu_ticks()
        last = await child.snapshot()
        connected_at_end = len(services.receiver.live_devices())
        await asyncio.sleep(SETTLE_S)  # the cameras keep sending meanwhile
        followed, latency = _frames(services, start_us, end_us, ready)
        tracked = _tracked_objects()
        final, stopped = await child.stop(), True
    finally:
        if not stopped:
            await child.stop()

    wall_s = (end_us - start_us) / 1e6
    app_cpu = (cpu1 - cpu0) / wall_s * 100
    camera_cpu = last.cpu_percent_since(first)
    busy = busy_percent(ticks0, ticks1)
    app_cpus = allowed_cpus()
    plan = CpuPlan(app_cpus, camera_cpus, bool(app_cpus and camera_cpus), "")
    delta = c1 - c0
    skipped = last.frames_skipped - first.frames_skipped
    lost = followed.never_painted
    p99 = latency.capture_to_painted_ms.p99
    all_connected = ready.connected == cameras and connected_at_end == cameras
    sent = last.frames_sent - first.frames_sent
    return GuiRun(
        cameras=cameras,
        fps_per_camera=settings.fps,
        window_s=round(wall_s, 3),
        connected=ready.connected,
        connected_at_end=connected_at_end,
        expected_frames_per_s=round(cameras * settings.fps, 2),
        frames_sent=sent,
        frames_received=delta.received,
        frames_received_per_s=round(delta.received / wall_s, 2),
        frames_painted=delta.painted,
        frames_painted_per_s=round(delta.painted / wall_s, 2),
        megabytes_per_s=round(delta.bytes / wall_s / 1e6, 2),
        frames_lost=lost,
        camera_skip_limit=round(sent * CAMERA_SKIP_LIMIT),
        drops=Drops(
            received_minus_painted=delta.received - delta.painted,
            never_painted=followed.never_painted,
            decoder_dropped=delta.decoder_dropped,
            unpainted_at_paint=delta.unpainted,
            decode_failed=delta.decode_failed,
            mailbox_dropped=delta.mailbox_dropped,
            camera_skipped=skipped,
            rejected=delta.rejected,
        ),
        followed=followed,
        latency=latency,
        loop_lag_ms=LagSummary.of(collect.lag),
        fine_loop_lag_ms=LagSummary.of(collect.fine_lag, probe_ms=FINE_PROBE_MS),
        gc_pauses=collect.gc_summary(),
        gc_tracked_objects=tracked,
        process_cpu_percent=round(app_cpu, 1),
        ui_thread_cpu_percent=round((ui1 - ui0) / wall_s * 100, 1),
        camera_process_cpu_percent=round(camera_cpu, 1),
        cpu_busy_percent=busy,
        other_load_percent=other_load(busy, plan, app_cpu, camera_cpu),
        window_size=[window.width(), window.height()],
        tile_sizes=_tile_sizes(window),
        holds=lost == 0
        and p99 is not None
        and p99 < LATENCY_P99_TARGET_MS
        and all_connected
        and skipped <= sent * CAMERA_SKIP_LIMIT,
        camera_problems=(final or last).camera_problems(),
        camera_errors=(final.errors or []) if final else [],
        camera_warnings=(final.warning_messages or []) if final else [],
    )


def measure(
    cameras: int,
    settings: GuiSettings,
    gui_cpus: set[int],
    camera_cpus: set[int],
    profile: Path | None = None,
    attribute: bool = False,
) -> GuiRun:
    """One camera count with the real window, in this process (which it pins to `gui_cpus`).

    With `profile`, the UI thread's CPU time over the window is written there (pstats); with
    `attribute`, the UI thread's main handlers are timed into `ui_attribution`.

    Raises:
        BenchError: if the receiver did not start, the camera process failed or no camera
            connected.
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
    qt_messages = _Messages()
    qInstallMessageHandler(lambda _kind, _context, text: qt_messages.add(text))

    with collecting(warnings):  # collected, not printed
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

            async def session() -> GuiRun:
                # As in app.ui.session: the services shut down while the loop still runs, so no
                # decoder callback is left for after it stops.
                try:
                    return await _measure(services, window, keys, settings, camera_cpus, collect)
                finally:
                    fine.stop()
                    window.close()
                    await services.shutdown()

            try:
                result: GuiRun = loop.run_until_complete(session())
            finally:
                loop.close()
                asyncio.set_event_loop(None)
    if attribution is not None:
        result.ui_attribution = attribution.report(result.window_s)
    result.gui_cpus = sorted(gui_cpus) if pinned else None
    result.camera_cpus = sorted(camera_cpus)
    result.app_warnings = warnings.messages
    result.app_warning_count = warnings.count
    result.qt_messages = qt_messages.messages
    result.qt_message_count = qt_messages.count
    return result


# -- command line: one camera count ---------------------------------------------------------


def _default_cpus() -> tuple[set[int], set[int]]:
    allowed = sorted(allowed_cpus())
    if not allowed:
        return set(), set()
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
    p.add_argument("--cpus", type=parse_cpus, help="pin the app to these CPUs (default: the first)")
    p.add_argument("--camera-cpus", type=parse_cpus, help="the cameras' CPUs (default: the others)")
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
    result: GuiRun | GuiError
    try:
        result = measure(args.cameras, settings, app, cams, args.profile, args.attribute)
    except BenchError as exc:
        result, status = GuiError(args.cameras, False, str(exc)), 2
    text = json.dumps(to_json(result), ensure_ascii=False)
    if args.json == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        Path(args.json).write_text(text + "\n")
    return status
