"""The digest brute-force throttle (issue 15 item 15): guesses are refused unchecked while
their address or user name is blocked, with a bounded back-off, and a user's own phones
are never slowed by someone guessing elsewhere."""

from __future__ import annotations

import pytest

from callbridge.sip.guesses import GuessLimits, GuessThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(**limits: float) -> tuple[GuessThrottle, FakeClock]:
    clock = FakeClock()
    return GuessThrottle(limits=GuessLimits(**limits), clock=clock), clock  # type: ignore[arg-type]


def test_an_address_is_blocked_after_its_limit_and_freed_after_the_block() -> None:
    throttle, clock = _throttle(per_source=3, per_user=100, first_block=10, max_block=60)
    for _ in range(3):
        assert throttle.may_check(source="a", user="1001")
        throttle.failed(source="a", user="1001")
    assert not throttle.may_check(source="a", user="1001")
    assert not throttle.may_check(source="a", user="1002")  # the address, whatever user
    assert throttle.may_check(source="b", user="1001")  # another address is not slowed
    clock.now += 10.1
    assert throttle.may_check(source="a", user="1001")


def test_blocks_double_up_to_the_maximum_and_never_overflow() -> None:
    limits = GuessLimits(first_block=10, max_block=600)
    assert [limits.block_for(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert limits.block_for(10**9) == 600
    throttle, clock = _throttle(per_source=1, per_user=10**6, first_block=1, max_block=5)
    for _ in range(5000):  # one failure per block, 5000 blocks in a row
        throttle.failed(source="a", user=None)
        assert not throttle.may_check(source="a", user="x")
        clock.now += 5.01
        assert throttle.may_check(source="a", user="x")


def test_a_user_under_attack_keeps_the_addresses_it_authenticated_from() -> None:
    throttle, _ = _throttle(per_source=1000, per_user=5)
    throttle.succeeded(source="phone", user="1001")
    for n in range(5):  # twenty addresses guessing 1001's password
        throttle.failed(source=f"attacker{n}", user="1001")
    assert not throttle.may_check(source="attacker99", user="1001")
    assert not throttle.may_check(source="elsewhere", user="1001")
    assert throttle.may_check(source="phone", user="1001")
    assert throttle.may_check(source="attacker99", user="1002")  # other users unaffected


def test_state_stays_bounded() -> None:
    throttle, clock = _throttle(max_entries=100)
    for n in range(10_000):
        throttle.failed(source=f"10.0.{n // 256}.{n % 256}", user=f"user{n}")
        clock.now += 0.01
    assert throttle.tracked <= 200


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GuessLimits(per_source=0)
    with pytest.raises(ValueError, match="first_block"):
        GuessLimits(first_block=100, max_block=10)
