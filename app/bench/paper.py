"""Table 1 of the first design, reproduced in one run. Contains an INSECURE scheme, on purpose.

The first design measured, on a 30 Mbit/s Wi-Fi link, how long each of 10 images took from the
start of sending to decrypted and reassembled, in plain and encrypted (its Table 1, copied below
as `TABLE1_PLAIN_MS` and `TABLE1_ENCRYPTED_MS`). This module carries 10 real photos
(`app.resources.photos()`) through three pipelines, one photo at a time (the next starts when
the previous one was received), and prints the per-image times beside the paper's:

- **plain**: SecureCam's plain suite (`Suite.PLAIN`) through the real `Receiver` and a real
  `CameraSession`, driven by a small sender here so that the send start is ours to stamp;
- **the paper scheme**: the first design's scheme, reimplemented from its description by
  `InsecurePaperScheme`, over its own small WebSocket server and client;
- **noise**: SecureCam's Noise suite, the same pipeline as plain but encrypted.

THE PAPER SCHEME IS INSECURE. It exists only to be measured, it lives only in app/bench/, and
the receiver never accepts it (its first message is not a SecureCam hello). Everything printed
about it says "paper scheme (insecure, measurement only)" (`LABEL`). Its weaknesses, as
described and as implemented: one fixed AES-128 key and one fixed IV, compiled into every
device (`KEY`, `IV`), so anyone holding one device, or this file, reads every stream; every
block is CBC-encrypted from that same IV, so equal blocks give equal ciphertexts, across images
and across cameras; and nothing authenticates anything, so a changed byte changes the image
silently and old messages can be replayed.

The scheme, as implemented here (choices the description leaves open are marked *):

1. the JPEG is base64-encoded into text;
2. the text is cut into blocks of `BLOCK_CHARS` (200) characters, the last one shorter;
3. each block is padded with PKCS#7 to a multiple of 16 bytes and encrypted on its own with
   AES-128-CBC under `KEY` and `IV`: a fresh cipher per block, every block starting again from
   the same IV (that is what a fixed key and IV per block means);
4. * each ciphertext is base64-encoded again and sent as one WebSocket **text** message: the
   way an ESP32 sketch sends text (`sendTXT`) and Node.js decrypts it (`decipher.update(msg,
   'base64', 'utf8')`). A 200-character block becomes 208 bytes of ciphertext and a 280-character
   message, so the photo crosses the link as about 1.87x its JPEG size;
5. * after the last block, the sender sends the text message `END` (not encrypted): the
   description does not say how an image's end is marked, and one marker is the least it can
   cost;
6. the receiver decrypts each block as it arrives, checks and removes the padding, appends the
   text in order, and at `END` base64-decodes the whole text back into the JPEG. * It decodes
   as leniently as Node's `Buffer.from(text, 'base64')`: characters outside the base64
   alphabet are skipped, never an error, so a corrupted block yields a corrupted image, not a
   refusal.

* Neither side compresses (Node's `ws` does not by default) and neither sends WebSocket pings.

Timing. Every pipeline runs in this one process and reads `monotonic_us()`: a photo's time
runs from just before its first byte is encoded or sealed (the camera's work is part of
sending) to the receiver's completion, the `FrameArrived` frame's `timeline.decrypted_us` for
SecureCam and the instant `InsecurePaperServer` has the decoded JPEG for the paper scheme. Each
connection first carries one untimed warm-up photo. The 10-photo run is repeated
(`PaperSettings.repeats`), the pipelines taking turns, so machine noise falls on all three
alike; per image the report gives the median over the runs, per pipeline the p50 over every
sample, and encrypted / plain p50 for both designs, SecureCam plain being the plain baseline
of both (the same photos, over the same link, without encryption).

The window's comparison run (app/services/comparison.py) can add the paper scheme as a third
curve: `measure_frames` times the frames a camera sent during the run the same way, one at a
time over `Loopback`, on a thread and event loop of its own, never through the receiver.

The link is a parameter (`Transport`): `Loopback` here, the shaped 30 Mbit/s link of
app/bench/link.py when it is available (its `ShapedLink` has the same two methods). The goal,
SecureCam's encrypted / plain p50 at most `RATIO_TARGET` (1.03), is for that link only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import os
import socket
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.bench import BenchError
from app.bench.host import collecting
from app.bench.results import PaperImage, PaperPipeline, PaperResult
from app.bench.throughput import ReceiverWarnings
from app.protocol.clock import monotonic_us
from app.protocol.endpoints import camera_url
from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.records import Status
from app.protocol.session import CameraSession, Credentials
from app.receiver.events import FrameArrived, ReceiverEvent
from app.receiver.server import Receiver
from app.resources import photos

log = logging.getLogger(__name__)

LABEL = "paper scheme (insecure, measurement only)"

# -- the first design's scheme: INSECURE constants, for measurement only -------------------------

KEY = b"FIXED-KEY-AES128"  # INSECURE: one key for every device, in every copy of the code
IV = b"FIXED-IV-EVERYTM"  # INSECURE: the same IV for every block of every image
BLOCK_CHARS = 200  # base64 characters per block, one block per WebSocket message
END = "END"  # the (unencrypted) text message after an image's last block
PAPER_PATH = "/"

# -- the first design's Table 1: per image, start of sending -> decrypted, 30 Mbit/s link -------

TABLE1_PLAIN_MS = (2169, 203, 512, 756, 650, 924, 712, 618, 569, 878)
TABLE1_ENCRYPTED_MS = (4597, 5462, 5205, 4975, 4870, 5634, 4989, 4782, 5084, 4829)
TABLE1_LINK = "30 Mbit/s Wi-Fi"

RATIO_TARGET = 1.03  # SecureCam's encrypted / plain p50, on the 30 Mbit/s link
DEVICE = "paper-bench"
IMAGE_TIMEOUT_S = 60.0  # one photo, on the slowest link a run may use; a hang fails the run
_STATUS = Status(-55, FrameSize.VGA, 12, 25, 640, 480, 180_000, 3_900_000, 1, "paper-bench")
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(b for b in range(256) if b not in _B64_ALPHABET)


class InsecurePaperScheme:
    """The first design's cipher: AES-128-CBC, fixed key and IV, per 200-character block.

    INSECURE, for measurement only: see the module docstring. Sans-I/O: `seal` turns a JPEG
    into the messages to send, `open_block` turns one message back into its text.
    """

    def __init__(self, key: bytes = KEY, iv: bytes = IV, block_chars: int = BLOCK_CHARS) -> None:
        if len(key) != 16 or len(iv) != 16:
            raise ValueError("AES-128-CBC needs a 16-byte key and a 16-byte IV")
        self.key = key
        self.iv = iv
        self.block_chars = block_chars

    def blocks(self, jpeg: bytes) -> Iterator[bytes]:
        """The base64 text of `jpeg`, in blocks of `block_chars` characters."""
        text = base64.b64encode(jpeg)
        for start in range(0, len(text), self.block_chars):
            yield text[start : start + self.block_chars]

    def encrypt_block(self, block: bytes) -> str:
        """One block: PKCS#7, AES-128-CBC from the fixed IV, base64: one text message."""
        cipher = AES.new(self.key, AES.MODE_CBC, iv=self.iv)
        return base64.b64encode(cipher.encrypt(pad(block, AES.block_size))).decode("ascii")

    def seal(self, jpeg: bytes) -> Iterator[str]:
        """The messages for `jpeg`, each encrypted just before it is handed out (as the
        camera would, one block at a time), then `END`."""
        for block in self.blocks(jpeg):
            yield self.encrypt_block(block)
        yield END

    def open_block(self, message: str | bytes) -> bytes:
        """The text of one block. No integrity: any ciphertext of whole blocks decrypts.

        Raises:
            ValueError: if the message is not base64 of whole AES blocks, or the padding is
                wrong (Node's `decipher.final()` throws "bad decrypt" then).
        """
        cipher = AES.new(self.key, AES.MODE_CBC, iv=self.iv)
        return unpad(cipher.decrypt(base64.b64decode(message)), AES.block_size)


def lenient_b64decode(text: bytes) -> bytes:
    """Base64 text to bytes as Node's `Buffer.from(text, 'base64')` does: characters outside
    the alphabet (and '=') are skipped and a dangling character is dropped; never an error."""
    kept = text.translate(None, _NOT_B64)
    if len(kept) % 4 == 1:
        kept = kept[:-1]
    return base64.b64decode(kept + b"=" * (-len(kept) % 4))


# -- where the pipelines' sockets come from -----------------------------------------------------


class Transport(Protocol):
    """The link under test: a listening socket on the receiver's side, connected sockets from
    the camera's side (app/bench/link.py's `ShapedLink` is one; `Loopback` another)."""

    def listen(self) -> socket.socket: ...

    async def connect(self, port: int) -> socket.socket: ...


class Loopback:
    """127.0.0.1, unshaped: what the bench uses when no shaped link can be built."""

    HOST = "127.0.0.1"

    def listen(self) -> socket.socket:
        return socket.create_server((self.HOST, 0), backlog=64)

    async def connect(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (self.HOST, port))
        except BaseException:
            sock.close()
            raise
        return sock


def no_delay(sock: socket.socket) -> socket.socket:
    """`sock` with Nagle's algorithm off, as asyncio leaves every TCP socket it creates itself.

    asyncio turns TCP_NODELAY on only for sockets whose proto is IPPROTO_TCP: one made as
    `socket(AF_INET, SOCK_STREAM)` (proto 0) or by `socket.create_server` keeps Nagle, which
    with the peer's delayed ACKs holds a message's last segment back for 20-40 ms. Linux
    passes the option from a listening socket to the sockets it accepts.
    """
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _address(listener: socket.socket) -> tuple[str, int]:
    host, port = listener.getsockname()[:2]
    return str(host), int(port)


# -- the paper scheme's receiver and sender: INSECURE, for measurement only ---------------------


@dataclass(frozen=True, slots=True)
class ReceivedImage:
    """One image the paper scheme's receiver decrypted and reassembled."""

    jpeg: bytes
    done_us: int  # monotonic_us() when the JPEG was whole
    messages: int  # encrypted block messages it came in


class InsecurePaperServer:
    """The first design's receiver ("Node.js decrypting and reassembling"). INSECURE.

    Serves WebSocket connections on `sock`; every image it completes goes to `images`.
    A block that does not decrypt ends that connection (websockets closes it with 1011).
    """

    def __init__(self, sock: socket.socket, scheme: InsecurePaperScheme | None = None) -> None:
        self.sock = sock
        self.scheme = scheme or InsecurePaperScheme()
        self.images: asyncio.Queue[ReceivedImage] = asyncio.Queue()
        self._server: Server | None = None

    @property
    def address(self) -> tuple[str, int]:
        return _address(self.sock)

    async def start(self) -> None:
        """Serve on `sock`; a start that fails or is cancelled closes it."""
        try:
            self._server = await serve(
                self._handle, sock=self.sock, compression=None, ping_interval=None
            )
        except BaseException:
            self.sock.close()
            raise

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> InsecurePaperServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _handle(self, ws: ServerConnection) -> None:
        parts: list[bytes] = []
        try:
            async for message in ws:
                if message == END:
                    jpeg = lenient_b64decode(b"".join(parts))
                    self.images.put_nowait(ReceivedImage(jpeg, monotonic_us(), len(parts)))
                    parts = []
                else:
                    parts.append(self.scheme.open_block(message))
        except ValueError as exc:  # Node's decipher.final() throws "bad decrypt"
            log.warning("%s: a block did not decrypt: %s", LABEL, exc)
            await ws.close(1011, "bad decrypt")


class InsecurePaperClient:
    """The first design's camera side: sends each image as encrypted text blocks. INSECURE."""

    def __init__(self, ws: ClientConnection, scheme: InsecurePaperScheme | None = None) -> None:
        self.ws = ws
        self.scheme = scheme or InsecurePaperScheme()

    @classmethod
    @contextlib.asynccontextmanager
    async def connected(
        cls, transport: Transport, host: str, port: int, path: str = PAPER_PATH
    ) -> AsyncIterator[InsecurePaperClient]:
        sock = no_delay(await transport.connect(port))
        async with connect(
            f"ws://{host}:{port}{path}",
            sock=sock,
            compression=None,
            ping_interval=None,
            proxy=None,
            open_timeout=10,
            close_timeout=2,
        ) as ws:
            yield cls(ws)

    async def send_image(self, jpeg: bytes) -> tuple[int, int]:
        """Encrypt and send `jpeg` block by block, then `END`: (messages, payload bytes)."""
        messages = size = 0
        for message in self.scheme.seal(jpeg):
            await self.ws.send(message)
            messages += 1
            size += len(message)
        return messages, size


# -- the three pipelines ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pipeline:
    key: str  # the JSON name
    label: str  # what the report prints
    suite: Suite | None  # SecureCam's suite; None for the paper scheme


PLAIN = Pipeline("plain", "SecureCam plain suite (no encryption)", Suite.PLAIN)
PAPER = Pipeline("paper_insecure", LABEL, None)
NOISE = Pipeline("noise", "SecureCam Noise suite (encrypted)", Suite.NOISE)
PIPELINES = (PLAIN, PAPER, NOISE)


@dataclass(slots=True)
class RunOutcome:
    """One connection's run over the photos: what arrived, and how long each took."""

    pipeline: Pipeline
    times_us: list[int] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    messages: int = 0  # WebSocket messages carrying the timed photos
    payload_bytes: int = 0  # their payload bytes (no WebSocket or TCP framing)


Sender = Callable[[bytes], Awaitable[tuple[bytes, int, int, int]]]


Progress = Callable[[int, int], None]  # (photos done, photos in all)


async def _timed(
    outcome: RunOutcome, send: Sender, jpegs: Sequence[bytes], progress: Progress | None = None
) -> RunOutcome:
    """Send the first photo untimed (warm-up), then each photo in turn, waiting for each."""
    await send(jpegs[0])
    for jpeg in jpegs:
        received, elapsed_us, messages, size = await send(jpeg)
        outcome.times_us.append(elapsed_us)
        outcome.received.append(received)
        outcome.messages += messages
        outcome.payload_bytes += size
        if progress is not None:
            progress(len(outcome.times_us), len(jpegs))
    return outcome


async def run_paper_scheme(
    transport: Transport, jpegs: Sequence[bytes], progress: Progress | None = None
) -> RunOutcome:
    """The photos through `InsecurePaperServer` and `InsecurePaperClient` (INSECURE)."""
    async with InsecurePaperServer(no_delay(transport.listen())) as server:
        host, port = server.address
        async with InsecurePaperClient.connected(transport, host, port) as client:

            async def send(jpeg: bytes) -> tuple[bytes, int, int, int]:
                start_us = monotonic_us()
                messages, size = await client.send_image(jpeg)
                async with asyncio.timeout(IMAGE_TIMEOUT_S):
                    image = await server.images.get()
                return image.jpeg, image.done_us - start_us, messages, size

            return await _timed(RunOutcome(PAPER), send, jpegs, progress)


class _Camera:
    """A real `CameraSession` over a websockets client, sending when told (no capture loop)."""

    def __init__(self, ws: ClientConnection, session: CameraSession) -> None:
        self.ws = ws
        self.session = session
        self.seq = 0
        # Every message used the next nonce when it was sealed: drain and send under one lock.
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    async def _send_pending(self) -> list[bytes]:
        messages = self.session.data_to_send()
        for message in messages:
            await self.ws.send(message)
        return messages

    async def handshake(self) -> None:
        self.session.start()
        await self._send_pending()
        async with asyncio.timeout(10):
            answer = await self.ws.recv()
        if isinstance(answer, str):
            raise BenchError("the receiver answered the hello with text")
        self.session.receive(answer)
        self.session.send_status(_STATUS)  # the first record confirms the session
        await self._send_pending()
        self._reader = asyncio.create_task(self._read(), name="paper bench camera reader")

    async def _read(self) -> None:
        """Answer the receiver's pings (clock sync), as a camera does."""
        with contextlib.suppress(ConnectionClosed):
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.session.receive(message)
                    async with self._lock:
                        await self._send_pending()

    async def send(self, jpeg: bytes) -> tuple[int, int]:
        """Seal and send one frame: (its messages, their payload bytes)."""
        async with self._lock:
            await self._send_pending()  # a pong sealed before this frame goes first
            self.seq += 1
            self.session.send_frame(jpeg, self.seq, self.session.clock_source())
            messages = await self._send_pending()
        return len(messages), sum(map(len, messages))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.session.can_send:
            self.session.close(CloseCode.NORMAL, "bench done")
            with contextlib.suppress(ConnectionClosed):
                await self._send_pending()
        await self.ws.close()


async def run_securecam(
    pipeline: Pipeline, transport: Transport, jpegs: Sequence[bytes]
) -> RunOutcome:
    """The photos through the real `Receiver` and a real `CameraSession` in `pipeline.suite`."""
    assert pipeline.suite is not None
    psk = os.urandom(32)
    registry = {DEVICE: Credentials(DEVICE, psk, allow_plain=True)}
    listener = no_delay(transport.listen())
    host, port = _address(listener)
    receiver = Receiver(registry.get, sock=listener)
    arrived: asyncio.Queue[FrameArrived] = asyncio.Queue()

    def on_event(event: ReceiverEvent) -> None:
        if isinstance(event, FrameArrived):
            arrived.put_nowait(event)

    receiver.add_listener(on_event)
    await receiver.start()
    try:
        sock = no_delay(await transport.connect(port))
        async with connect(
            camera_url(host, port),
            sock=sock,
            compression=None,
            max_size=65535,
            ping_interval=None,
            proxy=None,
            open_timeout=10,
            close_timeout=2,
        ) as ws:
            camera = _Camera(ws, CameraSession(DEVICE, psk, pipeline.suite))
            await camera.handshake()

            async def send(jpeg: bytes) -> tuple[bytes, int, int, int]:
                start_us = monotonic_us()
                messages, size = await camera.send(jpeg)
                async with asyncio.timeout(IMAGE_TIMEOUT_S):
                    frame = (await arrived.get()).frame
                return frame.jpeg, frame.timeline.decrypted_us - start_us, messages, size

            try:
                return await _timed(RunOutcome(pipeline), send, jpegs)
            finally:
                await camera.close()
    finally:
        await receiver.stop()


async def run_once(
    pipeline: Pipeline,
    transport: Transport,
    jpegs: Sequence[bytes],
    progress: Progress | None = None,
) -> RunOutcome:
    """One connection of `pipeline` carrying `jpegs`; raises BenchError if one came out wrong.

    `progress(done, total)` is called after each timed photo of the paper scheme.

    Raises:
        BenchError: if a photo arrived different from what was sent, or not within
            IMAGE_TIMEOUT_S, or the connection failed.
    """
    try:
        if pipeline is PAPER:
            outcome = await run_paper_scheme(transport, jpegs, progress)
        else:
            outcome = await run_securecam(pipeline, transport, jpegs)
    except (TimeoutError, ConnectionClosed, OSError) as exc:
        raise BenchError(f"{pipeline.label}: {type(exc).__name__}: {exc}") from exc
    for index, (sent, got) in enumerate(zip(jpegs, outcome.received, strict=True), 1):
        if got != sent:
            raise BenchError(f"{pipeline.label}: photo {index} arrived different from the one sent")
    return outcome


async def measure_frames(
    jpegs: Sequence[bytes],
    transport: Transport | None = None,
    progress: Progress | None = None,
) -> list[int]:
    """Each of `jpegs` through the paper scheme (INSECURE), for the window's comparison run.

    The frames a camera sent during the run (app/services/comparison.py) go one at a time,
    after an untimed warm-up, through `InsecurePaperServer` and `InsecurePaperClient` on
    their own sockets over `transport` (default: `Loopback`): never through the receiver, never
    to a camera. Returns, per frame in order, the µs from the start of its sending to decrypted
    and reassembled. Every frame is checked to come back bit for bit.

    Raises:
        BenchError: if a frame arrived different from what was sent, or not within
            IMAGE_TIMEOUT_S, or the connection failed.
    """
    if not jpegs:
        return []
    outcome = await run_once(PAPER, transport or Loopback(), jpegs, progress)
    return outcome.times_us


# -- the section --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaperSettings:
    repeats: int = 5  # 10-photo runs per pipeline, taking turns

    @classmethod
    def quick(cls) -> PaperSettings:
        return cls(repeats=2)


def _ms(us: float) -> float:
    return round(us / 1000, 3)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


def table1_ratio() -> float:
    """The paper's own encrypted / plain p50, from its Table 1."""
    return round(statistics.median(TABLE1_ENCRYPTED_MS) / statistics.median(TABLE1_PLAIN_MS), 3)


def summarize(
    outcomes: Sequence[RunOutcome],
    names: Sequence[str],
    jpegs: Sequence[bytes],
    link: str,
    on_paper_link: bool,
) -> PaperResult:
    """The section's result from every run of every pipeline."""
    runs = {p.key: [o for o in outcomes if o.pipeline is p] for p in PIPELINES}
    per_image = {
        key: [statistics.median(o.times_us[i] for o in done) for i in range(len(jpegs))]
        for key, done in runs.items()
    }
    images = []
    for i, (name, jpeg) in enumerate(zip(names, jpegs, strict=True)):
        width, height = Image.open(io.BytesIO(jpeg)).size
        images.append(
            PaperImage(
                name=name,
                width=width,
                height=height,
                bytes=len(jpeg),
                plain_ms=_ms(per_image[PLAIN.key][i]),
                paper_insecure_ms=_ms(per_image[PAPER.key][i]),
                noise_ms=_ms(per_image[NOISE.key][i]),
                table1_plain_ms=TABLE1_PLAIN_MS[i] if i < len(TABLE1_PLAIN_MS) else None,
                table1_encrypted_ms=TABLE1_ENCRYPTED_MS[i] if i < len(TABLE1_PLAIN_MS) else None,
            )
        )
    pipelines = []
    p50: dict[str, float] = {}
    for pipeline in PIPELINES:
        done = runs[pipeline.key]
        samples = sorted(t for o in done for t in o.times_us)
        p50[pipeline.key] = statistics.median(samples)
        pipelines.append(
            PaperPipeline(
                key=pipeline.key,
                label=pipeline.label,
                runs=len(done),
                samples=len(samples),
                p50_ms=_ms(p50[pipeline.key]),
                min_ms=_ms(samples[0]),
                max_ms=_ms(samples[-1]),
                messages_per_run=done[0].messages,
                payload_bytes_per_run=done[0].payload_bytes,
                samples_ms=[[_ms(t) for t in o.times_us] for o in done],
            )
        )
    securecam = _ratio(p50[NOISE.key], p50[PLAIN.key])
    return PaperResult(
        link=link,
        on_paper_link=on_paper_link,
        table1_link=TABLE1_LINK,
        photo_bytes=sum(map(len, jpegs)),
        images=images,
        pipelines=pipelines,
        securecam_ratio=securecam,
        paper_scheme_ratio=_ratio(p50[PAPER.key], p50[PLAIN.key]),
        table1_ratio=table1_ratio(),
        ratio_target=RATIO_TARGET,
        ratio_target_met=None
        if securecam is None or not on_paper_link
        else securecam <= RATIO_TARGET,
    )


async def run_paper(
    settings: PaperSettings,
    transport: Transport | None = None,
    *,
    link: str = "loopback 127.0.0.1, unshaped",
    on_paper_link: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PaperResult:
    """Every pipeline `settings.repeats` times over `transport` (default: `Loopback`).

    `link` describes the transport for the report; `on_paper_link` says it is the first
    design's 30 Mbit/s link, where the ratio goal applies.

    Raises:
        BenchError: if a pipeline could not deliver every photo intact.
    """
    say = progress or (lambda _: None)
    transport = transport or Loopback()
    named = photos()
    if not named:
        raise BenchError("no photos packaged in app/resources/photos")
    names = [name for name, _ in named]
    jpegs = [jpeg for _, jpeg in named]
    outcomes: list[RunOutcome] = []
    warnings = ReceiverWarnings()
    with collecting(warnings):
        for repeat in range(1, settings.repeats + 1):
            for pipeline in PIPELINES:
                say(f"paper: run {repeat}/{settings.repeats}, {pipeline.label}, over {link}")
                outcomes.append(await run_once(pipeline, transport, jpegs))
    result = summarize(outcomes, names, jpegs, link, on_paper_link)
    result.warnings = warnings.messages[:20]
    return result
