"""The Table 1 reproduction: the first design's INSECURE scheme as described, and three pipelines.

The scheme is tested for being faithful, weaknesses included: it must round-trip every photo,
give the same ciphertext for the same block every time, and turn a changed byte into a silently
wrong image. The receiver must refuse it. No test here asserts how fast anything ran.
"""

import ast
import asyncio
import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.bench import paper
from app.bench.paper import (
    IV,
    KEY,
    LABEL,
    NOISE,
    PIPELINES,
    InsecurePaperClient,
    InsecurePaperScheme,
    InsecurePaperServer,
    Loopback,
    PaperSettings,
    lenient_b64decode,
    no_delay,
    run_once,
    run_paper,
)
from app.bench.report import render_paper
from app.bench.results import PaperResult, from_json, to_json
from app.protocol.endpoints import CAMERA_PATH
from app.protocol.errors import CloseCode
from app.protocol.framesize import FrameSize
from app.protocol.session import Credentials
from app.receiver.events import ConnectionRejected, ReceiverEvent
from app.receiver.server import Receiver
from app.resources import PHOTOS, photos, resource
from tests.waiting import scaled, wait_until

PHOTOS_LIST = photos()
JPEGS = [jpeg for _, jpeg in PHOTOS_LIST]
ALLOWED_LICENCES = ("public domain", "CC0 1.0", "CC BY 4.0")


class RecordingTransport:
    """Loopback, noting each call: proves a pipeline takes its sockets from the transport."""

    def __init__(self) -> None:
        self.inner = Loopback()
        self.calls: list[str] = []

    def listen(self):
        self.calls.append("listen")
        return self.inner.listen()

    async def connect(self, port: int):
        self.calls.append(f"connect {port}")
        return await self.inner.connect(port)


async def paper_server() -> InsecurePaperServer:
    server = InsecurePaperServer(no_delay(Loopback().listen()))
    await server.start()
    return server


async def next_image(server: InsecurePaperServer) -> bytes:
    return (await asyncio.wait_for(server.images.get(), scaled(10))).jpeg


def flip(message: str, byte: int) -> str:
    """`message` with one bit of its `byte`-th ciphertext byte flipped."""
    ciphertext = bytearray(base64.b64decode(message))
    ciphertext[byte] ^= 0x01
    return base64.b64encode(ciphertext).decode("ascii")


# -- the photos ------------------------------------------------------------------------------


def test_ten_packaged_photos_at_camera_frame_sizes_each_with_its_source_and_licence():
    readme = resource(PHOTOS).joinpath("README.md").read_text(encoding="utf-8")
    sizes = {(size.width, size.height) for size in FrameSize}
    assert len(PHOTOS_LIST) == 10
    for name, jpeg in PHOTOS_LIST:
        image = Image.open(io.BytesIO(jpeg))
        assert image.format == "JPEG"
        assert image.size in sizes and image.width >= 640 and image.height >= 480, name
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")]
        assert any(licence in row for licence in ALLOWED_LICENCES), row
        assert f"{len(jpeg):,}" in row  # the README's byte count is this file's
    assert sum(map(len, JPEGS)) < 1_500_000


# -- the scheme, as described: INSECURE ------------------------------------------------------


async def test_the_paper_scheme_round_trips_every_photo_bit_exact_over_websockets():
    server = await paper_server()
    try:
        host, port = server.address
        async with InsecurePaperClient.connected(Loopback(), host, port) as client:
            for jpeg in JPEGS:
                messages, size = await client.send_image(jpeg)
                assert await next_image(server) == jpeg
                # 200 base64 characters per block, one text message each, then END.
                blocks = -(-len(base64.b64encode(jpeg)) // 200)
                assert messages == blocks + 1
                assert size > 1.8 * len(jpeg)  # base64, padding, base64 again
    finally:
        await server.stop()


def test_the_same_block_gives_the_same_ciphertext_every_time_a_documented_weakness():
    """Fixed key, fixed IV, every block from the same IV: repeats show through the cipher."""
    scheme = InsecurePaperScheme()
    first, second = JPEGS[0], JPEGS[1]
    assert scheme.encrypt_block(b"A" * 200) == scheme.encrypt_block(b"A" * 200)
    # Sending the same photo twice puts the very same messages on the wire.
    assert list(scheme.seal(first)) == list(scheme.seal(first))
    # Two different photos whose first 150 bytes agree (the same JPEG header and quantisation
    # tables) start with the same ciphertext: an eavesdropper sees what they share.
    assert first[:150] == second[:150] and first != second
    assert next(scheme.seal(first)) == next(scheme.seal(second))
    # And anyone with this module's constants reads every message of every camera.
    message = next(scheme.seal(first))
    assert InsecurePaperScheme(KEY, IV).open_block(message) == base64.b64encode(first)[:200]


async def test_a_flipped_ciphertext_byte_silently_corrupts_the_image_without_any_error():
    """No integrity: the receiver decrypts, reassembles and hands over a wrong JPEG."""
    photo, after = JPEGS[0], JPEGS[1]
    messages = list(InsecurePaperScheme().seal(photo))
    tampered_index = 10
    messages[tampered_index] = flip(messages[tampered_index], 5)
    server = await paper_server()
    try:
        host, port = server.address
        async with connect(f"ws://{host}:{port}/", compression=None) as ws:
            for message in messages:
                await ws.send(message)
            corrupted = await next_image(server)
            # The connection carries on as if nothing happened: the next photo goes through.
            for message in InsecurePaperScheme().seal(after):
                await ws.send(message)
            assert await next_image(server) == after
    finally:
        await server.stop()
    assert corrupted != photo
    intact = tampered_index * 150  # JPEG bytes carried by the blocks before the tampered one
    assert corrupted[:intact] == photo[:intact]
    assert corrupted[intact : intact + 150] != photo[intact : intact + 150]


async def test_a_paper_server_cancelled_while_starting_closes_its_socket():
    server = InsecurePaperServer(no_delay(Loopback().listen()))
    starting = asyncio.create_task(server.start())
    await asyncio.sleep(0)  # the start is under way, waiting inside the event loop's server
    assert not starting.done()
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert server.sock.fileno() == -1


def test_lenient_decoding_skips_what_is_not_base64_as_node_does():
    assert lenient_b64decode(b"aGVs\xff\x00bG8=") == b"hello"
    assert lenient_b64decode(b"aGVsbG8") == b"hello"  # unpadded
    assert lenient_b64decode(b"aGVsbG8hx") == b"hello!"  # a dangling character is dropped


@pytest.mark.parametrize(
    ("as_bytes", "code"),
    [(False, CloseCode.UNSUPPORTED_DATA), (True, CloseCode.BAD_HELLO)],
    ids=["text, as the scheme sends it", "the same ciphertext as binary"],
)
async def test_the_receiver_refuses_a_paper_scheme_client(as_bytes, code):
    psk = bytes(32)
    registry = {"cam": Credentials("cam", psk, allow_plain=True)}
    receiver = Receiver(registry.get, sock=Loopback().listen())
    events: list[ReceiverEvent] = []
    receiver.add_listener(events.append)
    await receiver.start()
    try:
        host = "127.0.0.1"
        async with InsecurePaperClient.connected(
            Loopback(), host, receiver.port, path=CAMERA_PATH
        ) as client:
            first = next(client.scheme.seal(JPEGS[0]))
            await client.ws.send(base64.b64decode(first) if as_bytes else first)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(client.ws.recv(), scaled(10))
            assert client.ws.close_code == code
        await wait_until(lambda: any(isinstance(e, ConnectionRejected) for e in events), 10)
    finally:
        await receiver.stop()
    (rejected,) = [e for e in events if isinstance(e, ConnectionRejected)]
    assert rejected.code == code and rejected.device is None
    assert receiver.stats == {}  # no device, no frame


# -- the three pipelines ---------------------------------------------------------------------


@pytest.mark.parametrize("pipeline", PIPELINES, ids=[p.key for p in PIPELINES])
async def test_each_pipeline_delivers_all_ten_photos_bit_exact_over_the_transport(pipeline):
    transport = RecordingTransport()
    outcome = await run_once(pipeline, transport, JPEGS)
    assert outcome.received == JPEGS
    assert len(outcome.times_us) == len(JPEGS) and all(t > 0 for t in outcome.times_us)
    assert transport.calls[0] == "listen" and re.fullmatch(r"connect \d+", transport.calls[1])
    assert len(transport.calls) == 2
    if pipeline is NOISE:  # encrypted: the JPEG bytes are not on the wire as they are
        assert outcome.payload_bytes > sum(map(len, JPEGS))


async def test_the_section_and_its_progress_label_the_scheme_insecure_on_every_line():
    progress: list[str] = []
    result = await run_paper(PaperSettings(repeats=1), progress=progress.append)
    lines = progress + render_paper(result)
    mentions = [line for line in lines if "scheme" in line]
    assert mentions and all(LABEL in line for line in mentions)
    assert any(LABEL in line for line in render_paper(result)[:8])  # the table's header
    assert [p.label for p in result.pipelines if p.key == "paper_insecure"] == [LABEL]
    assert result.ratio_target_met is None  # loopback: the goal is for the 30 Mbit/s link
    assert result.table1_ratio == pytest.approx(4982 / 681, abs=0.001)
    assert from_json(PaperResult, to_json(result)) == result  # what --json saves reads back
    # In code too: the module and its classes say so.
    assert "INSECURE" in (paper.__doc__ or "")
    for cls in (InsecurePaperScheme, InsecurePaperServer, InsecurePaperClient):
        assert "INSECURE" in (cls.__doc__ or ""), cls


async def test_measure_frames_times_each_frame_once_checked_bit_exact_with_progress():
    progress: list[tuple[int, int]] = []
    frames = JPEGS[:3]
    times = await paper.measure_frames(frames, progress=lambda *p: progress.append(p))
    assert len(times) == 3 and all(t > 0 for t in times)
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert await paper.measure_frames([]) == []


def test_outside_the_bench_only_the_windows_comparison_uses_the_paper_scheme_and_lazily():
    app = Path(__file__).resolve().parents[2] / "app"
    users = [
        path.relative_to(app).as_posix()
        for path in app.rglob("*.py")
        if path.parent.name != "bench"
        and re.search(
            r"app\.bench\.paper|from app\.bench import paper|InsecurePaper",
            path.read_text(encoding="utf-8"),
        )
    ]
    assert users == ["services/comparison.py"]
    # Imported inside a function only: the window loads the INSECURE scheme when asked to.
    tree = ast.parse((app / users[0]).read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [alias.name for n in top for alias in n.names]
    modules = [n.module for n in top if isinstance(n, ast.ImportFrom)]
    assert "app.bench.paper" not in names + modules and "paper" not in names
