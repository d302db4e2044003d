"""The benchmark's targets, machine description and printed report."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from app.bench.core import VGA_TARGET_US
from app.bench.gui import gui_targets, render_gui
from app.bench.throughput import LATENCY_RATIO_TARGET

DROP_TARGET_CAMERAS = 32
# CPU % of the receiver's or the cameras' CPUs used by other processes that taints a window.
OTHERS_LIMIT = 10.0


def machine() -> dict[str, object]:
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
    libraries = {}
    for name in ("pycryptodome", "websockets", "cryptography"):
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libraries[name] = None
    return {
        "platform": platform.platform(),
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "cpus_allowed": allowed,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "libraries": libraries,
        "load_average": load_average(),
    }


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: anything well above 0 means others share the CPUs."""
    if not hasattr(os, "getloadavg"):
        return None
    return [round(value, 2) for value in os.getloadavg()]


def targets(result: dict) -> list[dict[str, object]]:
    """Each target with the measured value and whether it was met (None: not measured)."""
    out: list[dict[str, object]] = []
    core = result.get("core")
    if core is not None:
        figure = core["figures"]["vga_receive_noise"]
        out.append(
            {
                "name": f"VGA decrypt + reassembly ≤ {VGA_TARGET_US:g} µs per frame (median)",
                "value": f"{figure['median_us']:.1f} µs",
                "met": figure["median_us"] <= VGA_TARGET_US,
            }
        )
    fleet = result.get("fleet")
    if fleet is not None:
        for ratio in fleet["ratios"]:
            count = ratio["cameras"]
            value = ratio["latency_p50_ratio"]
            out.append(
                {
                    "name": f"encrypted/plain p50 latency ≤ {LATENCY_RATIO_TARGET:.2f}, "
                    f"{count} camera{'s' if count != 1 else ''}",
                    "value": "n/a" if value is None else f"{value:.2f}",
                    "met": ratio["latency_p50_target_met"],
                }
            )
        for config in fleet["configs"]:
            if config["cameras"] != DROP_TARGET_CAMERAS:
                continue
            lost = config["frames_dropped"] + config["frames_skipped"]
            out.append(
                {
                    "name": f"{DROP_TARGET_CAMERAS} cameras × {config['fps_per_camera']:g} fps "
                    f"{fleet['settings']['frame_size'].upper()}, zero drops ({config['suite']})",
                    "value": f"{config['frames_dropped']} dropped, "
                    f"{config['frames_skipped']} skipped",
                    "met": lost == 0 and config["connected_at_end"] == config["cameras"],
                }
            )
        if not any(c["cameras"] == DROP_TARGET_CAMERAS for c in fleet["configs"]):
            out.append(
                {
                    "name": f"{DROP_TARGET_CAMERAS} cameras with zero drops",
                    "value": "not measured",
                    "met": None,
                }
            )
    gui = result.get("gui")
    if gui is not None:
        out += gui_targets(gui)
    return out


def _busy_configs(result: dict) -> list[dict]:
    fleet = result.get("fleet") or {}
    return [
        c
        for c in fleet.get("configs", [])
        if c.get("other_load_percent") and max(c["other_load_percent"].values()) > OTHERS_LIMIT
    ]


def _others(config: dict) -> str:
    other = config.get("other_load_percent")
    if not other:
        return "-"
    return f"{other['receiver_cpus']:.0f} / {other['camera_cpus']:.0f}"


def _verdict(met: object) -> str:
    return {True: "MET", False: "MISSED"}.get(met, "n/a")  # type: ignore[call-overload]


def _ms(value: object) -> str:
    return "-" if value is None else f"{value:.2f}"


def _x(value: object) -> str:
    return "-" if value is None else f"{value:.2f}×"


def render(result: dict) -> str:
    lines: list[str] = []
    add = lines.append
    m = result["machine"]
    libs = m["libraries"]
    add("SecureCam benchmark")
    add(
        f"  machine    {m['platform']} · {m['cpu_model']} · {m['cpu_count']} CPUs "
        f"({m['cpus_allowed']} allowed) · {m['implementation']} {m['python']}"
    )
    add(
        "  libraries  "
        + " · ".join(f"{name} {version or 'absent'}" for name, version in libs.items())
    )
    if result.get("cpus"):
        add(f"  CPUs       {result['cpus']['note']}")
    before, after = m.get("load_average"), result.get("load_average_after")
    if before is not None:
        add(
            f"  load avg   {before[0]:.2f} at start, "
            f"{'-' if after is None else f'{after[0]:.2f}'} at end (1 min)"
        )
    busy = _busy_configs(result)
    if busy:
        add(
            "  WARNING    other processes used the benchmark's CPUs during "
            f"{len(busy)} configuration(s) (see 'others%'): those figures are pessimistic"
        )

    core = result.get("core")
    if core is not None:
        add("")
        add("1. Core cost per frame: the app's sessions fed from memory, no I/O, one core")
        add(
            f"   VGA: {core['vga_frame_bytes']:,} B average over {core['vga_frames']} synthetic "
            f"frames · UXGA: {core['uxga_frame_bytes']:,} B over {core['uxga_frames']} frames"
        )
        add("   back-to-back calls unless marked idle; MB/s = frame bytes / median time (10^6 B/s)")
        add(f"   {'':58} {'median µs':>10} {'p99 µs':>9} {'MB/s':>8} {'samples':>8}")
        for figure in core["figures"].values():
            mbs = "-" if figure["mb_per_s"] is None else f"{figure['mb_per_s']:,.0f}"
            row = (
                f"   {figure['label']:58} {figure['median_us']:>10,.1f} "
                f"{figure['p99_us']:>9,.1f} {mbs:>8} {figure['samples']:>8}"
            )
            if "target_us" in figure:
                row += f"   target ≤ {figure['target_us']:g} µs: {_verdict(figure['target_met'])}"
            add(row)

    fleet = result.get("fleet")
    if fleet is not None:
        s = fleet["settings"]
        add("")
        add(
            f"2. Receiver on one core: cameras × {s['fps']:g} fps {s['frame_size'].upper()} over "
            f"loopback WebSockets ({s['seconds']:g} s window after {s['warmup_s']:g} s warm-up)"
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
        for c in fleet["configs"]:
            lat = c["latency"]["capture_to_decrypted_ms"]
            true = c["latency"]["true_capture_to_decrypted_ms"]
            rate = f"{c['frames_per_s']:.1f} ({c['expected_frames_per_s']:g})"
            latency = f"{_ms(lat['p50'])} / {_ms(lat['p95'])} / {_ms(lat['p99'])}"
            add(
                f"   {c['cameras']:>4} {c['suite']:6} {rate:>20}  {latency:>27} "
                f"{_ms(true['p50']):>9} {c['frames_dropped']:>8} {c['frames_skipped']:>8} "
                f"{c['receiver_cpu_percent']:>8.1f} {c['camera_process_cpu_percent']:>9.1f} "
                f"{_others(c):>8}"
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
        for c in fleet["configs"]:
            b = c["latency"]["breakdown_ms"]
            err = c["latency"]["clock_offset_error_us"]["max"]
            add(
                f"   {c['cameras']:>4} {c['suite']:6} {_ms(b['capture_to_send']['p50']):>13} "
                f"{_ms(b['send_to_first_rx']['p50']):>9} "
                f"{_ms(b['first_rx_to_decrypted']['p50']):>13} "
                f"{_ms(b['first_rx_to_decrypted']['p99']):>11} "
                f"{'-' if err is None else err:>17}"
            )
        if fleet["ratios"]:
            add("")
            add(
                f"   encrypted ÷ plain {'p50 latency':>12} {'p99 latency':>12} "
                f"{'true p50':>9} {'rx CPU':>8}"
            )
            for r in fleet["ratios"]:
                add(
                    f"   {r['cameras']:>3} camera{'s' if r['cameras'] != 1 else ' '}       "
                    f"{_x(r['latency_p50_ratio']):>12} {_x(r['latency_p99_ratio']):>12} "
                    f"{_x(r['true_latency_p50_ratio']):>9} {_x(r['cpu_ratio']):>8}   "
                    f"target p50 ≤ {LATENCY_RATIO_TARGET:.2f}: "
                    f"{_verdict(r['latency_p50_target_met'])}"
                )
        problems = []
        for c in fleet["configs"]:
            tag = f"{c['cameras']} camera(s) {c['suite']}"
            if c["connected"] != c["cameras"] or c["connected_at_end"] != c["cameras"]:
                problems.append(
                    f"{tag}: {c['connected']} connected at start, {c['connected_at_end']} at end"
                )
            for name, close in c["camera_problems"].items():
                problems.append(f"{tag}: camera {name} closed: {close}")
            problems += [f"{tag}: camera error {e}" for e in c["camera_errors"]]
            problems += [f"{tag}: {w}" for w in c["camera_warnings"] + c["receiver_warnings"]]
            if c["frames_rejected"]:
                problems.append(f"{tag}: {c['frames_rejected']} frames rejected")
            if c["latency"]["frames_without_clock_offset"]:
                problems.append(
                    f"{tag}: {c['latency']['frames_without_clock_offset']} frames had no clock "
                    "offset yet (left out of the latency figures)"
                )
        if problems:
            add("")
            add("   problems seen:")
            lines.extend(f"   - {p}" for p in problems[:30])

    gui = result.get("gui")
    if gui is not None:
        add("")
        lines.extend(render_gui(gui))

    goals = result.get("targets") or []
    if goals:
        add("")
        add("Targets")
        width = max(len(str(t["name"])) for t in goals)
        for t in goals:
            add(f"   {t['name']!s:{width}}  {t['value']!s:>24}  {_verdict(t['met'])}")
    add("")
    add(f"Total benchmark time: {result['duration_s']:.0f} s")
    return "\n".join(lines)
