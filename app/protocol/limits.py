"""Receiver limits: what one camera connection may cost before it is closed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_frame_bytes: int = 2 * 1024 * 1024
    max_chunks_per_frame: int = 64
    handshake_timeout_s: float = 5.0
    idle_timeout_s: float = 10.0
    # Connections that have not proved a device's key yet, counted from TCP accept; each
    # registered device also keeps its own live and reconnect slots beyond these.
    max_connections: int = 64
    ping_interval_s: float = 1.0
    switch_timeout_s: float = 10.0  # how long a CONTROL suite switch may take to happen
    revalidate_interval_s: float = 0.5  # a key change ends the live session within this
