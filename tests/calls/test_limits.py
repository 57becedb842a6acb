"""CallLimiter: calls-per-second token buckets and concurrent-call caps per API key."""

from __future__ import annotations

import pytest

from callbridge.calls.errors import CallLimitReached
from callbridge.calls.limits import CallLimiter, KeyLimits


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_unlimited_by_default(clock: ManualClock) -> None:
    limiter = CallLimiter(clock=clock)
    permits = [limiter.admit("key") for _ in range(1000)]
    assert limiter.active("key") == 1000
    for permit in permits:
        permit.release()
    assert limiter.active("key") == 0


def test_calls_per_second_bucket_refills_with_time(clock: ManualClock) -> None:
    limiter = CallLimiter(clock=clock, limits={"key": KeyLimits(calls_per_second=2)})
    limiter.admit("key")
    limiter.admit("key")  # a full bucket: a burst of one second's calls
    with pytest.raises(CallLimitReached) as caught:
        limiter.admit("key")
    assert caught.value.retry_after == pytest.approx(0.5)
    assert "2 calls per second" in str(caught.value)
    clock.now += 0.25
    with pytest.raises(CallLimitReached) as caught:
        limiter.admit("key")
    assert caught.value.retry_after == pytest.approx(0.25)
    clock.now += 0.25
    limiter.admit("key")
    clock.now += 60  # the bucket holds no more than its capacity
    limiter.admit("key")
    limiter.admit("key")
    with pytest.raises(CallLimitReached):
        limiter.admit("key")


def test_fractional_rate(clock: ManualClock) -> None:
    limiter = CallLimiter(clock=clock, default=KeyLimits(calls_per_second=0.5))
    limiter.admit(None)
    with pytest.raises(CallLimitReached) as caught:
        limiter.admit(None)
    assert caught.value.retry_after == pytest.approx(2.0)
    clock.now += 2
    limiter.admit(None)


def test_concurrent_calls_are_capped_until_released(clock: ManualClock) -> None:
    limiter = CallLimiter(
        clock=clock, limits={"key": KeyLimits(max_concurrent=2)}, concurrent_retry_after=3.0
    )
    first = limiter.admit("key")
    limiter.admit("key")
    with pytest.raises(CallLimitReached) as caught:
        limiter.admit("key")
    assert caught.value.retry_after == 3.0
    assert "2 concurrent calls" in str(caught.value)
    first.release()
    first.release()  # a second release gives back nothing more
    assert first.released
    assert limiter.active("key") == 1
    limiter.admit("key")
    with pytest.raises(CallLimitReached):
        limiter.admit("key")


def test_a_refused_call_takes_nothing(clock: ManualClock) -> None:
    limiter = CallLimiter(
        clock=clock, limits={"key": KeyLimits(calls_per_second=1, max_concurrent=1)}
    )
    permit = limiter.admit("key")
    clock.now += 5
    with pytest.raises(CallLimitReached):  # concurrent cap: no token is spent
        limiter.admit("key")
    permit.release()
    limiter.admit("key")


def test_keys_are_limited_separately(clock: ManualClock) -> None:
    limiter = CallLimiter(clock=clock, default=KeyLimits(max_concurrent=1))
    limiter.set_limits("big", KeyLimits(max_concurrent=3))
    limiter.admit("a")
    limiter.admit("b")
    limiter.admit(None)
    for _ in range(3):
        limiter.admit("big")
    with pytest.raises(CallLimitReached):
        limiter.admit("a")
    assert limiter.limits_of("big") == KeyLimits(max_concurrent=3)
    assert limiter.limits_of("unknown") == KeyLimits(max_concurrent=1)


def test_set_limits_refills_the_bucket(clock: ManualClock) -> None:
    limiter = CallLimiter(clock=clock)
    limiter.set_limits("key", KeyLimits(calls_per_second=1))
    limiter.admit("key")
    with pytest.raises(CallLimitReached):
        limiter.admit("key")
    limiter.set_limits("key", KeyLimits(calls_per_second=5))
    for _ in range(5):
        limiter.admit("key")


def test_a_clock_going_back_adds_no_tokens(clock: ManualClock) -> None:
    limiter = CallLimiter(clock=clock, default=KeyLimits(calls_per_second=1))
    limiter.admit("key")
    clock.now -= 10
    with pytest.raises(CallLimitReached):
        limiter.admit("key")


@pytest.mark.parametrize(
    "limits",
    [
        {"calls_per_second": 0},
        {"calls_per_second": -1},
        {"calls_per_second": float("inf")},
        {"max_concurrent": 0},
    ],
)
def test_limits_must_be_positive(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        KeyLimits(**limits)  # type: ignore[arg-type]
