"""Per-frame CPU cost of the protocol core, without sockets: sessions fed from memory.

Every figure runs the app's real code on real synthetic JPEGs. Frames are sealed in advance by
a real `CameraSession` after a real NNpsk0 handshake, then each `ReceiverSession.receive` call
is timed on its own with `time.perf_counter_ns`. A Noise nonce can be used once only, so every
round starts a fresh session pair; the first round of each figure is a discarded warm-up.
"""

from __future__ import annotations

import gc
import itertools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.bench import BenchError
from app.bench.results import CoreResult, FigureSummary
from app.protocol.clock import monotonic_us
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.noise import CipherState
from app.protocol.reassembly import chunk_count, chunk_records
from app.protocol.records import Status
from app.protocol.session import (
    CameraSession,
    Credentials,
    FrameReceived,
    ReceiverSession,
    SessionConfirmed,
)
from app.receiver.stats import percentile
from app.sim.sources import PrerenderedSource

DEVICE = "bench-core"
VGA_TARGET_US = 150.0  # decrypt + reassembly of one ~40 KB VGA frame
_STATUS = Status(-55, FrameSize.VGA, 12, 25, 640, 480, 180_000, 3_900_000, 1, "bench")


@dataclass(frozen=True, slots=True)
class CoreSettings:
    rounds: int = 10  # timed rounds per figure, each on a fresh session pair
    per_round: int = 300  # VGA frames per round
    uxga_per_round: int = 60
    handshakes: int = 100
    idle_frames: int = 100  # frames timed after an idle gap, per suite
    idle_s: float = 0.02
    vga_frames: int = 50  # distinct synthetic frames cycled through
    uxga_frames: int = 6

    @classmethod
    def quick(cls) -> CoreSettings:
        return cls(
            rounds=3,
            per_round=100,
            uxga_per_round=20,
            handshakes=20,
            idle_frames=20,
            vga_frames=10,
        )


@dataclass(slots=True)
class Figure:
    """One timed operation: per-item samples in nanoseconds and the payload bytes per item."""

    key: str
    label: str
    samples_ns: list[int]
    item_bytes: float | None = None
    chunks: int | None = None
    target_us: float | None = None
    note: str | None = None

    def summary(self) -> FigureSummary:
        ordered = sorted(self.samples_ns)
        median_us = percentile(ordered, 50) / 1000
        return FigureSummary(
            label=self.label,
            samples=len(ordered),
            median_us=round(median_us, 2),
            p99_us=round(percentile(ordered, 99) / 1000, 2),
            mean_us=round(sum(ordered) / len(ordered) / 1000, 2),
            min_us=round(ordered[0] / 1000, 2),
            bytes=None if self.item_bytes is None else round(self.item_bytes),
            chunks=self.chunks,
            mb_per_s=None if self.item_bytes is None else round(self.item_bytes / median_us, 1),
            target_us=self.target_us,
            target_met=None if self.target_us is None else median_us <= self.target_us,
            note=self.note or None,
        )


def connect(suite: Suite = Suite.NOISE) -> tuple[CameraSession, ReceiverSession]:
    """A camera and a receiver session through handshake, confirmation and first clock sample."""
    psk = os.urandom(32)
    credentials = Credentials(DEVICE, psk, allow_plain=True)
    receiver = ReceiverSession(lambda name: credentials if name == DEVICE else None)
    camera = CameraSession(DEVICE, psk if suite is Suite.NOISE else None, suite)
    camera.start()
    for message in camera.data_to_send():
        receiver.receive(message)
    for message in receiver.data_to_send():  # handshake answer, then the first ping
        camera.receive(message)
    camera.send_status(_STATUS)
    events = []
    for message in camera.data_to_send():  # pong, status
        events += receiver.receive(message)
    if not any(isinstance(event, SessionConfirmed) for event in events):
        raise BenchError("benchmark session did not confirm")
    return camera, receiver


def seal(camera: CameraSession, jpegs: Sequence[bytes], first_seq: int = 1) -> list[list[bytes]]:
    """Each frame's messages, exactly as the camera would put them on the wire."""
    sealed = []
    for seq, jpeg in enumerate(jpegs, first_seq):
        camera.send_frame(jpeg, seq, camera.clock_source())
        sealed.append(camera.data_to_send())
    return sealed


def time_receive(
    receiver: ReceiverSession, sealed: list[list[bytes]], jpegs: Sequence[bytes]
) -> list[int]:
    """Nanoseconds of `receive` per frame (summed over its chunks), checking every result."""
    clock = time.perf_counter_ns
    rx_us = monotonic_us()
    samples = []
    for index, (messages, jpeg) in enumerate(zip(sealed, jpegs, strict=True)):
        elapsed = 0
        events: Sequence[object] = ()
        for message in messages:
            start = clock()
            events = receiver.receive(message, rx_us)
            elapsed += clock() - start
        samples.append(elapsed)
        if not events or not isinstance(events[-1], FrameReceived):
            raise BenchError("benchmark frame was not reassembled")
        data = events[-1].frame.jpeg
        if len(data) != len(jpeg) or (index == 0 and data != jpeg):
            raise BenchError("benchmark frame came out different from what was sent")
    return samples


def _rounds(jpegs: Sequence[bytes], rounds: int, per_round: int) -> list[list[bytes]]:
    """`rounds + 1` lists of frames (the first is the warm-up), cycling through `jpegs`."""
    cycle = itertools.cycle(jpegs)
    warmup = min(per_round, 50)
    return [[next(cycle) for _ in range(warmup)]] + [
        [next(cycle) for _ in range(per_round)] for _ in range(rounds)
    ]


def bench_receive(jpegs: Sequence[bytes], suite: Suite, rounds: int, per_round: int) -> list[int]:
    samples: list[int] = []
    for number, frames in enumerate(_rounds(jpegs, rounds, per_round)):
        camera, receiver = connect(suite)
        sealed = seal(camera, frames)
        gc.collect()
        timed = time_receive(receiver, sealed, frames)
        if number:
            samples += timed
    return samples


def bench_receive_idle(
    jpegs: Sequence[bytes], suite: Suite, count: int, idle_s: float
) -> list[int]:
    """Like `bench_receive`, but with the CPU idle for `idle_s` before every frame.

    A receiver at 25 fps is mostly idle between frames; caches go cold in the meantime, which
    the back-to-back figures do not show. The first five frames are a warm-up.
    """
    frames = [jpegs[i % len(jpegs)] for i in range(count + 5)]
    camera, receiver = connect(suite)
    sealed = seal(camera, frames)
    gc.collect()
    samples: list[int] = []
    for index, (messages, jpeg) in enumerate(zip(sealed, frames, strict=True)):
        time.sleep(idle_s)
        timed = time_receive(receiver, [messages], [jpeg])
        if index >= 5:
            samples += timed
    return samples


def bench_seal(jpegs: Sequence[bytes], rounds: int, per_round: int) -> list[int]:
    """Camera side: `CameraSession.send_frame` (chunking and sealing) per frame."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    for number, frames in enumerate(_rounds(jpegs, rounds, per_round)):
        camera, _ = connect(Suite.NOISE)
        gc.collect()
        for seq, jpeg in enumerate(frames, 1):
            capture_us = camera.clock_source()
            start = clock()
            camera.send_frame(jpeg, seq, capture_us)
            elapsed = clock() - start
            camera.data_to_send()
            if number:
                samples.append(elapsed)
    return samples


def _records(frames: Sequence[bytes]) -> list[list[bytes]]:
    return [list(chunk_records(jpeg, seq, 1, 2)) for seq, jpeg in enumerate(frames, 1)]


def bench_decrypt(jpegs: Sequence[bytes], rounds: int, per_round: int) -> list[int]:
    """`CipherState.decrypt_view_with_ad` (what the receiver calls) alone over each frame's
    sealed records."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    for number, frames in enumerate(_rounds(jpegs, rounds, per_round)):
        key = os.urandom(32)
        sender, opener = CipherState(key), CipherState(key)
        sealed = [[sender.encrypt_with_ad(b"", r) for r in rs] for rs in _records(frames)]
        gc.collect()
        for messages in sealed:
            elapsed = 0
            for message in messages:
                start = clock()
                opener.decrypt_view_with_ad(b"", message)
                elapsed += clock() - start
            if number:
                samples.append(elapsed)
    return samples


def bench_decrypt_floor(jpegs: Sequence[bytes], rounds: int, per_round: int) -> list[int]:
    """The floor under decryption: pycryptodome's own AES-CTR (a new cipher per message, as
    GCM needs) and GHASH (its table kept, as aesgcm.py keeps it) over the same sealed bytes,
    with none of the tag checking, nonce handling or Python around them."""
    from Crypto.Cipher import AES

    from app.protocol import aesgcm

    clock = time.perf_counter_ns
    samples: list[int] = []
    for number, frames in enumerate(_rounds(jpegs, rounds, per_round)):
        key = os.urandom(32)
        sender = CipherState(key)
        sealed = [[sender.encrypt_with_ad(b"", r) for r in rs] for rs in _records(frames)]
        ghash = aesgcm._new_ghash(AES.new(key, AES.MODE_ECB).encrypt(bytes(16)))
        nonce = bytes(12)
        gc.collect()
        for messages in sealed:
            elapsed = 0
            for message in messages:
                start = clock()
                view = memoryview(message)[: -aesgcm.TAG_LEN]
                AES.new(key, AES.MODE_CTR, nonce=nonce, initial_value=2).decrypt(view)
                aesgcm._ghash_reset(ghash)
                aesgcm._ghash_padded(ghash, view)
                ghash.digest()
                elapsed += clock() - start
            if number:
                samples.append(elapsed)
    return samples


def openssl_decrypt() -> Callable[[Sequence[bytes], int, int], list[int]] | None:
    """The same AES-256-GCM decryption through OpenSSL (the `cryptography` package), if present.

    A reference point only: the app's Noise code uses pycryptodome.
    """
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        return None

    def bench(jpegs: Sequence[bytes], rounds: int, per_round: int) -> list[int]:
        clock = time.perf_counter_ns
        samples: list[int] = []
        for number, frames in enumerate(_rounds(jpegs, rounds, per_round)):
            key = os.urandom(32)
            sender, aead = CipherState(key), AESGCM(key)
            sealed = [[sender.encrypt_with_ad(b"", r) for r in rs] for rs in _records(frames)]
            nonce = 0
            gc.collect()
            for messages in sealed:
                elapsed = 0
                for message in messages:
                    start = clock()
                    aead.decrypt(b"\x00\x00\x00\x00" + nonce.to_bytes(8, "big"), message, b"")
                    elapsed += clock() - start
                    nonce += 1
                if number:
                    samples.append(elapsed)
        return samples

    return bench


def bench_handshake(count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples = []
    for number in range(count + 5):
        start = clock()
        connect(Suite.NOISE)
        elapsed = clock() - start
        if number >= 5:
            samples.append(elapsed)
    return samples


def run_core(
    settings: CoreSettings | None = None, progress: Callable[[str], None] | None = None
) -> CoreResult:
    """Run every core figure."""
    settings = settings or CoreSettings()
    say = progress or (lambda _: None)
    say("rendering synthetic VGA and UXGA frames")
    vga = PrerenderedSource.synthetic(FrameSize.VGA, count=settings.vga_frames).frames
    uxga = PrerenderedSource.synthetic(FrameSize.UXGA, count=settings.uxga_frames).frames
    vga_bytes = sum(map(len, vga)) / len(vga)
    uxga_bytes = sum(map(len, uxga)) / len(uxga)
    vga_chunks = max(chunk_count(len(f)) for f in vga)
    uxga_chunks = max(chunk_count(len(f)) for f in uxga)
    r, n, nu = settings.rounds, settings.per_round, settings.uxga_per_round

    figures: list[Figure] = []
    say("core: VGA receive, encrypted")
    figures.append(
        Figure(
            "vga_receive_noise",
            "VGA receive, encrypted: decrypt + parse + reassembly",
            bench_receive(vga, Suite.NOISE, r, n),
            vga_bytes,
            vga_chunks,
            target_us=VGA_TARGET_US,
        )
    )
    say("core: VGA decrypt alone")
    figures.append(
        Figure(
            "vga_decrypt",
            "VGA decrypt alone (CipherState.decrypt_view_with_ad)",
            bench_decrypt(vga, r, n),
            vga_bytes,
            vga_chunks,
        )
    )
    say("core: VGA receive, plain")
    figures.append(
        Figure(
            "vga_receive_plain",
            "VGA receive, plain suite: parse + reassembly",
            bench_receive(vga, Suite.PLAIN, r, n),
            vga_bytes,
            vga_chunks,
        )
    )
    idle_ms = f"{settings.idle_s * 1000:g} ms"
    say(f"core: VGA receive after {idle_ms} idle")
    for suite, name in ((Suite.NOISE, "encrypted"), (Suite.PLAIN, "plain")):
        figures.append(
            Figure(
                f"vga_receive_{suite.name.lower()}_idle",
                f"VGA receive, {name}, each after {idle_ms} idle (cold caches)",
                bench_receive_idle(vga, suite, settings.idle_frames, settings.idle_s),
                vga_bytes,
                vga_chunks,
                note="what a lightly loaded receiver sees: the CPU idles between frames",
            )
        )
    say("core: VGA seal, camera side")
    figures.append(
        Figure(
            "vga_seal",
            "VGA seal, camera side (CameraSession.send_frame)",
            bench_seal(vga, r, n),
            vga_bytes,
            vga_chunks,
        )
    )
    say("core: UXGA receive")
    figures.append(
        Figure(
            "uxga_receive_noise",
            f"UXGA receive, encrypted ({uxga_chunks} chunks)",
            bench_receive(uxga, Suite.NOISE, r, nu),
            uxga_bytes,
            uxga_chunks,
        )
    )
    figures.append(
        Figure(
            "uxga_receive_plain",
            f"UXGA receive, plain suite ({uxga_chunks} chunks)",
            bench_receive(uxga, Suite.PLAIN, r, nu),
            uxga_bytes,
            uxga_chunks,
        )
    )
    say("core: handshakes")
    figures.append(
        Figure(
            "handshake",
            "handshake + confirmation, both sides (per connection)",
            bench_handshake(settings.handshakes),
        )
    )
    say("core: VGA decrypt floor")
    figures.append(
        Figure(
            "vga_decrypt_floor",
            "floor: VGA AES-CTR + GHASH alone (pycryptodome)",
            bench_decrypt_floor(vga, r, n),
            vga_bytes,
            vga_chunks,
            note="what decryption cannot go below with pycryptodome; goal: receive ≤ 2× this",
        )
    )
    reference = openssl_decrypt()
    if reference is not None:
        say("core: OpenSSL reference")
        figures.append(
            Figure(
                "vga_decrypt_openssl",
                "reference: VGA AES-256-GCM decrypt via OpenSSL (cryptography)",
                reference(vga, r, n),
                vga_bytes,
                vga_chunks,
                note="not used by the app; what the same decryption costs in OpenSSL",
            )
        )
    return CoreResult(
        vga_frame_bytes=round(vga_bytes),
        vga_frames=len(vga),
        uxga_frame_bytes=round(uxga_bytes),
        uxga_frames=len(uxga),
        figures={figure.key: figure.summary() for figure in figures},
    )
