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


def test_a_flooding_source_is_refused_once_then_dropped_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    pike = Pike(limits=PikeLimits(requests=10, window=2.0), clock=clock)
    with caplog.at_level(logging.WARNING, logger="callbridge.sip.pike"):
        for _ in range(3):  # three windows of flooding
            verdicts = [pike.hit("127.0.0.66") for _ in range(1000)]
            assert verdicts[:10] == [PikeVerdict.ALLOW] * 10
            assert verdicts[10] is PikeVerdict.REFUSE
            assert set(verdicts[11:]) == {PikeVerdict.DROP}
            assert pike.hit("127.0.0.7") is PikeVerdict.ALLOW  # another source
            clock.now += 2.0
        clock.now += 4.0
        assert pike.hit("127.0.0.66") is PikeVerdict.ALLOW
    messages = [r.getMessage() for r in caplog.records]
    assert sum("flood from 127.0.0.66" in m and "refusing" in m for m in messages) == 1
    assert sum("has stopped" in m for m in messages) == 1
    assert pike.refused == 3 * 990
    assert pike.tracked <= 4
