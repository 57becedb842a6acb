"""Queue statistics in the store (SQLite both ways, PostgreSQL): counters that only grow,
added up by every process sharing the database, read back after a restart."""

from __future__ import annotations

import asyncio

from callbridge.calls.queues.statistics import Outcome, QueueEvent, stored_statistics
from callbridge.store.database import Database
from callbridge.store.queue_statistics import QueueStatisticsRepository, QueueTotals


async def test_an_unknown_queue_has_zero_totals(database: Database) -> None:
    totals = await QueueStatisticsRepository(database=database).totals("sales")
    assert totals == QueueTotals()
    assert totals.average_wait is None


async def test_increments_add_up_per_queue_and_member(database: Database) -> None:
    repository = QueueStatisticsRepository(database=database)
    await repository.add(
        "sales", QueueTotals(answered=1, wait_seconds=4.0, waited_answers=1, members={"1001": 1})
    )
    await repository.add(
        "sales", QueueTotals(answered=1, wait_seconds=2.0, waited_answers=1, members={"1002": 1})
    )
    await repository.add("sales", QueueTotals(abandoned=1, overflowed=2, left=1))
    await repository.add("support", QueueTotals(answered=1, members={"1001": 1}))
    sales = await repository.totals("sales")
    assert (sales.answered, sales.abandoned, sales.overflowed, sales.left) == (2, 1, 2, 1)
    assert sales.average_wait == 3.0
    assert dict(sales.members) == {"1001": 1, "1002": 1}
    assert dict((await repository.totals("support")).members) == {"1001": 1}


async def test_two_nodes_on_one_database_add_to_the_same_counters_and_they_outlive_them(
    database: Database,
) -> None:
    other = Database(url=database.url)  # a second node (or the server after a restart)
    try:
        nodes = [stored_statistics(database), stored_statistics(other)]
        answered = QueueEvent(queue_id="sales", outcome=Outcome.ANSWERED, waited=3.0, member="1001")
        abandoned = QueueEvent(queue_id="sales", outcome=Outcome.ABANDONED, waited=1.0)
        await asyncio.gather(*(node.add(e) for node in nodes for e in (answered, abandoned)))
        await nodes[1].add(QueueEvent(queue_id="sales", outcome=Outcome.ANSWERED, member="1002"))
    finally:
        await other.close()
    restarted = Database(url=database.url)
    try:
        totals = await stored_statistics(restarted).totals("sales")
    finally:
        await restarted.close()
    assert (totals.answered, totals.abandoned, totals.waited_answers) == (3, 2, 2)
    assert totals.average_wait == 3.0  # the answer rung from outside did not wait
    assert dict(totals.members) == {"1001": 2, "1002": 1}
