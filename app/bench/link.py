"""A shaped link between a camera namespace and a receiver namespace, on this machine only.

    camera ns            middle ns (relay)             receiver ns
    c0 10.99.0.1 ==veth== ca  [delay, jitter, loss]  ra ==veth== r0 10.99.0.2
    TBF: uplink rate                                      TBF: downlink rate

Each direction leaves its sender's namespace through a token bucket (TBF) at the link's rate,
with a burst of one millisecond at that rate (at least one full frame) and a queue of 100 ms
(at least 16 KiB). HTB was tried first: on these veths it let a 7 KB burst through at twice
its rate, where TBF holds it to the rate (docs/PERFORMANCE.md §7). The relay
(app/bench/relay.py) adds delay, jitter and loss, because this kernel has no netem. Offloads
are off on the veths, so every frame is a real MTU-sized packet with its checksum. Nothing
leaves these namespaces.

Sockets are made in a namespace by a short-lived thread that enters it (setns), so one
process can run the receiver on one side and cameras on the other: `listen()` and
`connect()`. Subprocesses run on a side with `command(side, ...)`. Needs root and iproute2
and ethtool; `unavailable_reason()` says why not, for benchmarks to skip with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import TypeVar

CAMERA_IP = "10.99.0.1"
RECEIVER_IP = "10.99.0.2"
QUEUE_S = 0.1  # the shaper's queue, in time at the link's rate
MIN_QUEUE_BYTES = 16 * 1024
BURST_MS = 1
MIN_BURST_BYTES = 1600  # one Ethernet frame and its overhead
RELAY_LIFETIME_S = 3 * 3600
_CLONE_NEWNET = 0x40000000
_NAME = re.compile(r"sc-(\d+)-\d+-(cam|mid|rx)$")
T = TypeVar("T")


class Side(Enum):
    CAMERA = "cam"
    RECEIVER = "rx"


@dataclass(frozen=True)
class LinkSpec:
    """A link: its rate in each direction, and the relay's one-way delay, jitter and loss."""

    name: str
    rate_kbit: int
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0  # per packet, each direction

    def describe(self) -> str:
        parts = [f"{self.rate_kbit / 1000:g} Mbit/s", f"{self.delay_ms:g} ms"]
        if self.jitter_ms:
            parts[-1] += f" ± {self.jitter_ms:g} ms"
        if self.loss:
            parts.append(f"{self.loss:.0%} loss")
        return ", ".join(parts)

    def at_rate(self, rate_kbit: int) -> LinkSpec:
        return replace(self, rate_kbit=rate_kbit)


WIFI_30 = LinkSpec("wifi-30", 30_000, delay_ms=2)  # the first design's measured Wi-Fi
JITTER_10 = LinkSpec("jitter-10", 10_000, delay_ms=5, jitter_ms=3)
LOSSY_2 = LinkSpec("lossy-2", 2_000, delay_ms=2, loss=0.01)
WEAK_2 = LinkSpec("weak-2", 2_000, delay_ms=2)  # where the 30 Mbit/s link falls to
SCENARIOS = (WIFI_30, JITTER_10, LOSSY_2)


def unavailable_reason() -> str | None:
    """None when shaped links can be built here, else why not (one line)."""
    if os.geteuid() != 0:
        return "shaped links need root (network namespaces, tc, packet sockets)"
    for tool in ("ip", "tc", "ethtool"):
        if shutil.which(tool) is None:
            return f"shaped links need {tool!r} (Debian: iproute2, ethtool)"
    probe = f"sc-{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class ShapedLink:
    """The camera and receiver namespaces of `spec`, joined through the relay.

    A context manager: entering builds the namespaces and starts the relay, leaving removes
    all of it. Namespaces left by a process that died are removed when the next link is built.
    """

    _count = 0

    def __init__(self, spec: LinkSpec) -> None:
        ShapedLink._count += 1
        self.spec = spec
        self._tag = f"sc-{os.getpid()}-{ShapedLink._count}"
        self._relay: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def namespace(self, side: Side | str) -> str:
        return f"{self._tag}-{side.value if isinstance(side, Side) else side}"

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> ShapedLink:
        remove_stale_namespaces()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        cam, mid, rx = (self.namespace(s) for s in ("cam", "mid", "rx"))
        for ns in (cam, mid, rx):
            _ip("netns", "add", ns)
            _run(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            _run(ns, "ip", "link", "set", "lo", "up")
        _ip("link", "add", "c0", "netns", cam, "type", "veth", "peer", "name", "ca", "netns", mid)
        _ip("link", "add", "r0", "netns", rx, "type", "veth", "peer", "name", "ra", "netns", mid)
        for ns, interface in ((cam, "c0"), (mid, "ca"), (mid, "ra"), (rx, "r0")):
            # Checksums and segmentation done in software, now: a packet socket then reads
            # exactly the frames a wire would carry.
            _run(ns, "ethtool", "-K", interface, "tx", "off", "tso", "off", "gso", "off")
            _run(ns, "ip", "link", "set", interface, "up")
        _run(mid, "ip", "link", "set", "ca", "promisc", "on")
        _run(mid, "ip", "link", "set", "ra", "promisc", "on")
        _run(cam, "ip", "addr", "add", f"{CAMERA_IP}/24", "dev", "c0")
        _run(rx, "ip", "addr", "add", f"{RECEIVER_IP}/24", "dev", "r0")
        for ns, interface in ((cam, "c0"), (rx, "r0")):
            _run(ns, "tc", "qdisc", "add", "dev", interface, *_shaper(self.spec.rate_kbit))
        spec = self.spec
        self._relay = subprocess.Popen(
            [
                *("ip", "netns", "exec", mid, sys.executable, "-m", "app.bench.relay", "ca", "ra"),
                *("--delay-ms", str(spec.delay_ms), "--jitter-ms", str(spec.jitter_ms)),
                *("--loss", str(spec.loss), "--lifetime-s", str(RELAY_LIFETIME_S)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            # Not on the CPU a benchmark pinned itself to: the relay is the link, not the app.
            preexec_fn=_every_cpu,
        )
        assert self._relay.stdout is not None
        ready = self._relay.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"the link's relay did not start (said {ready!r})")

    def close(self) -> None:
        relay, self._relay = self._relay, None
        if relay is not None:
            with contextlib.suppress(OSError):
                assert relay.stdin is not None
                relay.stdin.close()  # the relay stops when its input closes
            try:
                relay.wait(timeout=5)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait()
            if relay.stdout is not None:
                relay.stdout.close()
        for side in ("cam", "mid", "rx"):
            subprocess.run(["ip", "netns", "del", self.namespace(side)], capture_output=True)

    # -- changing the link -------------------------------------------------------------------

    def set_rate(self, rate_kbit: int) -> None:
        """Change both directions' rate (and their queues) from now on."""
        for side, interface in ((Side.CAMERA, "c0"), (Side.RECEIVER, "r0")):
            _run(
                self.namespace(side), "tc", "qdisc", "change", "dev", interface, *_shaper(rate_kbit)
            )
        self.spec = self.spec.at_rate(rate_kbit)

    def relay_stats(self) -> dict[str, object]:
        """The relay's counters: frames forwarded, lost and overflowed, per direction."""
        reply: dict[str, object] = json.loads(self._relay_command("stats"))
        return reply

    def _relay_command(self, line: str) -> str:
        relay = self._relay
        if relay is None or relay.stdin is None or relay.stdout is None:
            raise RuntimeError("the link is closed")
        with self._lock:
            relay.stdin.write(line + "\n")
            relay.stdin.flush()
            return relay.stdout.readline()

    # -- sockets and processes on either side ------------------------------------------------

    def listen(self, port: int = 0) -> socket.socket:
        """A listening TCP socket on the receiver's side (accepted sockets inherit NODELAY)."""

        def make() -> socket.socket:
            sock = socket.create_server((RECEIVER_IP, port), backlog=64)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

        return self.in_namespace(Side.RECEIVER, make)

    async def connect(self, port: int) -> socket.socket:
        """A TCP socket from the camera's side, connected to the receiver's `port`."""

        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # As asyncio sets on the sockets it makes: a frame's last piece goes at once.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            return sock

        sock = self.in_namespace(Side.CAMERA, make)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (RECEIVER_IP, port))
        except BaseException:
            sock.close()
            raise
        return sock

    def command(self, side: Side, *argv: str) -> list[str]:
        """`argv` prefixed to run on `side` (for subprocesses)."""
        return ["ip", "netns", "exec", self.namespace(side), *argv]

    def in_namespace(self, side: Side, make: Callable[[], T]) -> T:
        """Call `make` in a thread that entered `side`'s namespace; sockets it creates stay
        there, wherever they are used afterwards."""
        box: list[T] = []
        errors: list[BaseException] = []
        path = f"/run/netns/{self.namespace(side)}"

        def run() -> None:
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    if _libc.setns(fd, _CLONE_NEWNET) != 0:
                        error = ctypes.get_errno()
                        raise OSError(error, f"setns {path}: {os.strerror(error)}")
                finally:
                    os.close(fd)
                box.append(make())
            except BaseException as exc:  # handed to the caller's thread
                errors.append(exc)

        thread = threading.Thread(target=run, name=f"netns {side.value}")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return box[0]


_libc = ctypes.CDLL(None, use_errno=True)


def _shaper(rate_kbit: int) -> tuple[str, ...]:
    """The root qdisc's arguments: a token bucket at the rate, its burst and its queue."""
    bytes_per_s = rate_kbit * 1000 // 8
    burst = max(MIN_BURST_BYTES, bytes_per_s * BURST_MS // 1000)
    limit = max(MIN_QUEUE_BYTES, int(bytes_per_s * QUEUE_S))
    rate = f"{rate_kbit}kbit"
    return ("root", "handle", "1:", "tbf", "rate", rate, "burst", str(burst), "limit", str(limit))


def remove_stale_namespaces() -> list[str]:
    """Delete the namespaces of links whose process is gone; return their names."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    removed = []
    for line in listed.splitlines():
        name = line.split(" ", 1)[0]
        match = _NAME.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        removed.append(name)
    return removed


def _every_cpu() -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ip(*argv: str) -> None:
    _check(["ip", *argv])


def _run(namespace: str, *argv: str) -> None:
    _check(["ip", "netns", "exec", namespace, *argv])


def _check(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
