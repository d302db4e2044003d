"""What the receiver tells its listeners: plain values, no sockets, no crypto.

Widgets and services read these without loading the receiver's WebSocket stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.protocol.hello import Suite
from app.protocol.records import Status
from app.protocol.timeline import Frame


@dataclass(frozen=True, slots=True)
class DeviceConnected:
    device: str
    suite: Suite
    peer: str


@dataclass(frozen=True, slots=True)
class DeviceDisconnected:
    device: str
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionRejected:
    peer: str
    device: str | None
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class FrameArrived:
    frame: Frame


@dataclass(frozen=True, slots=True)
class StatusArrived:
    device: str
    status: Status


ReceiverEvent = (
    DeviceConnected | DeviceDisconnected | ConnectionRejected | FrameArrived | StatusArrived
)
