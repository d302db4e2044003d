"""Connection slots counted per state, so strangers can never lock a registered camera out.

Every TCP connection is counted from accept. Until it proves a device's key it is a stranger
and shares the `max_pending` stranger slots with every other stranger. A connection whose
handshake succeeds moves into its device's own slots: one pending reconnect (authenticated,
not yet confirmed) and one live session per device, which no stranger can take.

When the stranger slots are full, a newcomer is still let in and the oldest stranger of the
busiest address makes room for it. One flooding address therefore evicts its own connections,
and a camera mid-handshake is the newest connection, never the one evicted.

Pure bookkeeping, no I/O: the receiver closes whatever these methods hand back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

C = TypeVar("C")


class Slot(Enum):
    STRANGER = "stranger"  # accepted; no device key proven yet (upgrade, hello, handshake)
    RECONNECT = "reconnect"  # the handshake proved a device's key; not yet confirmed
    LIVE = "live"  # confirmed: the receiver's live session of its device


@dataclass(slots=True)
class _Entry:
    address: str
    slot: Slot = Slot.STRANGER
    device: str | None = None


class Admission(Generic[C]):
    """Which slot each open connection holds; hands back the connections to close."""

    def __init__(self, max_pending: int) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.max_pending = max_pending
        self._entries: dict[C, _Entry] = {}  # insertion order is accept order
        self._reconnects: dict[str, C] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, connection: object) -> bool:
        return connection in self._entries

    def count(self, slot: Slot) -> int:
        return sum(1 for entry in self._entries.values() if entry.slot is slot)

    def slot(self, connection: C) -> Slot | None:
        entry = self._entries.get(connection)
        return None if entry is None else entry.slot

    def admit(self, connection: C, address: str) -> C | None:
        """Count a new connection as a stranger; returns a stranger to evict, if one must go."""
        self._entries[connection] = _Entry(address)
        if self.count(Slot.STRANGER) <= self.max_pending:
            return None
        strangers = [(c, e) for c, e in self._entries.items() if e.slot is Slot.STRANGER]
        per_address = Counter(entry.address for _, entry in strangers)
        busiest = max(per_address.values())
        # The oldest stranger of the busiest address (ties: the address whose oldest is oldest).
        return next(c for c, e in strangers if per_address[e.address] == busiest)

    def authenticate(self, connection: C, device: str) -> C | None:
        """Move a stranger into its device's reconnect slot; returns the one it replaces."""
        entry = self._entries[connection]
        entry.slot, entry.device = Slot.RECONNECT, device
        previous = self._reconnects.get(device)
        self._reconnects[device] = connection
        return previous if previous is not connection else None

    def confirm(self, connection: C) -> None:
        """The connection became its device's live session."""
        entry = self._entries[connection]
        if entry.device is not None:
            self._forget_reconnect(entry.device, connection)
        entry.slot = Slot.LIVE

    def release(self, connection: C) -> None:
        """The connection is gone; forgetting an unknown connection is a no-op."""
        entry = self._entries.pop(connection, None)
        if entry is not None and entry.device is not None:
            self._forget_reconnect(entry.device, connection)

    def _forget_reconnect(self, device: str, connection: C) -> None:
        if self._reconnects.get(device) is connection:
            del self._reconnects[device]
