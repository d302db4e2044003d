"""The receiver's view of the registry: device name to protocol credentials."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.devices.registry import Registry, RegistryError
from app.protocol.errors import CloseCode, ProtocolError
from app.protocol.session import Credentials

log = logging.getLogger(__name__)


Lookup = Callable[[str], Credentials | None]


def first_known(*lookups: Lookup) -> Lookup:
    """A lookup asking each of `lookups` in turn (e.g. the demo registry, then the user's)."""

    def lookup(name: str) -> Credentials | None:
        for each in lookups:
            found = each(name)
            if found is not None:
                return found
        return None

    return lookup


def credentials_lookup(registry: Registry) -> Callable[[str], Credentials | None]:
    """A lookup that sees registry edits made while the receiver runs.

    An unreadable registry refuses the connection rather than guessing.
    """

    def lookup(name: str) -> Credentials | None:
        try:
            device = registry.lookup(name)
        except RegistryError as exc:
            log.error("cannot read the device registry: %s", exc)
            # The camera learns nothing it could not learn from a wrong key.
            raise ProtocolError(
                CloseCode.AUTH_FAILED,
                "authentication failed",
                detail="receiver cannot read its registry",
            ) from None
        if device is None:
            return None
        return Credentials(device.name, device.key.raw, device.allow_plain)

    return lookup
