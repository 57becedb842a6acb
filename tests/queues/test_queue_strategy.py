"""Which members ring next (pure)."""

from __future__ import annotations

import random

from callbridge.calls.queues.settings import Strategy
from callbridge.calls.queues.strategy import MemberRecord, pick

MEMBERS = ("1001", "1002", "1003")
ALL = set(MEMBERS)


def test_ringall_rings_every_free_member_at_once() -> None:
    free = {"1001", "1003"}
    assert pick(Strategy.RINGALL, members=MEMBERS, free=free, tried=(), records={}) == (
        "1001",
        "1003",
    )
    assert pick(Strategy.RINGALL, members=MEMBERS, free=set(), tried=(), records={}) == ()


def test_roundrobin_starts_after_the_member_rung_last_and_skips_busy_ones() -> None:
    def after(last: str | None, free: set[str] = ALL) -> tuple[str, ...]:
        return pick(
            Strategy.ROUNDROBIN, members=MEMBERS, free=free, tried=(), records={}, last_rung=last
        )

    assert after(None) == ("1001",)
    assert after("1001") == ("1002",)
    assert after("1003") == ("1001",)
    assert after("1001", free={"1001", "1003"}) == ("1003",)


def test_a_member_who_did_not_answer_comes_after_the_others() -> None:
    assert pick(Strategy.LINEAR, members=MEMBERS, free=ALL, tried={"1001"}, records={}) == ("1002",)
    # everyone tried: the round starts over
    assert pick(Strategy.LINEAR, members=MEMBERS, free=ALL, tried=ALL, records={}) == ("1001",)


def test_fewestcalls_leastrecent_and_random() -> None:
    records = {
        "1001": MemberRecord(answered=5, last_answered=100.0),
        "1002": MemberRecord(answered=1, last_answered=300.0),
        "1003": MemberRecord(answered=3, last_answered=50.0),
    }
    assert pick(Strategy.FEWESTCALLS, members=MEMBERS, free=ALL, tried=(), records=records) == (
        "1002",
    )
    assert pick(Strategy.LEASTRECENT, members=MEMBERS, free=ALL, tried=(), records=records) == (
        "1003",
    )
    never = {**records, "1003": MemberRecord()}
    assert pick(Strategy.LEASTRECENT, members=MEMBERS, free=ALL, tried=(), records=never) == (
        "1003",
    )
    rng = random.Random(7)
    seen = {
        pick(Strategy.RANDOM, members=MEMBERS, free=ALL, tried=(), records={}, rng=rng)[0]
        for _ in range(50)
    }
    assert seen == ALL
