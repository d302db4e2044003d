"""FrameTimeline's latency arithmetic: stages, capture-to-X latencies, what is unknown when."""

import pytest

from app.protocol.hello import Suite
from app.protocol.timeline import FrameTimeline, Mark, Stage

OFFSET = 1_000_000  # device clock minus app clock


def timeline(**changes) -> FrameTimeline:
    """Captured at app time 10,000 µs; sent 5 ms later, last byte 12 ms after that, and so on."""
    values = {
        "device": "cam",
        "suite": Suite.NOISE,
        "seq": 1,
        "size": 100,
        "device_capture_us": 10_000 + OFFSET,
        "device_send_us": 15_000 + OFFSET,
        "first_rx_us": 20_000,
        "last_rx_us": 27_000,
        "decrypted_us": 27_400,
        "clock_offset_us": OFFSET,
        "decoded_us": 30_400,
        "painted_us": 41_400,
    }
    return FrameTimeline(**(values | changes))


def test_stages_in_pipeline_order_sum_to_capture_to_painted():
    t = timeline()
    assert t.stages_ms() == {
        Stage.DEVICE: 5.0,
        Stage.NETWORK: 12.0,
        Stage.DECRYPT: 0.4,
        Stage.DECODE: 3.0,
        Stage.PAINT: 11.0,
    }
    assert list(t.stages_ms()) == list(Stage)
    assert sum(t.stages_ms().values()) == pytest.approx(t.to_painted_ms)
    assert [t.stage_ms(stage) for stage in Stage] == [
        t.device_ms,
        t.network_ms,
        t.decrypt_ms,
        t.decode_ms,
        t.paint_ms,
    ]
    assert (t.transit_ms, t.receive_ms) == (5.0, 7.4)  # send → first byte → decrypted


def test_capture_to_each_mark():
    t = timeline()
    assert (t.capture_us, t.sent_us) == (10_000, 15_000)
    assert [t.latency_to(mark) for mark in Mark] == [17.4, 20.4, 31.4]
    assert (t.to_decrypted_ms, t.to_decoded_ms, t.to_painted_ms) == (17.4, 20.4, 31.4)
    assert t.latency_ms(t.decrypted_us) == 17.4
    assert [t.mark_us(mark) for mark in Mark] == [27_400, 30_400, 41_400]


def test_without_the_clock_offset_only_app_side_and_device_side_stages_are_known():
    t = timeline(clock_offset_us=None)
    assert t.capture_us is None and t.sent_us is None
    assert t.network_ms is None and t.transit_ms is None
    assert all(t.latency_to(mark) is None for mark in Mark)
    assert (t.device_ms, t.decrypt_ms, t.decode_ms, t.paint_ms) == (5.0, 0.4, 3.0, 11.0)


def test_a_frame_not_decoded_or_painted_yet():
    t = timeline(decoded_us=None, painted_us=None)
    assert t.decode_ms is None and t.paint_ms is None
    assert t.to_painted_ms is None and t.to_decoded_ms is None
    assert t.to_shown_ms == t.to_decrypted_ms == 17.4  # a tile shows decrypted until painted
    t.decoded_us, t.painted_us = 30_400, 41_400
    assert t.to_shown_ms == 31.4


def test_a_latency_may_read_below_zero_by_the_clock_error():
    # The offset is estimated: an error larger than the true latency makes it negative.
    t = timeline(clock_offset_us=OFFSET - 20_000, clock_error_us=25_000)
    assert t.to_decrypted_ms == pytest.approx(-2.6)
    assert t.to_decrypted_ms * 1000 >= -t.clock_error_us
