"""A user-space relay between two interfaces: the delay, jitter and loss of a shaped link.

The kernel here has no netem, so the link harness (app/bench/link.py) runs this in the middle
network namespace: every Ethernet frame read on one interface leaves on the other after the
one-way delay plus a uniform jitter, or is lost with the given probability, independently in
each direction. Frames never overtake one another (a frame is held at least as long as the
one before it), as on a Wi-Fi link whose retries delay but do not reorder.

Bounded: at most `QUEUE_BYTES` are held per direction; beyond that frames are dropped and
counted. It stops by itself when its standard input closes (the harness is gone) or after
`--lifetime-s`. Standard input takes one command per line: `stats` prints one JSON line of
counters; `set delay_ms=D jitter_ms=J loss=P` changes the link from the next frame on; `quit`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import socket
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # our own sends, looped back to the packet socket bound to that interface
QUEUE_BYTES = 1 << 20  # per direction: 1 MiB is 280 ms at 30 Mbit/s
MAX_FRAME = 65536


@dataclass
class Impairment:
    delay_ms: float = 0.0  # one way
    jitter_ms: float = 0.0  # uniform in [-jitter, +jitter], never below zero delay
    loss: float = 0.0  # probability that a frame is lost


@dataclass
class Counters:
    forwarded: int = 0
    lost: int = 0  # by the loss probability
    overflowed: int = 0  # the queue was full
    bytes: int = 0


@dataclass
class Direction:
    """Frames read on `inbound`, waiting to leave on `outbound` at their due time."""

    inbound: socket.socket
    outbound: socket.socket
    counters: Counters = field(default_factory=Counters)
    queue: deque[tuple[float, bytes]] = field(default_factory=deque)
    held: int = 0
    last_due: float = 0.0


class Relay:
    def __init__(self, a: str, b: str, impairment: Impairment, seed: int) -> None:
        self.impairment = impairment
        self._random = random.Random(seed)
        sock_a, sock_b = _packet_socket(a), _packet_socket(b)
        self.directions = (Direction(sock_a, sock_b), Direction(sock_b, sock_a))

    def receive(self, direction: Direction, now: float) -> None:
        """Take every frame waiting on the direction's inbound interface."""
        while True:
            try:
                frame, address = direction.inbound.recvfrom(MAX_FRAME)
            except BlockingIOError:
                return
            if address[2] == PACKET_OUTGOING:
                continue
            if self._random.random() < self.impairment.loss:
                direction.counters.lost += 1
                continue
            if direction.held + len(frame) > QUEUE_BYTES:
                direction.counters.overflowed += 1
                continue
            wait_ms = self.impairment.delay_ms + self._random.uniform(
                -self.impairment.jitter_ms, self.impairment.jitter_ms
            )
            due = max(direction.last_due, now + max(0.0, wait_ms) / 1000)
            direction.last_due = due
            direction.queue.append((due, frame))
            direction.held += len(frame)

    def send_due(self, now: float) -> float | None:
        """Send what is due; return the time the next frame falls due, if any."""
        next_due: float | None = None
        for direction in self.directions:
            queue = direction.queue
            while queue and queue[0][0] <= now:
                _, frame = queue.popleft()
                direction.held -= len(frame)
                try:
                    direction.outbound.send(frame)
                except OSError:  # the interface is going away, or the frame is refused
                    direction.counters.overflowed += 1
                    continue
                direction.counters.forwarded += 1
                direction.counters.bytes += len(frame)
            if queue and (next_due is None or queue[0][0] < next_due):
                next_due = queue[0][0]
        return next_due

    def stats(self) -> dict[str, object]:
        return {
            "a_to_b": asdict(self.directions[0].counters),
            "b_to_a": asdict(self.directions[1].counters),
            **asdict(self.impairment),
        }

    def command(self, line: str) -> bool:
        """Apply one command line; False when the relay should stop."""
        words = line.split()
        if not words:
            return True
        if words[0] == "quit":
            return False
        if words[0] == "stats":
            print(json.dumps(self.stats()), flush=True)
        elif words[0] == "set":
            for word in words[1:]:
                name, _, value = word.partition("=")
                if name in ("delay_ms", "jitter_ms", "loss"):
                    setattr(self.impairment, name, float(value))
            print("ok", flush=True)
        return True

    def run(self, lifetime_s: float) -> None:
        selector = selectors.DefaultSelector()
        for direction in self.directions:
            selector.register(direction.inbound, selectors.EVENT_READ, direction)
        selector.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
        print("ready", flush=True)
        end = time.monotonic() + lifetime_s
        next_due: float | None = None
        pending = b""
        while True:
            now = time.monotonic()
            if now >= end:
                return
            timeout = end - now if next_due is None else max(0.0, min(next_due, end) - now)
            for key, _ in selector.select(timeout):
                if key.data is None:
                    data = os.read(sys.stdin.fileno(), 4096)
                    if not data:
                        return  # the harness is gone
                    *lines, pending = (pending + data).split(b"\n")
                    for line in lines:
                        if not self.command(line.decode("ascii", "replace")):
                            return
                else:
                    self.receive(key.data, time.monotonic())
            next_due = self.send_due(time.monotonic())


def _packet_socket(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((interface, ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench.relay", description=__doc__)
    parser.add_argument("a", help="one interface")
    parser.add_argument("b", help="the other interface")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="one-way (default 0)")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="uniform +- (default 0)")
    parser.add_argument("--loss", type=float, default=0.0, help="probability (default 0)")
    parser.add_argument("--seed", type=int, default=1, help="loss and jitter (default 1)")
    parser.add_argument(
        "--lifetime-s", type=float, default=3600.0, help="stop after (default 3600)"
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (packet sockets), inside the link's middle namespace")
    impairment = Impairment(args.delay_ms, args.jitter_ms, args.loss)
    Relay(args.a, args.b, impairment, args.seed).run(args.lifetime_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
