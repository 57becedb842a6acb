from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from callbridge.rtp.clock import MediaClock


async def _until(predicate: Callable[[], bool], *, attempts: int = 300) -> None:
    """Poll ``predicate`` every 10 ms; fail after ``attempts`` polls."""
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_subscribers_tick_and_the_task_stops_without_them() -> None:
    clock = MediaClock(interval=0.005)
    a: list[int] = []
    b: list[int] = []
    sub_a = clock.subscribe(lambda: a.append(1))
    sub_b = clock.subscribe(lambda: b.append(1))
    assert clock.running
    await _until(lambda: len(a) >= 3)
    sub_a.close()
    count_a = len(a)
    await _until(lambda: len(b) >= count_a + 3)
    assert len(a) == count_a
    sub_b.close()
    await _until(lambda: not clock.running)
    assert clock.subscribers == 0
    await clock.close()


async def test_late_loop_skips_ahead_and_counts() -> None:
    clock = MediaClock(interval=0.005)
    ticks: list[int] = []

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 2:
            time.sleep(0.05)  # block the loop for ~10 intervals

    clock.subscribe(tick)
    await _until(lambda: len(ticks) >= 4)
    assert clock.skipped >= 5
    await clock.close()
    assert not clock.running


async def test_failing_subscriber_is_dropped_not_fatal() -> None:
    clock = MediaClock(interval=0.005)
    good: list[int] = []

    def bad() -> None:
        raise RuntimeError("boom")

    clock.subscribe(bad)
    clock.subscribe(lambda: good.append(1))
    await _until(lambda: len(good) >= 3)
    assert clock.subscribers == 1
    await clock.close()
