"""The machine's own speed, measured in the same run as the figures (issue 13 §4).

A figure from another machine means little without its speed. Two references, on the CPU
the measuring process may run on, taken at the start and the end of a run (their spread shows
how steady the machine was):

- OpenSSL's AES-256-GCM over 16 KiB blocks (`openssl speed -evp aes-256-gcm`), the crypto
  hardware's pace: what the camera-side seal and a native decrypt would cost here;
- a fixed CPython loop, the interpreter's pace: what the receiver's and the window's Python
  code costs here.

A reader compares machines by dividing: a window figure twice as slow on a machine whose
CPython loop is twice as slow is the same result.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

OPENSSL_BLOCK = 16384
OPENSSL_SECONDS = 1
PYTHON_LOOP = 1_000_000
PYTHON_REPEATS = 5


@dataclass(slots=True)
class MachineSpeed:
    """One measurement of the references; None where one could not be taken (see `note`)."""

    openssl_aes_256_gcm_mb_s: float | None
    python_loop_ms: float
    note: str | None = None

    def describe(self) -> str:
        aes = (
            "OpenSSL absent"
            if self.openssl_aes_256_gcm_mb_s is None
            else f"OpenSSL AES-256-GCM {self.openssl_aes_256_gcm_mb_s:,.0f} MB/s"
        )
        return f"{aes} · CPython loop {self.python_loop_ms:.1f} ms"


def python_loop_ms() -> float:
    """Best of five: the sum of a million squares in a generator (lower is faster)."""
    best = float("inf")
    for _ in range(PYTHON_REPEATS):
        started = time.perf_counter()
        sum(i * i for i in range(PYTHON_LOOP))
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 2)


def openssl_mb_s() -> tuple[float | None, str | None]:
    """OpenSSL's AES-256-GCM throughput in MB/s over 16 KiB blocks, one process; or None and
    why (no openssl, it failed, or its output changed)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None, "openssl is not installed"
    command = [
        openssl,
        "speed",
        "-mr",
        "-evp",
        "aes-256-gcm",
        "-seconds",
        str(OPENSSL_SECONDS),
        "-bytes",
        str(OPENSSL_BLOCK),
    ]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"openssl speed failed: {exc}"
    rate = parse_openssl(run.stdout)
    if rate is None:
        return None, f"openssl speed gave no +F line (exit status {run.returncode})"
    return rate, None


def parse_openssl(output: str) -> float | None:
    """MB/s from `openssl speed -mr` output: its `+F:…:ALG:BYTES_PER_S` line (one block size)."""
    for line in output.splitlines():
        if line.startswith("+F:"):
            try:
                return round(float(line.rsplit(":", 1)[1]) / 1e6, 1)
            except ValueError:
                return None
    return None


def measure() -> MachineSpeed:
    rate, note = openssl_mb_s()
    return MachineSpeed(openssl_aes_256_gcm_mb_s=rate, python_loop_ms=python_loop_ms(), note=note)
