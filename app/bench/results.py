"""The benchmark's results as types, and their JSON form.

Every section returns dataclasses whose field names are the report's JSON keys, in the report's
order. `to_json` turns a result into plain JSON values (a field with `OMIT_NONE` metadata is left
out while it is None, as the report always did; an enum is written as its lower-case
name) and `from_json` reads them back: a saved report, or the row a `python -m app.bench.gui`
child prints. A report written before these types existed reads back and writes out unchanged,
so saved reports stay comparable.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from app.bench.speed import MachineSpeed
from app.protocol.hello import Suite
from app.receiver.stats import latency_summary

T = TypeVar("T")
_OMIT = "omit_if_none"
# Field metadata: the field is left out of the JSON while it is None.
OMIT_NONE = {_OMIT: True}


def to_json(value: object) -> Any:
    """Plain JSON values (dict, list, str, int, float, bool, None) for a result."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None and f.metadata.get(_OMIT):
                continue
            out[f.name] = to_json(item)
        return out
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def from_json(kind: type[T], data: object) -> T:
    """`data` (as `json.loads` returns it) read as `kind`.

    Raises:
        ValueError: if `data` does not have the shape of `kind` (a key missing or unknown, a
            value of the wrong type).
    """
    return typing.cast(T, _load(kind, data, kind.__name__))


def _load(kind: Any, data: object, where: str) -> object:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        problems = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _load(option, data, where)
            except ValueError as exc:
                problems.append(str(exc))
        raise ValueError(" / ".join(problems) or f"{where}: unexpected null")
    if origin is list:
        if not isinstance(data, list):
            raise ValueError(f"{where}: expected a list, got {data!r}")
        return [_load(args[0], item, f"{where}[{i}]") for i, item in enumerate(data)]
    if origin is dict:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, got {data!r}")
        return {key: _load(args[1], item, f"{where}.{key}") for key, item in data.items()}
    if dataclasses.is_dataclass(kind):
        return _load_dataclass(kind, data, where)
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind[str(data).upper()]
        except KeyError:
            raise ValueError(f"{where}: not a {kind.__name__}: {data!r}") from None
    if kind is Any or kind is object:
        return data
    # Written as they were read: 25 stays 25 in a float field, so a report reads back unchanged.
    accepted = {float: (int, float), int: (int,), str: (str,), bool: (bool,)}.get(kind)
    if accepted is None:
        raise TypeError(f"{where}: no JSON form for {kind!r}")
    if not isinstance(data, accepted) or (kind is not bool and isinstance(data, bool)):
        raise ValueError(f"{where}: expected {kind.__name__}, got {data!r}")
    return data


def _load_dataclass(kind: Any, data: object, where: str) -> object:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {data!r}")
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    values = {}
    for f in dataclasses.fields(kind):
        if f.name in data:
            values[f.name] = _load(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}: missing key {f.name!r}")
    return kind(**values)


# -- shared ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Summary:
    """Count, percentiles, mean and maximum of some latencies (`latency_summary`)."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None
    max: float | None

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        return cls(**latency_summary(values))  # type: ignore[arg-type]


@dataclass(slots=True)
class LagSummary:
    """Event loop lag, ms; `probe_ms` is the probe's own period where it is the bench's."""

    count: int
    p50: float | None
    p99: float | None
    max: float | None
    probe_ms: int | None = field(default=None, metadata=OMIT_NONE)

    @classmethod
    def of(cls, values: Iterable[float], probe_ms: int | None = None) -> LagSummary:
        s = Summary.of(values)
        return cls(s.count, s.p50, s.p99, s.max, probe_ms)


@dataclass(slots=True)
class OtherLoad:
    """CPU % used by processes other than the benchmark's own, on each side's CPUs."""

    receiver_cpus: float
    camera_cpus: float


@dataclass(slots=True)
class Cpus:
    """Which CPUs the receiver (or the app) and the cameras were pinned to."""

    receiver_cpus: list[int]
    camera_cpus: list[int]
    pinned: bool
    note: str


# -- 1. core ---------------------------------------------------------------------------------


@dataclass(slots=True)
class FigureSummary:
    """One timed core operation, in microseconds per item."""

    label: str
    samples: int
    median_us: float
    p99_us: float
    mean_us: float
    min_us: float
    bytes: int | None
    chunks: int | None
    mb_per_s: float | None  # bytes per microsecond: 10^6 bytes per second
    target_us: float | None = field(default=None, metadata=OMIT_NONE)
    target_met: bool | None = field(default=None, metadata=OMIT_NONE)
    note: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(slots=True)
class CoreResult:
    vga_frame_bytes: int
    vga_frames: int
    uxga_frame_bytes: int
    uxga_frames: int
    figures: dict[str, FigureSummary]


# -- 2. receiver throughput ------------------------------------------------------------------


@dataclass(slots=True)
class FleetSettingsRecord:
    cameras: list[int]
    suites: list[Suite]
    seconds: float
    warmup_s: float
    fps: float
    frame_size: str
    prerendered_frames: int


@dataclass(slots=True)
class FleetBreakdown:
    capture_to_send: Summary
    send_to_first_rx: Summary
    first_rx_to_decrypted: Summary


@dataclass(slots=True)
class OffsetError:
    """How far the receiver's clock-offset estimate was from the truth, µs."""

    max: int | None
    median: int | None


@dataclass(slots=True)
class FleetLatency:
    frames: int
    frames_without_clock_offset: int
    capture_to_decrypted_ms: Summary
    breakdown_ms: FleetBreakdown
    true_capture_to_decrypted_ms: Summary
    clock_offset_error_us: OffsetError


@dataclass(slots=True)
class FleetConfig:
    """One configuration: `cameras` cameras in one suite, over the measured window."""

    cameras: int
    suite: Suite
    fps_per_camera: float
    window_s: float
    connected: int
    connected_at_end: int
    frames_received: int
    frames_per_s: float
    expected_frames_per_s: float
    frames_consumed: int
    frames_dropped: int
    frames_rejected: int
    megabytes_per_s: float
    frames_sent: int
    frames_sent_per_s: float
    frames_skipped: int
    receiver_cpu_percent: float
    camera_process_cpu_percent: float
    # Everyone's load per CPU: well above the two processes' own share means the figures
    # were taken on a machine that was busy with something else too.
    cpu_busy_percent: dict[str, float]
    other_load_percent: OtherLoad | None
    latency: FleetLatency
    latency_ring_limited: bool
    camera_problems: dict[str, list[int | str] | None]  # [close code, reason]
    camera_errors: list[str]
    camera_warnings: list[str]
    receiver_warnings: list[str]


@dataclass(slots=True)
class Ratio:
    """Encrypted over plain at one camera count."""

    cameras: int
    latency_p50_ratio: float | None
    latency_p99_ratio: float | None
    true_latency_p50_ratio: float | None
    cpu_ratio: float | None
    latency_p50_target: float
    latency_p50_target_met: bool | None


@dataclass(slots=True)
class FleetResult:
    settings: FleetSettingsRecord
    cpus: Cpus
    configs: list[FleetConfig]
    ratios: list[Ratio]


# -- 3. the app window -----------------------------------------------------------------------


@dataclass(slots=True)
class GuiSettingsRecord:
    cameras: list[int]
    seconds: float
    warmup_s: float
    fps: float
    frame_size: str
    prerendered_frames: int
    suite: Suite
    window_size: list[int]
    pin: str
    latency_p99_target_ms: float
    target_cameras: int


@dataclass(slots=True)
class GuiCpus:
    app: list[int]
    cameras: list[int]
    note: str


@dataclass(slots=True)
class Drops:
    """Where frames went missing over the window (see `app.bench.gui`)."""

    received_minus_painted: int
    never_painted: int
    decoder_dropped: int
    unpainted_at_paint: int
    decode_failed: int
    mailbox_dropped: int
    camera_skipped: int
    rejected: int


@dataclass(slots=True)
class Followed:
    """Every frame decrypted in the window, followed through the timeline ring."""

    decrypted_in_window: int
    painted: int
    never_painted: int
    never_decoded: int
    decoded_not_painted: int


@dataclass(slots=True)
class GuiBreakdown:
    capture_to_first_rx: Summary
    first_rx_to_decrypted: Summary
    decrypted_to_decoded: Summary
    decoded_to_painted: Summary


@dataclass(slots=True)
class GuiLatency:
    frames_without_clock_offset: int
    capture_to_painted_ms: Summary
    capture_to_decrypted_ms: Summary
    true_capture_to_painted_ms: Summary
    breakdown_ms: GuiBreakdown


@dataclass(slots=True)
class GcPauses:
    collections: list[int]  # per generation
    total_ms: float
    max_ms: float
    gen2_max_ms: float


@dataclass(slots=True)
class TrackedObjects:
    count: int
    top_types: dict[str, int]


@dataclass(slots=True)
class Attribution:
    """The UI thread's CPU time in one hooked handler over the window (`--attribute`)."""

    calls: int
    cpu_ms_per_s: float
    cpu_us_per_call: float | None
    max_wall_ms: float


@dataclass(slots=True)
class GuiRun:
    """One camera count measured against the real window, in its own process."""

    cameras: int
    fps_per_camera: float
    window_s: float
    connected: int
    connected_at_end: int
    expected_frames_per_s: float
    frames_sent: int
    frames_received: int
    frames_received_per_s: float
    frames_painted: int
    frames_painted_per_s: float
    megabytes_per_s: float
    # The target's "drops": frames received in the window that never reached the screen.
    frames_lost: int
    camera_skip_limit: int
    drops: Drops
    followed: Followed
    latency: GuiLatency
    loop_lag_ms: LagSummary
    fine_loop_lag_ms: LagSummary
    gc_pauses: GcPauses
    gc_tracked_objects: TrackedObjects
    process_cpu_percent: float
    ui_thread_cpu_percent: float
    camera_process_cpu_percent: float
    cpu_busy_percent: dict[str, float]
    # CPU % used by anything else on the app's / the cameras' CPUs (pinned apart only).
    other_load_percent: OtherLoad | None
    window_size: list[int]
    tile_sizes: list[list[int]]
    holds: bool
    camera_problems: dict[str, list[int | str] | None]  # [close code, reason]
    camera_errors: list[str]
    camera_warnings: list[str]
    ui_attribution: dict[str, Attribution] | None = field(default=None, metadata=OMIT_NONE)
    gui_cpus: list[int] | None = None
    camera_cpus: list[int] = field(default_factory=list)
    app_warnings: list[str] = field(default_factory=list)
    app_warning_count: int = 0
    qt_messages: list[str] = field(default_factory=list)
    qt_message_count: int = 0
    # Added by the parent: the child's exit status when it printed a row and then failed,
    # its run time, and the end of what it wrote to stderr.
    error: str | None = field(default=None, metadata=OMIT_NONE)
    process_s: float | None = field(default=None, metadata=OMIT_NONE)
    stderr_tail: list[str] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(slots=True)
class GuiError:
    """A camera count whose process failed before it had a row to print."""

    cameras: int
    holds: bool
    error: str
    process_s: float | None = field(default=None, metadata=OMIT_NONE)
    stderr_tail: list[str] | None = field(default=None, metadata=OMIT_NONE)


def gui_row(data: object) -> GuiRun | GuiError:
    """A row as a `python -m app.bench.gui` child prints it (or a saved report holds it).

    Raises:
        ValueError: if `data` is neither row.
    """
    return typing.cast(GuiRun | GuiError, _load(GuiRun | GuiError, data, "row"))


@dataclass(slots=True)
class GuiResult:
    settings: GuiSettingsRecord
    cpus: GuiCpus
    configs: list[GuiRun | GuiError]
    largest_holding: int | None
    largest_holding_all_below: int | None
    stopped_after: int | None


# -- 4. Table 1 reproduced (app/bench/paper.py) ----------------------------------------------


@dataclass(slots=True)
class PaperImage:
    """One photo: the median over the runs of each pipeline's send start -> decrypted, ms,
    beside the paper's Table 1 figures for its image of the same number (its own photos)."""

    name: str
    width: int
    height: int
    bytes: int
    plain_ms: float
    paper_insecure_ms: float  # the paper scheme (insecure, measurement only)
    noise_ms: float
    table1_plain_ms: int | None
    table1_encrypted_ms: int | None


@dataclass(slots=True)
class PaperPipeline:
    """One pipeline over every run: p50 over every photo of every run, and what it sent."""

    key: str
    label: str
    runs: int
    samples: int
    p50_ms: float
    min_ms: float
    max_ms: float
    messages_per_run: int  # WebSocket messages carrying one run's timed photos
    payload_bytes_per_run: int  # their payload bytes, without WebSocket or TCP framing
    samples_ms: list[list[float]]  # per run, per photo


@dataclass(slots=True)
class PaperResult:
    """The paper section: the first design's Table 1 reproduced, beside its own figures."""

    link: str
    on_paper_link: bool  # the first design's 30 Mbit/s link, where the ratio goal applies
    table1_link: str
    photo_bytes: int
    images: list[PaperImage]
    pipelines: list[PaperPipeline]
    securecam_ratio: float | None  # Noise suite p50 / plain suite p50
    paper_scheme_ratio: float | None  # paper scheme p50 / plain suite p50
    table1_ratio: float  # the paper's own encrypted p50 / plain p50
    ratio_target: float
    ratio_target_met: bool | None  # None off the 30 Mbit/s link
    warnings: list[str] = field(default_factory=list)


# -- the whole report ------------------------------------------------------------------------


@dataclass(slots=True)
class Machine:
    platform: str
    cpu_model: str
    cpu_count: int | None
    cpus_allowed: int | None
    python: str
    implementation: str
    libraries: dict[str, str | None]
    load_average: list[float] | None


@dataclass(slots=True)
class Target:
    """A product target, what was measured against it and whether it was met (None: n/a)."""

    name: str
    value: str | int | None
    met: bool | None


@dataclass(slots=True)
class BenchReport:
    """What `python -m app.bench` prints, and writes with `--json`."""

    version: int
    started: str
    machine: Machine
    cpus: Cpus
    core: CoreResult | None = None
    fleet: FleetResult | None = None
    gui: GuiResult | None = None
    paper: PaperResult | None = field(default=None, metadata=OMIT_NONE)
    load_average_after: list[float] | None = None
    # The machine's speed at the start and at the end of the run (app/bench/speed.py).
    speed: list[MachineSpeed] | None = field(default=None, metadata=OMIT_NONE)
    targets: list[Target] = field(default_factory=list)
    duration_s: float = 0.0
