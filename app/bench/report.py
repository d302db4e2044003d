"""The benchmark's targets, machine description and printed report (every section's)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from app.bench.core import VGA_TARGET_US
from app.bench.gui.measure import DOCK_HISTORY_S, FINE_PROBE_MS
from app.bench.paper import BLOCK_CHARS, LABEL
from app.bench.results import (
    BenchReport,
    CoreResult,
    FleetConfig,
    FleetResult,
    GuiError,
    GuiResult,
    GuiRun,
    Machine,
    OtherLoad,
    PaperResult,
    Summary,
    Target,
)
from app.bench.throughput import LATENCY_RATIO_TARGET
from app.receiver.stats import RING_SIZE

DROP_TARGET_CAMERAS = 32
# CPU % of the receiver's or the cameras' CPUs used by other processes that taints a window.
OTHERS_LIMIT = 10.0


def machine() -> Machine:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    libraries: dict[str, str | None] = {}
    for name in ("pycryptodome", "websockets", "cryptography"):
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libraries[name] = None
    return Machine(
        platform=platform.platform(),
        cpu_model=model,
        cpu_count=os.cpu_count(),
        cpus_allowed=allowed,
        python=sys.version.split()[0],
        implementation=platform.python_implementation(),
        libraries=libraries,
        load_average=load_average(),
    )


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: anything well above 0 means others share the CPUs."""
    if not hasattr(os, "getloadavg"):
        return None
    return [round(value, 2) for value in os.getloadavg()]


# -- targets ---------------------------------------------------------------------------------


def targets(report: BenchReport) -> list[Target]:
    """Each target with the measured value and whether it was met (None: not measured)."""
    out: list[Target] = []
    if report.core is not None:
        out.append(core_target(report.core))
    if report.fleet is not None:
        out += fleet_targets(report.fleet)
    if report.gui is not None:
        out += gui_targets(report.gui)
    if report.paper is not None:
        out.append(paper_target(report.paper))
    return out


def core_target(core: CoreResult) -> Target:
    figure = core.figures["vga_receive_noise"]
    return Target(
        f"VGA decrypt + reassembly ≤ {VGA_TARGET_US:g} µs per frame (median)",
        f"{figure.median_us:.1f} µs",
        figure.median_us <= VGA_TARGET_US,
    )


def fleet_targets(fleet: FleetResult) -> list[Target]:
    out = []
    for ratio in fleet.ratios:
        count, value = ratio.cameras, ratio.latency_p50_ratio
        out.append(
            Target(
                f"encrypted/plain p50 latency ≤ {LATENCY_RATIO_TARGET:.2f}, "
                f"{count} camera{'s' if count != 1 else ''}",
                "n/a" if value is None else f"{value:.2f}",
                ratio.latency_p50_target_met,
            )
        )
    for config in fleet.configs:
        if config.cameras != DROP_TARGET_CAMERAS:
            continue
        lost = config.frames_dropped + config.frames_skipped
        out.append(
            Target(
                f"{DROP_TARGET_CAMERAS} cameras × {config.fps_per_camera:g} fps "
                f"{fleet.settings.frame_size.upper()}, zero drops ({_suite(config)})",
                f"{config.frames_dropped} dropped, {config.frames_skipped} skipped",
                lost == 0 and config.connected_at_end == config.cameras,
            )
        )
    if not any(c.cameras == DROP_TARGET_CAMERAS for c in fleet.configs):
        out.append(Target(f"{DROP_TARGET_CAMERAS} cameras with zero drops", "not measured", None))
    return out


def gui_targets(gui: GuiResult) -> list[Target]:
    """The product target: TARGET_CAMERAS cameras, no drops, p99 under the limit."""
    s = gui.settings
    name = (
        f"app window: {s.target_cameras} cameras × {s.fps:g} fps "
        f"{s.frame_size.upper()}, zero drops, capture→painted p99 < "
        f"{s.latency_p99_target_ms:g} ms"
    )
    largest_name = "app window: largest camera count that holds"
    row = next((c for c in gui.configs if c.cameras == s.target_cameras), None)
    if row is None:
        return [
            Target(name, "not measured", None),
            Target(largest_name, gui.largest_holding, None),
        ]
    if isinstance(row, GuiError) or row.error:
        value = "error"
    else:
        p99 = row.latency.capture_to_painted_ms.p99
        value = f"{row.frames_lost} lost, p99 {_ms1(p99)} ms"
    largest = "none" if gui.largest_holding is None else gui.largest_holding
    return [Target(name, value, row.holds), Target(largest_name, largest, None)]


def paper_target(paper: PaperResult) -> Target:
    """SecureCam's encrypted / plain p50 in the Table 1 run; judged on the 30 Mbit/s link only."""
    value = "n/a" if paper.securecam_ratio is None else f"{paper.securecam_ratio:.2f}"
    if not paper.on_paper_link:
        value += f" ({paper.link.split(',')[0]})"
    return Target(
        f"Table 1: SecureCam encrypted/plain p50 ≤ {paper.ratio_target:.2f} on the "
        f"{paper.table1_link} link",
        value,
        paper.ratio_target_met,
    )


# -- printing --------------------------------------------------------------------------------


def _suite(config: FleetConfig) -> str:
    return config.suite.name.lower()


def _tainted(other: OtherLoad | None) -> bool:
    return other is not None and max(other.receiver_cpus, other.camera_cpus) > OTHERS_LIMIT


def _others(other: OtherLoad | None) -> str:
    if not other:
        return "-"
    return f"{other.receiver_cpus:.0f} / {other.camera_cpus:.0f}"


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else "MET" if met else "MISSED"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ms1(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def render(report: BenchReport) -> str:
    lines: list[str] = []
    add = lines.append
    m = report.machine
    add("SecureCam benchmark")
    add(
        f"  machine    {m.platform} · {m.cpu_model} · {m.cpu_count} CPUs "
        f"({m.cpus_allowed} allowed) · {m.implementation} {m.python}"
    )
    add(
        "  libraries  "
        + " · ".join(f"{name} {version or 'absent'}" for name, version in m.libraries.items())
    )
    if report.cpus:
        add(f"  CPUs       {report.cpus.note}")
    for when, speed in zip(("at start", "at end"), report.speed or [], strict=False):
        add(f"  speed      {speed.describe()} ({when})" + (f"; {speed.note}" if speed.note else ""))
    if report.speed:
        add(
            "             (16 KiB blocks, one core; the loop sums 10⁶ squares, best of 5, lower "
            "is faster: divide by these to compare machines)"
        )
    before, after = m.load_average, report.load_average_after
    if before is not None:
        add(
            f"  load avg   {before[0]:.2f} at start, "
            f"{'-' if after is None else f'{after[0]:.2f}'} at end (1 min)"
        )
    busy = (
        [c for c in report.fleet.configs if _tainted(c.other_load_percent)] if report.fleet else []
    )
    if busy:
        add(
            "  WARNING    other processes used the benchmark's CPUs during "
            f"{len(busy)} configuration(s) (see 'others%'): those figures are pessimistic"
        )
    if report.core is not None:
        add("")
        lines.extend(render_core(report.core))
    if report.fleet is not None:
        add("")
        lines.extend(render_fleet(report.fleet))
    if report.gui is not None:
        add("")
        lines.extend(render_gui(report.gui))
    if report.paper is not None:
        add("")
        lines.extend(render_paper(report.paper))
    if report.targets:
        add("")
        add("Targets")
        width = max(len(str(t.name)) for t in report.targets)
        for t in report.targets:
            add(f"   {t.name!s:{width}}  {t.value!s:>24}  {_verdict(t.met)}")
    add("")
    add(f"Total benchmark time: {report.duration_s:.0f} s")
    return "\n".join(lines)


FLOOR_RATIO_TARGET = 2.0  # decrypt + parse + reassembly against pycryptodome's CTR + GHASH


def render_core(core: CoreResult) -> list[str]:
    lines: list[str] = []
    add = lines.append
    add("1. Core cost per frame: the app's sessions fed from memory, no I/O, one core")
    add(
        f"   VGA: {core.vga_frame_bytes:,} B average over {core.vga_frames} synthetic "
        f"frames · UXGA: {core.uxga_frame_bytes:,} B over {core.uxga_frames} frames"
    )
    add("   back-to-back calls unless marked idle; MB/s = frame bytes / median time (10^6 B/s)")
    add(f"   {'':58} {'median µs':>10} {'p99 µs':>9} {'MB/s':>8} {'samples':>8}")
    for figure in core.figures.values():
        mbs = "-" if figure.mb_per_s is None else f"{figure.mb_per_s:,.0f}"
        row = (
            f"   {figure.label:58} {figure.median_us:>10,.1f} "
            f"{figure.p99_us:>9,.1f} {mbs:>8} {figure.samples:>8}"
        )
        if figure.target_us is not None:
            row += f"   target ≤ {figure.target_us:g} µs: {_verdict(figure.target_met)}"
        add(row)
    floor = core.figures.get("vga_decrypt_floor")
    receive = core.figures.get("vga_receive_noise")
    if floor is not None and receive is not None and floor.median_us > 0:
        ratio = receive.median_us / floor.median_us
        add(
            f"   VGA receive ÷ its floor (same run): {ratio:.2f}×   target ≤ "
            f"{FLOOR_RATIO_TARGET:g}×: {_verdict(ratio <= FLOOR_RATIO_TARGET)}"
        )
    return lines


def render_fleet(fleet: FleetResult) -> list[str]:
    lines: list[str] = []
    add = lines.append
    s = fleet.settings
    add(
        f"2. Receiver on one core: cameras × {s.fps:g} fps {s.frame_size.upper()} over "
        f"loopback WebSockets ({s.seconds:g} s window after {s.warmup_s:g} s warm-up)"
    )
    add(
        "   latency = capture → decrypted, from the receiver's stats ring (clock-sync "
        "estimate); 'true' uses the shared monotonic clock"
    )
    add(
        "   rx/cam CPU% = receiver / camera process CPU time over the window, in % of one "
        "core; others% = CPU % taken by other processes on the receiver's / cameras' CPU"
    )
    add(
        f"   {'cams':>4} {'suite':6} {'frames/s (expected)':>20}  "
        f"{'latency ms p50 / p95 / p99':>27} {'true p50':>9} {'dropped':>8} "
        f"{'skipped':>8} {'rx CPU%':>8} {'cam CPU%':>9} {'others%':>8}"
    )
    for c in fleet.configs:
        lat = c.latency.capture_to_decrypted_ms
        true = c.latency.true_capture_to_decrypted_ms
        rate = f"{c.frames_per_s:.1f} ({c.expected_frames_per_s:g})"
        latency = f"{_ms(lat.p50)} / {_ms(lat.p95)} / {_ms(lat.p99)}"
        add(
            f"   {c.cameras:>4} {_suite(c):6} {rate:>20}  {latency:>27} "
            f"{_ms(true.p50):>9} {c.frames_dropped:>8} {c.frames_skipped:>8} "
            f"{c.receiver_cpu_percent:>8.1f} {c.camera_process_cpu_percent:>9.1f} "
            f"{_others(c.other_load_percent):>8}"
        )
    add("")
    add(
        "   p50 breakdown, ms: camera capture→send | send→first rx (camera seal, "
        "loopback, websockets) | first rx→decrypted (receive())"
    )
    add(
        f"   {'cams':>4} {'suite':6} {'capture→send':>13} {'send→rx':>9} {'rx→decrypted':>13}"
        f" {'rx→dec p99':>11} {'clock err max µs':>17}"
    )
    for c in fleet.configs:
        b = c.latency.breakdown_ms
        err = c.latency.clock_offset_error_us.max
        add(
            f"   {c.cameras:>4} {_suite(c):6} {_ms(b.capture_to_send.p50):>13} "
            f"{_ms(b.send_to_first_rx.p50):>9} "
            f"{_ms(b.first_rx_to_decrypted.p50):>13} "
            f"{_ms(b.first_rx_to_decrypted.p99):>11} "
            f"{'-' if err is None else err:>17}"
        )
    if fleet.ratios:
        add("")
        add(
            f"   encrypted ÷ plain {'p50 latency':>12} {'p99 latency':>12} "
            f"{'true p50':>9} {'rx CPU':>8}"
        )
        for r in fleet.ratios:
            add(
                f"   {r.cameras:>3} camera{'s' if r.cameras != 1 else ' '}       "
                f"{_x(r.latency_p50_ratio):>12} {_x(r.latency_p99_ratio):>12} "
                f"{_x(r.true_latency_p50_ratio):>9} {_x(r.cpu_ratio):>8}   "
                f"target p50 ≤ {LATENCY_RATIO_TARGET:.2f}: "
                f"{_verdict(r.latency_p50_target_met)}"
            )
    problems = []
    for c in fleet.configs:
        tag = f"{c.cameras} camera(s) {_suite(c)}"
        if c.connected != c.cameras or c.connected_at_end != c.cameras:
            problems.append(f"{tag}: {c.connected} connected at start, {c.connected_at_end} at end")
        for name, close in c.camera_problems.items():
            problems.append(f"{tag}: camera {name} closed: {close}")
        problems += [f"{tag}: camera error {e}" for e in c.camera_errors]
        problems += [f"{tag}: {w}" for w in c.camera_warnings + c.receiver_warnings]
        if c.frames_rejected:
            problems.append(f"{tag}: {c.frames_rejected} frames rejected")
        if c.latency.frames_without_clock_offset:
            problems.append(
                f"{tag}: {c.latency.frames_without_clock_offset} frames had no clock "
                "offset yet (left out of the latency figures)"
            )
    if problems:
        add("")
        add("   problems seen:")
        lines.extend(f"   - {p}" for p in problems[:30])
    return lines


def _gc(row: GuiRun) -> str:
    pauses = row.gc_pauses
    return f"{pauses.max_ms:.1f} ({pauses.collections[2]})"


def _pair(figure: Summary) -> str:
    return f"{_ms1(figure.p50)} / {_ms1(figure.p99)}"


def render_gui(gui: GuiResult) -> list[str]:
    lines: list[str] = []
    add = lines.append
    s = gui.settings
    width, height = s.window_size
    add(
        f"3. Desktop app window, offscreen {width}×{height}: cameras × {s.fps:g} fps "
        f"{s.frame_size.upper()} ({s.suite.name.lower()}), {s.seconds:g} s window after "
        f"{s.warmup_s:g} s warm-up, each count in a fresh process"
    )
    add(f"   CPUs: {gui.cpus.note}")
    ring_fill_s = RING_SIZE / s.fps
    if s.warmup_s < ring_fill_s:
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
    measured: list[GuiRun] = []
    for c in gui.configs:
        if isinstance(c, GuiError) or c.error:
            add(f"   {c.cameras:>4}  ERROR: {c.error}")
            continue
        measured.append(c)
        d, painted, lag = c.drops, c.latency.capture_to_painted_ms, c.loop_lag_ms
        rate = f"{c.frames_received_per_s:.0f} ({c.expected_frames_per_s:g})"
        add(
            f"   {c.cameras:>4} {rate:>13} {c.frames_painted_per_s:>9.0f} "
            f"{c.frames_lost:>5} {d.decoder_dropped:>4} {d.unpainted_at_paint:>4} "
            f"{d.camera_skipped:>4}  "
            f"{_ms1(painted.p50) + ' / ' + _ms1(painted.p95) + ' / ' + _ms1(painted.p99):>23}"
            f" {_ms1(lag.p50) + ' / ' + _ms1(lag.p99) + ' / ' + _ms1(lag.max):>18} "
            f"{c.process_cpu_percent:>6.0f} /{c.ui_thread_cpu_percent:>4.0f} "
            f"{c.camera_process_cpu_percent:>5.0f} {_others(c.other_load_percent):>8}  "
            f"{'yes' if c.holds else 'NO'}"
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
    for c in measured:
        b, fine = c.latency.breakdown_ms, c.fine_loop_lag_ms
        add(
            f"   {c.cameras:>4} {_pair(b.capture_to_first_rx):>13} "
            f"{_pair(b.first_rx_to_decrypted):>13} {_pair(b.decrypted_to_decoded):>18} "
            f"{_pair(b.decoded_to_painted):>16} "
            f"{_pair(c.latency.capture_to_decrypted_ms):>14} "
            f"{_ms1(c.latency.true_capture_to_painted_ms.p99):>9} "
            f"{_ms1(fine.p99) + ' / ' + _ms1(fine.max):>17} "
            f"{_gc(c):>13}"
        )
    add("")
    largest = gui.largest_holding
    line = f"   largest camera count that holds: {'none' if largest is None else largest}"
    contiguous = gui.largest_holding_all_below
    if largest is not None and contiguous != largest:
        line += f" (but a smaller count failed: every count up to {contiguous or 'none'} held)"
    add(line)
    if gui.stopped_after is not None:
        add(
            f"   stopped after {gui.stopped_after} cameras, the first failure above "
            f"{s.target_cameras}"
        )
    problems = []
    for c in measured:
        tag = f"{c.cameras} camera(s)"
        other = c.other_load_percent
        if other is not None and _tainted(other):
            problems.append(
                f"{tag}: other processes used {other.receiver_cpus:.0f}% / "
                f"{other.camera_cpus:.0f}% of the app's / cameras' CPUs: figures pessimistic"
            )
        if c.connected != c.cameras or c.connected_at_end != c.cameras:
            problems.append(f"{tag}: {c.connected} connected at start, {c.connected_at_end} at end")
        if c.drops.camera_skipped:
            problems.append(
                f"{tag}: the cameras skipped {c.drops.camera_skipped} frames "
                f"(limit {c.camera_skip_limit})"
            )
        for name, close in c.camera_problems.items():
            problems.append(f"{tag}: camera {name} closed: {close}")
        problems += [f"{tag}: camera error {e}" for e in c.camera_errors]
        problems += [f"{tag}: {w}" for w in c.camera_warnings + c.app_warnings]
        if c.drops.decode_failed or c.drops.mailbox_dropped:
            problems.append(
                f"{tag}: {c.drops.decode_failed} decode failures, "
                f"{c.drops.mailbox_dropped} mailbox drops"
            )
        if c.stderr_tail:
            problems.append(f"{tag}: the app process wrote to stderr: {c.stderr_tail[-1]}")
        if c.latency.frames_without_clock_offset:
            problems.append(
                f"{tag}: {c.latency.frames_without_clock_offset} painted frames had no "
                "clock offset (left out of the latency figures)"
            )
    if problems:
        add("   problems seen:")
        lines.extend(f"   - {p}" for p in problems[:30])
    return lines


def render_paper(paper: PaperResult) -> list[str]:
    """Section 4: the first design's Table 1 beside the same measurement of three pipelines.

    Every line that mentions the first design's scheme names it with `LABEL`.
    """
    lines: list[str] = []
    add = lines.append
    runs = paper.pipelines[0].runs if paper.pipelines else 0
    add(
        f"4. Table 1 reproduced: {len(paper.images)} photos sent one at a time, ms from the "
        "start of sending to decrypted and reassembled"
    )
    add(
        f"   link: {paper.link} · {paper.photo_bytes:,} bytes of JPEG · {runs} run(s) per "
        "pipeline, taking turns · per photo: the median over the runs"
    )
    add(
        "   plain = SecureCam plain suite (no encryption) · noise = SecureCam Noise suite "
        "(encrypted), both through the real Receiver"
    )
    add(
        f"   {LABEL}: AES-128-CBC, fixed key and IV, base64 text in {BLOCK_CHARS}-character "
        "blocks, one WebSocket message per block"
    )
    add(
        f"   Table 1 = the first design's own figures ({paper.table1_link}, its own images: "
        "row N is its image N, not this photo)"
    )
    add(
        f"   {'photo':26} {'size':9} {'bytes':>9} {'plain':>8} {LABEL:>42} {'noise':>8}"
        f"   {'Table 1 plain':>13} {'encrypted':>10}"
    )
    for image in paper.images:
        add(
            f"   {image.name.removesuffix('.jpg'):26} {f'{image.width}×{image.height}':9} "
            f"{image.bytes:>9,} {image.plain_ms:>8.2f} {image.paper_insecure_ms:>42.2f} "
            f"{image.noise_ms:>8.2f}   {_int(image.table1_plain_ms):>13} "
            f"{_int(image.table1_encrypted_ms):>10}"
        )
    p50 = {p.key: p.p50_ms for p in paper.pipelines}
    table1_plain = [i.table1_plain_ms for i in paper.images if i.table1_plain_ms is not None]
    table1_enc = [i.table1_encrypted_ms for i in paper.images if i.table1_encrypted_ms is not None]
    add(
        f"   {'p50 over every run':26} {'':9} {'':>9} "
        f"{_ms(p50.get('plain')):>8} {_ms(p50.get('paper_insecure')):>42} "
        f"{_ms(p50.get('noise')):>8}   {_median(table1_plain):>13} {_median(table1_enc):>10}"
    )
    add("")
    add(
        "   per run, WebSocket messages / payload bytes: "
        + " · ".join(
            f"{p.label} {p.messages_per_run:,} / {p.payload_bytes_per_run:,}"
            for p in paper.pipelines
        )
    )
    add(
        f"   encrypted ÷ plain p50: SecureCam (noise ÷ plain) {_x(paper.securecam_ratio)} · "
        f"{LABEL} ÷ SecureCam plain {_x(paper.paper_scheme_ratio)} · "
        f"the first design's Table 1 {_x(paper.table1_ratio)}"
    )
    where = (
        _verdict(paper.ratio_target_met)
        if paper.on_paper_link
        else f"n/a on {paper.link.split(',')[0]} (judged on that link only)"
    )
    add(
        f"   goal: SecureCam's encrypted ÷ plain p50 ≤ {paper.ratio_target:.2f} on the "
        f"{paper.table1_link} link: {where}"
    )
    if paper.warnings:
        add("   problems seen:")
        lines.extend(f"   - {w}" for w in paper.warnings)
    return lines


def _int(value: int | None) -> str:
    return "-" if value is None else str(value)


def _median(values: list[int]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return f"{median:g}"
