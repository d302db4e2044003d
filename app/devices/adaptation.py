"""The adaptive-quality policy the registry sets per camera, for the receiver's Adapter.

Each device's `adapt` flag and pinned settings (app/devices/registry.py) decide what the
Adapter (app/receiver/adapter.py) may change; `adapt_policy` turns registries into the
`policy(device) -> (enabled, pins)` it asks when a camera connects and on every refresh.
"""

from __future__ import annotations

import logging

from app.devices.registry import Device, Registry, RegistryError, describe_pins
from app.receiver.adapt import Pins
from app.receiver.adapter import DEFAULT_POLICY
from app.receiver.adapter import Policy as AdaptPolicy

log = logging.getLogger(__name__)


def adapt_policy(*registries: Registry) -> AdaptPolicy:
    """`policy(device)`: (adapt, pins) from the first of `registries` that knows the device
    (e.g. the demo registry, then the user's), else DEFAULT_POLICY.

    It sees edits made while the receiver runs (each registry re-reads its file only when it
    changed). While a registry cannot be read, a device keeps the answer it last got, so an
    unreadable file never turns adaptation back on or unpins a camera; the registry's own
    users report the problem.
    """
    last: dict[str, tuple[bool, Pins]] = {}

    def policy(name: str) -> tuple[bool, Pins]:
        try:
            answer = DEFAULT_POLICY
            for registry in registries:
                device = registry.lookup(name)
                if device is not None:
                    answer = (device.adapt, device.pins)
                    break
        except RegistryError:
            return last.get(name, DEFAULT_POLICY)
        last[name] = answer
        return answer

    return policy


def describe_adaptation(device: Device) -> str:
    """'on', 'off', 'on; pinned: size VGA, quality auto, fps auto' as `device list` shows it."""
    text = "on" if device.adapt else "off"
    if device.pins != Pins():
        text += f"; pinned: {describe_pins(device.pins)}"
    return text
