"""Clock offset from ping/pong round trips with a minimum-RTT filter."""

from hypothesis import given, settings
from hypothesis import strategies as st

from app.protocol.clock import ClockSample, ClockSync
from app.protocol.hello import Suite
from app.protocol.timeline import FrameTimeline

TRUE_OFFSET = 1_000_000  # the remote clock runs one second ahead of ours


def _round_trip(t0: int, out_delay: int, back_delay: int, offset: int = TRUE_OFFSET):
    """Local send time, remote answer time and local receive time of one round trip."""
    remote = t0 + out_delay + offset
    t1 = t0 + out_delay + back_delay
    return t0, remote, t1


def test_new_clock_knows_no_offset_or_error_bound():
    clock = ClockSync()
    assert clock.offset_us is None
    assert clock.error_bound_us is None
    assert clock.samples == 0


def test_offset_is_remote_time_minus_the_midpoint_of_the_round_trip():
    clock = ClockSync()
    sample = clock.add(10_000, 1_020_000, 10_400)
    assert sample == ClockSample(rtt_us=400, offset_us=1_020_000 - 10_200)
    assert clock.offset_us == 1_009_800
    assert clock.error_bound_us == 200
    assert clock.samples == 1


def test_symmetric_delays_give_the_exact_offset():
    clock = ClockSync()
    clock.add(*_round_trip(5_000, 150, 150))
    assert clock.offset_us == TRUE_OFFSET


def test_asymmetric_delays_give_an_estimate_within_half_the_rtt():
    clock = ClockSync()
    sample = clock.add(*_round_trip(0, 100, 300))  # t0=0, remote=1,000,100, t1=400
    assert sample is not None
    assert sample.rtt_us == 400
    assert sample.offset_us == 999_900
    assert abs(clock.offset_us - TRUE_OFFSET) <= clock.error_bound_us == 200


def test_all_asymmetry_one_way_still_stays_within_half_the_rtt():
    for out_delay, back_delay in [(0, 1000), (1000, 0)]:
        clock = ClockSync()
        clock.add(*_round_trip(77, out_delay, back_delay))
        assert abs(clock.offset_us - TRUE_OFFSET) == 500 == clock.error_bound_us


def test_offset_may_be_negative_when_the_remote_clock_is_behind():
    clock = ClockSync()
    clock.add(*_round_trip(2_000_000, 50, 50, offset=-1_500_000))
    assert clock.offset_us == -1_500_000


def test_the_minimum_rtt_sample_wins():
    clock = ClockSync()
    clock.add(*_round_trip(0, 400, 100))  # rtt 500, off by 150
    clock.add(*_round_trip(1_000, 30, 10))  # rtt 40, off by 10
    clock.add(*_round_trip(2_000, 900, 900))  # rtt 1800, exact
    assert clock.error_bound_us == 20
    assert clock.offset_us == TRUE_OFFSET + 10
    assert clock.samples == 3


def test_a_later_sample_with_equal_rtt_replaces_the_best():
    clock = ClockSync()
    clock.add(0, 100, 10)
    clock.add(100, 300, 110)
    assert clock.offset_us == 300 - 105


def test_window_eviction_of_the_best_recomputes_from_the_remaining_samples():
    clock = ClockSync(window=3)
    clock.add(0, 1_000_005, 10)  # rtt 10: best
    clock.add(100, 1_000_150, 150)  # rtt 50
    clock.add(200, 1_000_222, 240)  # rtt 40
    assert clock.error_bound_us == 5
    clock.add(300, 1_000_330, 360)  # rtt 60, evicts the rtt-10 sample
    assert clock.samples == 3
    assert clock.error_bound_us == 20
    assert clock.offset_us == 1_000_222 - 220


def test_window_eviction_of_a_worse_sample_keeps_the_best():
    clock = ClockSync(window=2)
    clock.add(0, 500, 100)  # rtt 100
    clock.add(1_000, 1_600, 1_010)  # rtt 10: best
    clock.add(2_000, 2_700, 2_050)  # rtt 50, evicts the rtt-100 sample
    assert clock.error_bound_us == 5
    assert clock.offset_us == 1_600 - 1_005


def test_eviction_by_a_new_better_sample_makes_the_new_one_best():
    clock = ClockSync(window=1)
    clock.add(0, 500, 100)
    clock.add(1_000, 2_000, 1_020)
    assert (clock.offset_us, clock.error_bound_us, clock.samples) == (2_000 - 1_010, 10, 1)


def test_a_negative_rtt_is_ignored():
    clock = ClockSync()
    clock.add(0, 1_000_050, 100)
    assert clock.add(500, 9_999_999, 499) is None
    assert clock.samples == 1
    assert clock.offset_us == 1_000_000
    assert clock.error_bound_us == 50


def test_a_negative_rtt_on_an_empty_clock_leaves_it_unknown():
    clock = ClockSync()
    assert clock.add(10, 0, 9) is None
    assert clock.offset_us is None
    assert clock.samples == 0


def test_a_zero_rtt_is_a_perfect_sample():
    clock = ClockSync()
    clock.add(0, 1_000, 100)
    sample = clock.add(200, 1_234, 200)
    assert sample == ClockSample(0, 1_034)
    assert (clock.offset_us, clock.error_bound_us) == (1_034, 0)


def test_error_bound_rounds_half_the_rtt_down():
    clock = ClockSync()
    clock.add(0, 0, 7)
    assert clock.error_bound_us == 3


def test_default_window_holds_32_samples():
    clock = ClockSync()
    for i in range(40):
        clock.add(i * 1000, i * 1000, i * 1000 + 100)
    assert clock.samples == 32


round_trips = st.lists(
    st.tuples(st.integers(0, 10**9), st.integers(0, 50_000), st.integers(0, 50_000)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8), round_trips, st.integers(-(10**12), 10**12))
def test_best_is_always_a_minimum_rtt_sample_of_the_window_and_bounds_the_error(
    window, trips, offset
):
    clock = ClockSync(window=window)
    added = []
    for t0, out_delay, back_delay in trips:
        sample = clock.add(*_round_trip(t0, out_delay, back_delay, offset))
        assert sample is not None
        added.append(sample)
        recent = added[-window:]
        best_rtt = min(s.rtt_us for s in recent)
        assert clock.samples == len(recent)
        assert clock.error_bound_us == best_rtt // 2
        assert clock.offset_us in {s.offset_us for s in recent if s.rtt_us == best_rtt}
        # the estimate is never further from the truth than half its RTT (plus rounding)
        assert abs(clock.offset_us - offset) <= best_rtt / 2 + 1


@settings(max_examples=200, deadline=None)
@given(round_trips, st.integers(-(10**12), 10**12), st.integers(0, 10**6))
def test_a_latency_placed_with_the_estimate_is_off_by_at_most_the_error_bound(
    trips, offset, latency_us
):
    """Why latency tests assert `>= -error bound`, not `>= 0`: the offset is known to ±RTT/2.

    A frame captured at local time C and decrypted `latency_us` later gets its capture placed
    with the estimated offset; the figure can be short by the bound (plus rounding), so a
    small true latency on a link with a long best RTT can come out below zero.
    """
    clock = ClockSync()
    for t0, out_delay, back_delay in trips:
        clock.add(*_round_trip(t0, out_delay, back_delay, offset))
    capture = 7_000_000  # local clock
    decrypted = capture + latency_us
    timeline = FrameTimeline(
        "cam", Suite.NOISE, 1, 100, capture + offset, capture + offset, decrypted, decrypted,
        decrypted, clock_offset_us=clock.offset_us,
    )  # fmt: skip
    bound_us = clock.error_bound_us + 1  # +1 µs: the midpoint's integer rounding
    assert timeline.capture_us is not None
    assert abs((timeline.decrypted_us - timeline.capture_us) - latency_us) <= bound_us
    assert timeline.latency_ms(timeline.decrypted_us) >= -bound_us / 1000
