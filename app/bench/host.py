"""This machine, as the benchmark uses it: CPU plan and pinning, other processes' load, the
environment of the benchmark's child processes, and where the app's log records go meanwhile."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.bench.results import Cpus, OtherLoad
from app.logs import COLLECTED, add_handler, remove_handler

# The checkout the benchmark runs from, put on a child's PYTHONPATH so it imports the same app.
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def pin(cpus: set[int]) -> bool:
    """Pin this process to `cpus`; False where the OS does not allow or support it."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:
        return False
    return True


def parse_cpus(text: str) -> set[int]:
    """'0,2' → {0, 2}."""
    return {int(part) for part in text.split(",") if part.strip()}


def cpu_list(cpus: set[int]) -> str:
    """{2, 0} → '0,2'."""
    return ",".join(map(str, sorted(cpus)))


@dataclass(frozen=True, slots=True)
class CpuPlan:
    receiver: set[int]
    cameras: set[int]
    pinned: bool
    note: str

    def record(self) -> Cpus:
        return Cpus(sorted(self.receiver), sorted(self.cameras), self.pinned, self.note)


def plan_cpus() -> CpuPlan:
    """Receiver on the first allowed CPU, cameras on the rest; pins this process now.

    With a single CPU both share it (the figures then include the cameras' own cost).
    """
    if not hasattr(os, "sched_getaffinity"):
        return CpuPlan(set(), set(), False, "CPU pinning unsupported here: nothing pinned")
    allowed = sorted(os.sched_getaffinity(0))
    first = {allowed[0]}
    if len(allowed) < 2:
        pinned = pin(first)
        return CpuPlan(
            first,
            first,
            pinned,
            f"only CPU {allowed[0]} available: receiver and cameras share it, "
            "so the receiver figures include the cameras' load",
        )
    rest = set(allowed[1:])
    if not pin(first):
        return CpuPlan(set(), set(), False, "could not pin the benchmark process: nothing pinned")
    return CpuPlan(
        first, rest, True, f"receiver on CPU {allowed[0]}, cameras on CPU {cpu_list(rest)}"
    )


def allowed_cpus() -> set[int]:
    """The CPUs this process may run on (empty where the OS does not say)."""
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


CpuTicks = dict[int, tuple[int, int]]


def cpu_ticks() -> CpuTicks | None:
    """Per CPU (busy, total) clock ticks since boot, from /proc/stat; None where absent."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            lines = stat.readlines()
    except OSError:
        return None
    ticks = {}
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            total = sum(values)
            ticks[int(name[3:])] = (total - values[3] - values[4], total)
    return ticks


def busy_percent(before: CpuTicks | None, after: CpuTicks | None) -> dict[str, float]:
    """How busy each CPU was, by anyone, between two `cpu_ticks` readings."""
    if not before or not after:
        return {}
    out = {}
    for cpu, (busy1, total1) in after.items():
        busy0, total0 = before.get(cpu, (busy1, total1))
        if total1 > total0:
            out[str(cpu)] = round((busy1 - busy0) / (total1 - total0) * 100, 1)
    return out


def other_load(
    busy: dict[str, float], plan: CpuPlan, receiver_cpu: float, camera_cpu: float
) -> OtherLoad | None:
    """CPU % used by anything but the two benchmark processes: the receiver's CPU, the rest.

    Only meaningful when the two processes are pinned apart; None otherwise.
    """
    if not busy or not plan.pinned or plan.receiver & plan.cameras:
        return None
    on_receiver = sum(busy.get(str(cpu), 0.0) for cpu in plan.receiver)
    on_cameras = sum(busy.get(str(cpu), 0.0) for cpu in plan.cameras)
    return OtherLoad(
        round(max(0.0, on_receiver - receiver_cpu), 1), round(max(0.0, on_cameras - camera_cpu), 1)
    )


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a `python -m app.bench.…` child, plus `extra`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@contextlib.contextmanager
def collecting(handler: logging.Handler) -> Iterator[None]:
    """Inside: the loggers `app.logs` collects (the app's "app" tree and websockets') send
    their records to `handler` only; none is printed."""
    loggers = [logging.getLogger(name) for name in COLLECTED]
    propagate = [logger.propagate for logger in loggers]
    add_handler(handler)
    for logger in loggers:
        logger.propagate = False
    try:
        yield
    finally:
        remove_handler(handler)
        for logger, before in zip(loggers, propagate, strict=True):
            logger.propagate = before
