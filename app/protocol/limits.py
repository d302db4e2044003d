"""Receiver limits: what one camera connection may cost before it is closed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_frame_bytes: int = 2 * 1024 * 1024
    max_chunks_per_frame: int = 64
    handshake_timeout_s: float = 5.0
    idle_timeout_s: float = 10.0
    max_connections: int = 64
    ping_interval_s: float = 1.0
