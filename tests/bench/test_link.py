"""The shaped-link harness: real namespaces, token buckets and the relay, measured from both ends.

Bounds are one-sided on purpose: a link can never be faster than its shaping or its delay,
whatever the machine's load, while a busy machine may make it slower.
"""

import asyncio
import os
import socket
import subprocess
import time

import pytest

from app.bench import link as link_module
from app.bench.link import LinkSpec, ShapedLink, Side, remove_stale_namespaces, unavailable_reason
from tests.waiting import scaled

REASON = unavailable_reason()
needs_namespaces = pytest.mark.skipif(REASON is not None, reason=f"{REASON}")


async def _pair(link: ShapedLink) -> tuple[socket.socket, socket.socket]:
    """A connected (camera end, receiver end) TCP pair across the link, non-blocking."""
    server = link.listen()
    server.setblocking(False)
    loop = asyncio.get_running_loop()
    accepted = asyncio.ensure_future(loop.sock_accept(server))
    camera_end = await asyncio.wait_for(link.connect(server.getsockname()[1]), scaled(10))
    receiver_end, _ = await asyncio.wait_for(accepted, scaled(10))
    receiver_end.setblocking(False)
    server.close()
    return camera_end, receiver_end


async def _transfer(sender: socket.socket, receiver: socket.socket, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    sending = asyncio.ensure_future(loop.sock_sendall(sender, data))
    got = bytearray()
    async with asyncio.timeout(scaled(60)):
        while len(got) < len(data):
            got += await loop.sock_recv(receiver, 65536)
        await sending
    return bytes(got)


@needs_namespaces
async def test_a_shaped_link_carries_no_more_than_its_rate_and_all_of_it_through_the_relay():
    data = os.urandom(200_000)
    with ShapedLink(LinkSpec("test", 1_000, delay_ms=2)) as link:
        camera_end, receiver_end = await _pair(link)
        started = time.monotonic()
        got = await _transfer(camera_end, receiver_end, data)
        elapsed = time.monotonic() - started
        stats = link.relay_stats()
        camera_end.close()
        receiver_end.close()
    assert got == data
    # 1.6 Mbit at 1 Mbit/s takes at least 1.6 s; headers make it longer still.
    assert elapsed >= 0.95 * len(data) * 8 / 1_000_000
    assert stats["a_to_b"]["bytes"] > len(data)  # type: ignore[index]
    assert stats["b_to_a"]["forwarded"] > 0  # type: ignore[index]


@needs_namespaces
async def test_a_short_burst_is_held_to_the_rate_too():
    # A camera's small frames come in bursts: only the bucket's burst may go faster.
    with ShapedLink(LinkSpec("test", 2_000, delay_ms=2)) as link:
        camera_end, receiver_end = await _pair(link)
        spans = []
        for _ in range(3):
            started = time.monotonic()
            assert len(await _transfer(camera_end, receiver_end, bytes(7000))) == 7000
            spans.append(time.monotonic() - started)
        camera_end.close()
        receiver_end.close()
    assert min(spans) >= (7000 - link_module.MIN_BURST_BYTES) * 8 / 2_000_000


@needs_namespaces
async def test_a_link_falls_to_a_lower_rate_when_told():
    data = os.urandom(100_000)
    with ShapedLink(LinkSpec("test", 30_000, delay_ms=2)) as link:
        camera_end, receiver_end = await _pair(link)
        link.set_rate(500)
        started = time.monotonic()
        assert await _transfer(camera_end, receiver_end, data) == data
        elapsed = time.monotonic() - started
        camera_end.close()
        receiver_end.close()
    assert link.spec.rate_kbit == 500
    assert elapsed >= 0.95 * len(data) * 8 / 500_000


@needs_namespaces
async def test_the_relay_delays_each_direction_and_jitter_never_reorders():
    spec = LinkSpec("test", 10_000, delay_ms=15, jitter_ms=10)
    with ShapedLink(spec) as link:
        receiver = link.in_namespace(Side.RECEIVER, lambda: _udp((link_module.RECEIVER_IP, 0)))
        sender = link.in_namespace(Side.CAMERA, lambda: _udp((link_module.CAMERA_IP, 0)))
        sender.connect(receiver.getsockname())
        receiver.connect(sender.getsockname())
        loop = asyncio.get_running_loop()
        # A round trip takes at least two one-way delays less their jitter.
        started = time.monotonic()
        await loop.sock_sendall(sender, b"ping")
        assert await asyncio.wait_for(loop.sock_recv(receiver, 64), scaled(10)) == b"ping"
        await loop.sock_sendall(receiver, b"pong")
        assert await asyncio.wait_for(loop.sock_recv(sender, 64), scaled(10)) == b"pong"
        assert time.monotonic() - started >= 2 * (15 - 10) / 1000
        for number in range(200):
            await loop.sock_sendall(sender, number.to_bytes(4, "big"))
        arrived = []
        async with asyncio.timeout(scaled(10)):
            while len(arrived) < 200:
                arrived.append(int.from_bytes(await loop.sock_recv(receiver, 64), "big"))
        sender.close()
        receiver.close()
    assert arrived == list(range(200))


@needs_namespaces
async def test_a_lossy_link_loses_frames_and_tcp_still_delivers_every_byte():
    data = os.urandom(150_000)
    with ShapedLink(LinkSpec("test", 10_000, delay_ms=2, loss=0.05)) as link:
        camera_end, receiver_end = await _pair(link)
        assert await _transfer(camera_end, receiver_end, data) == data
        stats = link.relay_stats()
        camera_end.close()
        receiver_end.close()
    forward = stats["a_to_b"]
    assert isinstance(forward, dict)
    seen = forward["forwarded"] + forward["lost"]
    # About 5 % of some 110 data frames; the bounds are 4 standard deviations wide.
    assert 0.005 * seen < forward["lost"] < 0.12 * seen


@needs_namespaces
def test_closing_a_link_stops_its_relay_and_removes_its_namespaces():
    with ShapedLink(LinkSpec("test", 1_000)) as link:
        names = [link.namespace(side) for side in ("cam", "mid", "rx")]
        relay = link._relay
        assert relay is not None and relay.poll() is None
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in names)
    assert relay.returncode == 0  # it stopped by itself when its input closed


@needs_namespaces
def test_namespaces_of_a_dead_process_are_removed_and_a_live_ones_kept():
    gone_pid = _a_dead_pid()
    stale, live = f"sc-{gone_pid}-1-cam", f"sc-{os.getpid()}-999-cam"
    for name in (stale, live):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        removed = remove_stale_namespaces()
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    finally:
        for name in (stale, live):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
    assert stale in removed and stale not in listed
    assert live in listed


def test_without_root_the_harness_says_why(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert unavailable_reason() == (
        "shaped links need root (network namespaces, tc, packet sockets)"
    )


def test_a_link_describes_itself_for_reports():
    assert LinkSpec("x", 10_000, delay_ms=5, jitter_ms=3).describe() == "10 Mbit/s, 5 ms ± 3 ms"
    assert LinkSpec("x", 2_000, delay_ms=2, loss=0.01).describe() == "2 Mbit/s, 2 ms, 1% loss"


def _udp(address: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.setblocking(False)
    return sock


def _a_dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
