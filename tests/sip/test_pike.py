"""Per-source rate limit (issue 15 item 15): over the limit, the first refused request of a
window is answered, the rest dropped; other sources are not affected; logged once."""

from __future__ import annotations

import logging

import pytest

from callbridge.sip.pike import Pike, PikeLimits, PikeVerdict


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_a_flooding_source_is_refused_once_a_window_then_dropped_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    pike = Pike(limits=PikeLimits(requests=10, window=2.0), clock=clock)
    verdicts: list[PikeVerdict] = []
    with caplog.at_level(logging.WARNING, logger="callbridge.sip.pike"):
        for tick in range(600):  # 1000 requests a second for 6 s (three windows)
            verdicts += [pike.hit("127.0.0.66") for _ in range(10)]
            if tick % 50 == 0:  # another source, twice a second
                assert pike.hit("127.0.0.7") is PikeVerdict.ALLOW
            clock.now += 0.01
        assert verdicts[:10] == [PikeVerdict.ALLOW] * 10
        assert verdicts[10] is PikeVerdict.REFUSE
        assert verdicts.count(PikeVerdict.REFUSE) == 3  # one answer a window
        assert verdicts.count(PikeVerdict.ALLOW) == pytest.approx(10 + 6 * 5, abs=2)
        clock.now += 4.0  # quiet for two windows
        assert pike.hit("127.0.0.66") is PikeVerdict.ALLOW
    messages = [r.getMessage() for r in caplog.records]
    assert sum("flood from 127.0.0.66" in m and "refusing" in m for m in messages) == 1
    assert sum("has stopped" in m for m in messages) == 1
    assert pike.refused == verdicts.count(PikeVerdict.REFUSE) + verdicts.count(PikeVerdict.DROP)


def test_a_flood_is_let_through_at_the_rate_spread_out_not_in_bursts() -> None:
    clock = FakeClock()
    pike = Pike(limits=PikeLimits(requests=100, window=2.0), clock=clock)
    allowed_per_tick = []
    for _ in range(400):  # 3000/s for 4 s, in 10 ms ticks
        allowed_per_tick.append(sum(pike.hit("127.0.0.66") is PikeVerdict.ALLOW for _ in range(30)))
        clock.now += 0.01
    assert allowed_per_tick[0] == 30  # the bucket starts full (100)
    assert sum(allowed_per_tick) == pytest.approx(100 + 4 * 50, abs=2)
    assert max(allowed_per_tick[10:]) <= 1  # then half a request per 10 ms, evenly


def test_memory_stays_bounded_under_spoofed_sources() -> None:
    clock = FakeClock()
    pike = Pike(limits=PikeLimits(requests=2, window=10.0, max_sources=1000), clock=clock)
    for n in range(20_000):
        for _ in range(3):
            pike.hit(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert pike.tracked <= 1000


def test_dropping_tells_ahead_of_parsing_and_counts_the_drop() -> None:
    clock = FakeClock()
    pike = Pike(limits=PikeLimits(requests=2, window=1.0), clock=clock)
    assert not pike.dropping("a")  # unknown
    assert [pike.hit("a") for _ in range(3)] == [PikeVerdict.ALLOW] * 2 + [PikeVerdict.REFUSE]
    assert pike.dropping("a")
    assert pike.refused == 2
    assert not pike.dropping("b")
    clock.now += 0.5  # a token back: the next request is allowed
    assert not pike.dropping("a")
    assert pike.hit("a") is PikeVerdict.ALLOW
