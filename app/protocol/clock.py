"""The app's clock, and the camera-to-app clock offset from ping/pong round trips, with a
minimum-RTT filter."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass


def monotonic_us() -> int:
    """The app's clock: the monotonic clock in microseconds, which every timeline stamp uses."""
    return time.monotonic_ns() // 1000


@dataclass(frozen=True, slots=True)
class ClockSample:
    rtt_us: int
    offset_us: int  # remote clock minus local clock


class ClockSync:
    """Estimate remote-minus-local clock offset.

    For a ping sent at local t0, answered at remote time r and received at local t1, the
    offset is r - (t0 + t1) / 2 with an error of at most rtt / 2, whatever the path asymmetry.
    The sample with the smallest RTT among the last `window` has the tightest bound, so it wins.
    """

    def __init__(self, window: int = 32) -> None:
        self._samples: deque[ClockSample] = deque(maxlen=window)
        self._best: ClockSample | None = None

    def add(self, t0_us: int, remote_us: int, t1_us: int) -> ClockSample | None:
        """Record one round trip; a negative RTT (clock misuse) is ignored and returns None."""
        rtt = t1_us - t0_us
        if rtt < 0:
            return None
        sample = ClockSample(rtt, remote_us - (t0_us + t1_us) // 2)
        evicted = self._samples[0] if len(self._samples) == self._samples.maxlen else None
        self._samples.append(sample)
        if self._best is None or sample.rtt_us <= self._best.rtt_us:
            self._best = sample
        elif evicted is self._best:
            self._best = min(self._samples, key=lambda s: s.rtt_us)
        return sample

    @property
    def offset_us(self) -> int | None:
        return None if self._best is None else self._best.offset_us

    @property
    def error_bound_us(self) -> int | None:
        return None if self._best is None else self._best.rtt_us // 2

    @property
    def samples(self) -> int:
        return len(self._samples)
