"""What fewestcalls and leastrecent order by: the statistics' records (one read per pick,
none when there is nothing to order), this node's own when the store cannot be read."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

from callbridge.calls.queues.ordering import member_records
from callbridge.calls.queues.settings import Strategy
from callbridge.calls.queues.statistics import MemoryStatistics, Outcome, QueueEvent
from callbridge.calls.queues.strategy import MemberRecord, pick
from callbridge.store.queue_statistics import QueueTotals

LOCAL = {"1001": MemberRecord(answered=9, last_answered=1.0)}


class BrokenStore:
    """Statistics whose store is down."""

    def __init__(self) -> None:
        self.reads = 0

    async def add(self, event: QueueEvent) -> None:
        raise ConnectionError("database is down")

    async def totals(self, queue_id: str) -> QueueTotals:
        raise ConnectionError("database is down")

    async def members(self, queue_id: str) -> Mapping[str, MemberRecord]:
        self.reads += 1
        raise ConnectionError("database is down")


class CountingStatistics(MemoryStatistics):
    def __init__(self) -> None:
        ticks = iter(range(1, 1000))
        super().__init__(clock=lambda: float(next(ticks)))
        self.reads = 0

    async def members(self, queue_id: str) -> Mapping[str, MemberRecord]:
        self.reads += 1
        return await super().members(queue_id)


async def answered(statistics: MemoryStatistics, queue_id: str, *members: str) -> None:
    for member in members:
        await statistics.add(QueueEvent(queue_id=queue_id, outcome=Outcome.ANSWERED, member=member))


async def test_the_statistics_records_are_per_queue_and_follow_the_answers() -> None:
    statistics = CountingStatistics()
    await answered(statistics, "sales", "1001", "1002", "1001")
    await answered(statistics, "support", "1002", "1002")
    await statistics.add(QueueEvent(queue_id="sales", outcome=Outcome.ABANDONED, waited=2.0))
    records = await member_records(
        Strategy.LEASTRECENT,
        queue_id="sales",
        candidates={"1001", "1002"},
        statistics=statistics,
        local=LOCAL,
    )
    assert records == {
        "1001": MemberRecord(answered=2, last_answered=3.0),
        "1002": MemberRecord(answered=1, last_answered=2.0),
    }
    members, free = ("1001", "1002"), {"1001", "1002"}
    assert pick(Strategy.LEASTRECENT, members=members, free=free, tried=(), records=records) == (
        "1002",
    )
    assert pick(Strategy.FEWESTCALLS, members=members, free=free, tried=(), records=records) == (
        "1002",
    )


@pytest.mark.parametrize(
    ("strategy", "candidates"),
    [
        (Strategy.RINGALL, {"1001", "1002"}),
        (Strategy.ROUNDROBIN, {"1001", "1002"}),
        (Strategy.LINEAR, {"1001", "1002"}),
        (Strategy.RANDOM, {"1001", "1002"}),
        (Strategy.LEASTRECENT, {"1001"}),  # nobody to order
        (Strategy.FEWESTCALLS, set()),
    ],
)
async def test_no_read_when_there_is_nothing_to_order(
    strategy: Strategy, candidates: set[str]
) -> None:
    statistics = CountingStatistics()
    records = await member_records(
        strategy, queue_id="sales", candidates=candidates, statistics=statistics, local=LOCAL
    )
    assert records == {}
    assert statistics.reads == 0


async def test_a_store_that_fails_falls_back_to_this_nodes_records_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = BrokenStore()
    with caplog.at_level(logging.WARNING, logger="callbridge.calls.queues.ordering"):
        records = await member_records(
            Strategy.FEWESTCALLS,
            queue_id="sales",
            candidates={"1001", "1002"},
            statistics=store,
            local=LOCAL,
        )
    assert records is LOCAL
    assert store.reads == 1
    [message] = [r.getMessage() for r in caplog.records]
    assert "queue sales" in message
    assert "ConnectionError" in message
    assert all(r.exc_info is None for r in caplog.records)  # one line, no traceback
