"""Connection slots counted per state, so strangers can never lock a registered camera out.

Every TCP connection is counted from accept. Until it proves a device's key it is a stranger
and shares the `max_pending` stranger slots with every other stranger. A connection whose
handshake succeeds moves into its device's own slots: one pending reconnect (authenticated,
not yet confirmed) and one live session per device, which no stranger can take.

When the stranger slots are full, a newcomer is still let in and a stranger of the busiest
address makes room for it, the oldest of that address first. "Busiest" counts the connections
an address opened recently (a score that halves every `SCORE_HALF_LIFE_S`), not only those it
holds now: a flood from many addresses, each holding one connection and reconnecting as fast
as it is dropped, keeps every flooding address busier than a camera's, which opens one
connection now and then. So the flood evicts its own connections, and a camera mid-handshake
is never the one evicted while a flooder's connection is there to go instead. A victim leaves
the count at once: the next newcomer picks another.

Pure bookkeeping, no I/O: the receiver closes whatever these methods hand back.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

C = TypeVar("C")
SCORE_HALF_LIFE_S = 10.0
_MAX_SCORED_ADDRESSES = 4096  # addresses remembered; the quietest are forgotten first


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
        self._scores: dict[str, tuple[float, float]] = {}  # address -> (score, as of time)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, connection: object) -> bool:
        return connection in self._entries

    def count(self, slot: Slot) -> int:
        return sum(1 for entry in self._entries.values() if entry.slot is slot)

    def slot(self, connection: C) -> Slot | None:
        entry = self._entries.get(connection)
        return None if entry is None else entry.slot

    def admit(self, connection: C, address: str, now: float) -> C | None:
        """Count a new connection (accepted at `now`, seconds) as a stranger.

        Returns a stranger to evict when the stranger slots are over-full; it is no longer
        counted from then on, so the caller only has to close it.
        """
        self._entries[connection] = _Entry(address)
        try:
            return self._victim(now) if self.count(Slot.STRANGER) > self.max_pending else None
        finally:
            # Counted after the choice: one fresh connection must not make its own address
            # the busiest, or every newcomer among quiet holders would evict itself.
            self._bump(address, now)

    def _victim(self, now: float) -> C:
        strangers = [(c, e) for c, e in self._entries.items() if e.slot is Slot.STRANGER]
        held = Counter(entry.address for _, entry in strangers)

        def busy(entry: _Entry) -> float:
            # What it holds, or what it opened lately if that is more: a reconnecting flood.
            return max(float(held[entry.address]), self._score(entry.address, now))

        busiest = max(busy(entry) for _, entry in strangers)
        # The oldest stranger of the busiest address (ties: the address whose oldest is oldest).
        victim = next(c for c, e in strangers if busy(e) == busiest)
        self.release(victim)
        return victim

    def _score(self, address: str, now: float) -> float:
        score, since = self._scores.get(address, (0.0, now))
        return score * math.exp2(-(now - since) / SCORE_HALF_LIFE_S)

    def _bump(self, address: str, now: float) -> None:
        self._scores[address] = (self._score(address, now) + 1.0, now)
        if len(self._scores) > _MAX_SCORED_ADDRESSES:
            quietest = min(self._scores, key=lambda a: self._score(a, now))
            del self._scores[quietest]

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
