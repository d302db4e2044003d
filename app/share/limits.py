"""The viewer server's limits, and the failed-login limiter.

Every limit has a default that suits a home LAN (a few viewers, a few cameras) and bounds
what one hostile client can take: connections, streams, bytes queued for a viewer, request
sizes, and password guesses.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ShareLimits:
    max_connections: int = 64  # open TCP connections to the viewer server
    # ... of which one address may hold: one host on the LAN cannot take every slot.
    max_connections_per_address: int = 32
    max_streams: int = 32  # live streams (WebSocket pages and MJPEG players) in all
    max_streams_per_viewer: int = 8
    # Bytes queued in TLS above the socket for one viewer before its frames are skipped.
    max_send_buffer: int = 256 * 1024
    # The socket send buffer asked for each viewer connection (SO_SNDBUF; Linux doubles it).
    # Small, so a viewer on a slow link is sent fresh frames rather than seconds of old ones
    # sitting in the kernel; still far above what a LAN's round trip needs at 4 MB/s.
    socket_send_buffer: int = 128 * 1024
    # Frames per camera a page may have unacknowledged: the server sends a camera's next
    # frame when the page acknowledges one, so what a slow page skips is old frames.
    frames_in_flight: int = 2
    # A viewer that has not taken a single byte for this long is disconnected.
    stall_timeout_s: float = 15.0
    max_request_bytes: int = 4096  # a login's JSON body
    max_ws_message: int = 4096  # what a page may send on /ws (subscribe, ping)
    max_header_line: int = 4096  # request line and each header field
    max_headers: int = 32
    # Failed logins (and bad tokens) allowed per window, per address and per account.
    failures_per_address: int = 10
    failures_per_account: int = 5
    failure_window_s: float = 300.0
    max_concurrent_logins: int = 2  # password checks (scrypt) running at once
    revalidate_interval_s: float = 0.5  # how often open streams are checked against accounts
    # A connection that has not finished its TLS handshake this long after it was accepted is
    # closed, and one that has not completed a request this long after it was accepted (TLS
    # included), so slow clients cannot hold the connection slots.
    tls_handshake_timeout_s: float = 10.0
    first_request_deadline_s: float = 10.0


class FailureLimiter:
    """Counts failures per key in a sliding window; `retry_after` says when a key may try again.

    Keeps at most `max_keys` keys (the least recently failed go first), so a flood of
    addresses or names cannot grow it without bound.
    """

    def __init__(self, allowed: int, window_s: float, *, max_keys: int = 4096) -> None:
        self.allowed = allowed
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until `key` may try again; 0 if it may try now."""
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return 0.0
        if len(failures) < self.allowed:
            return 0.0
        return failures[0] + self.window_s - now

    def failed(self, key: str, now: float) -> None:
        failures = self._failures.pop(key, None)
        if failures is None:
            failures = deque(maxlen=self.allowed)
        failures.append(now)
        self._failures[key] = failures  # most recent last
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)
