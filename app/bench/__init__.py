"""`python -m app.bench`: what SecureCam's protocol and receiver cost on this machine.

Three parts: per-frame CPU cost of the protocol core (no I/O; `core`), the receiver's
throughput and latency on one core against a fleet of simulated cameras in another process
(`throughput`, with the camera side in `fleet`), and the desktop app's window under N cameras
(`gui`). `results` holds what each part returns, `host` the CPU plan and pinning, `report` the
targets and the printed report; `cli` runs them all.
"""

from __future__ import annotations

from app.errors import SecureCamError


class BenchError(SecureCamError):
    """The benchmark itself could not run (the camera process died, nothing connected...)."""
