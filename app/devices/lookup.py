"""The receiver's view of the registry: device name to protocol credentials."""

from __future__ import annotations

from collections.abc import Callable

from app.devices.registry import Registry
from app.protocol.session import Credentials


def credentials_lookup(registry: Registry) -> Callable[[str], Credentials | None]:
    """A lookup that sees registry edits made while the receiver runs."""

    def lookup(name: str) -> Credentials | None:
        device = registry.lookup(name)
        if device is None:
            return None
        return Credentials(device.name, device.key.raw, device.allow_plain)

    return lookup
