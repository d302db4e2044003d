"""Decoding off the UI thread: right pixels, fast libjpeg scales, latest frame wins."""

import pytest

from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.timeline import Frame, FrameTimeline
from app.services.decoder import FrameDecoder, decode
from app.sim.sources import PrerenderedSource
from tests.waiting import wait_until

SOURCE = PrerenderedSource.synthetic(FrameSize.VGA, count=3)


def frame(seq: int, device: str = "cam") -> Frame:
    data = SOURCE.frames[seq % 3]
    return Frame(
        device, seq, data, FrameTimeline(device, Suite.NOISE, seq, len(data), 0, 0, 0, 0, 0)
    )


@pytest.mark.parametrize(
    ("box", "decoded"),
    [
        ((0, 0), (640, 480)),
        ((640, 480), (640, 480)),
        ((400, 300), (640, 480)),
        ((326, 158), (320, 240)),
        ((319, 239), (320, 240)),
        ((100, 60), (80, 60)),
    ],
)
def test_decodes_at_the_smallest_fast_scale_that_fills_the_box(qapp, box, decoded):
    result = decode(frame(1), *box)
    assert (result.image.width(), result.image.height()) == decoded
    assert (result.width, result.height) == (640, 480)
    assert result.frame.timeline.decoded_us is not None


def test_decoded_pixels_match_an_independent_decoder(qapp):
    from io import BytesIO

    from PIL import Image

    result = decode(frame(1))
    reference = Image.open(BytesIO(SOURCE.frames[1])).convert("RGB")
    for x, y in ((10, 10), (320, 240), (600, 400)):
        colour = result.image.pixelColor(x, y)
        expected = reference.getpixel((x, y))
        assert (
            max(
                abs(a - b)
                for a, b in zip(
                    (colour.red(), colour.green(), colour.blue()), expected, strict=True
                )
            )
            < 24
        )


async def test_a_busy_decoder_keeps_only_the_newest_waiting_frame(qapp):
    done = []
    decoder = FrameDecoder(done.append, workers=1)
    for seq in range(1, 6):
        decoder.submit(frame(seq))  # 1 starts at once; 2..5 replace each other while it runs
    await wait_until(lambda: len(done) == 2)
    decoder.close()
    assert [d.frame.seq for d in done] == [1, 5]
    assert decoder.dropped == 3


async def test_a_corrupt_frame_is_counted_not_fatal(qapp, caplog):
    done = []
    decoder = FrameDecoder(done.append)
    bad = Frame(
        "cam", 1, b"\xff\xd8not a jpeg", FrameTimeline("cam", Suite.NOISE, 1, 10, 0, 0, 0, 0, 0)
    )
    decoder.submit(bad)
    decoder.submit(frame(2, device="other"))
    await wait_until(lambda: decoder.failed and done)
    decoder.close()
    assert decoder.failed == 1 and [d.frame.seq for d in done] == [2]
    assert "cannot decode a frame from cam" in caplog.text
