"""LoopLag and OverloadGuard: new calls are refused while the event loop runs late."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest

from callbridge.calls.errors import CallLimitReached, ServerOverloaded
from callbridge.calls.limits import CallLimiter, KeyLimits
from callbridge.calls.overload import LoopLag, OverloadGuard


@dataclass
class FixedLag:
    lag: float = 0.0


def test_the_lag_is_the_worst_sample_of_the_window() -> None:
    lag = LoopLag(interval=0.05, window=0.5)
    assert lag.lag_at(10.0) == 0.0
    lag.note(0.3, at=10.0)
    lag.note(0.01, at=10.1)
    assert lag.lag_at(10.2) == pytest.approx(0.3)
    assert lag.lag_at(10.55) == pytest.approx(0.01)  # the 0.3 s sample has left the window
    assert lag.lag_at(10.7) == 0.0
    lag.note(-0.001, at=10.8)  # woke early: no lag
    assert lag.lag_at(10.8) == 0.0


def test_an_overdue_wake_up_counts_before_it_happens() -> None:
    lag = LoopLag(interval=0.05, window=0.5)
    lag.expect(20.05)
    assert lag.lag_at(20.04) == 0.0
    assert lag.lag_at(20.45) == pytest.approx(0.4)  # the loop is busy right now
    lag.note(0.42, at=20.47)
    assert lag.lag_at(20.5) == pytest.approx(0.42)


def test_lateness_before_forget_is_not_load() -> None:
    """The server's start-up ran the loop late; once it serves, the first calls were refused
    for half a second (503 right after /health said it was up)."""
    lag = LoopLag(interval=0.05, window=0.5)
    lag.note(0.2, at=30.0)
    lag.expect(30.05)  # the sampler is asleep while start-up blocks the loop
    lag.forget(now=30.3)
    assert lag.lag_at(30.31) == pytest.approx(0.01)  # overdue counts from forget() only
    lag.note(0.27, at=30.32)  # the sampler wakes 0.27 s late: 0.02 s of it after forget()
    assert lag.lag_at(30.33) == pytest.approx(0.02)
    lag.expect(30.4)
    lag.note(0.3, at=30.7)  # load after forget() counts whole
    assert lag.lag_at(30.71) == pytest.approx(0.3)


async def test_a_blocked_loop_is_measured() -> None:
    lag = LoopLag(interval=0.01, window=5.0)
    task = asyncio.create_task(lag.run())
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # noqa: ASYNC251 -- the test blocks the loop on purpose
        assert lag.lag >= 0.25  # overdue already
        await asyncio.sleep(0.05)
        assert lag.lag >= 0.25  # and noted
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_guard_refuses_above_its_limit_and_takes_nothing_from_the_key() -> None:
    reading = FixedLag(lag=0.35)
    limiter = CallLimiter(limits={"key": KeyLimits(max_concurrent=1)})
    guard = OverloadGuard(inner=limiter, lag=reading, max_lag=0.2, retry_after=2.0)
    with pytest.raises(ServerOverloaded) as caught:
        guard.admit("key")
    assert caught.value.retry_after == 2.0
    assert "350 ms late" in str(caught.value)
    assert limiter.active("key") == 0
    reading.lag = 0.2  # at the limit: admitted
    permit = guard.admit("key")
    assert limiter.active("key") == 1
    with pytest.raises(CallLimitReached):  # the key's own limits still apply
        guard.admit("key")
    permit.release()
    assert limiter.active("key") == 0
