"""The failed-login limiter: a sliding window per key, bounded in size."""

from __future__ import annotations

from app.share.limits import FailureLimiter


def test_a_key_may_fail_the_allowed_number_of_times_then_waits_for_the_window() -> None:
    limiter = FailureLimiter(3, 60.0)
    for t in (0.0, 1.0, 2.0):
        assert limiter.retry_after("a", t) == 0.0
        limiter.failed("a", t)
    assert limiter.retry_after("a", 3.0) == 57.0
    assert limiter.retry_after("b", 3.0) == 0.0  # other keys are unaffected
    assert limiter.retry_after("a", 60.0) == 0.0  # the oldest failure left the window


def test_a_success_clears_the_key() -> None:
    limiter = FailureLimiter(1, 60.0)
    limiter.failed("a", 0.0)
    assert limiter.retry_after("a", 1.0) > 0
    limiter.succeeded("a")
    assert limiter.retry_after("a", 1.0) == 0.0


def test_a_flood_of_keys_keeps_only_the_most_recent() -> None:
    limiter = FailureLimiter(2, 60.0, max_keys=100)
    for i in range(1000):
        limiter.failed(f"k{i}", float(i) / 1000)
    assert len(limiter) == 100
    limiter.failed("k999", 0.999)
    assert limiter.retry_after("k999", 1.0) > 0
