"""Queue statistics in the store (SQLite both ways, PostgreSQL): counters that only grow,
added up by every process sharing the database, read back after a restart."""

from __future__ import annotations

import asyncio

from store_fakes import StepClock

from callbridge.calls.queues.settings import Strategy
from callbridge.calls.queues.statistics import Outcome, QueueEvent, stored_statistics
from callbridge.calls.queues.strategy import pick
from callbridge.store.database import Database
from callbridge.store.queue_statistics import MemberFigures, QueueStatisticsRepository, QueueTotals


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


async def test_each_answer_stamps_when_the_member_answered_the_last(database: Database) -> None:
    clock = StepClock()
    repository = QueueStatisticsRepository(database=database, clock=clock)
    assert dict(await repository.members("sales")) == {}
    await repository.add("sales", QueueTotals(answered=1, members={"1001": 1}))
    await repository.add("sales", QueueTotals(answered=1, members={"1002": 1}))
    clock.advance(60)
    await repository.add("sales", QueueTotals(answered=1, members={"1001": 1}))
    await repository.add("support", QueueTotals(answered=1, members={"1003": 1}))
    figures = await repository.members("sales")
    assert set(figures) == {"1001", "1002"}
    assert figures["1001"].answered == 2
    assert figures["1002"].answered == 1
    one, two = figures["1001"].last_answered_at, figures["1002"].last_answered_at
    assert one is not None
    assert two is not None
    assert one.tzinfo is not None
    assert (one - two).total_seconds() >= 60  # 1001 answered again a minute later


async def test_the_members_records_are_shared_by_the_nodes_and_outlive_them(
    database: Database,
) -> None:
    """Node A counts the answers, node B (and the server after a restart) orders by them."""
    other = Database(url=database.url)
    try:
        a, b = stored_statistics(database), stored_statistics(other)
        for member in ("1002", "1001", "1002"):
            await a.add(QueueEvent(queue_id="sales", outcome=Outcome.ANSWERED, member=member))
            await asyncio.sleep(0.002)  # distinct wall-clock stamps
        seen_by_b = await b.members("sales")
    finally:
        await other.close()
    restarted = Database(url=database.url)
    try:
        after_restart = await stored_statistics(restarted).members("sales")
    finally:
        await restarted.close()
    for records in (seen_by_b, after_restart):
        assert {m: r.answered for m, r in records.items()} == {"1001": 1, "1002": 2}
        members, free = ("1001", "1002", "1003"), {"1001", "1002"}
        assert pick(
            Strategy.FEWESTCALLS, members=members, free=free, tried=(), records=records
        ) == ("1001",)
        assert pick(
            Strategy.LEASTRECENT, members=members, free=free, tried=(), records=records
        ) == ("1001",)  # 1002 answered the last call
        assert pick(
            Strategy.LEASTRECENT, members=members, free=set(members), tried=(), records=records
        ) == ("1003",)  # never answered: first


async def test_0017_adds_last_answered_at_to_the_rows_from_before(db_url: str) -> None:
    """Rows counted before 0017 keep their counts, with no last answer (answered first)."""
    database = Database(url=db_url)
    try:
        await database.migrate(revision="0016")
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO queue_member_statistics (queue_id, extension, answered)"
                " VALUES ('sales', '1001', 4)"
            )
        await database.migrate()
        repository = QueueStatisticsRepository(database=database)
        assert dict(await repository.members("sales")) == {
            "1001": MemberFigures(answered=4, last_answered_at=None)
        }
        await repository.add("sales", QueueTotals(answered=1, members={"1001": 1}))
        figures = (await repository.members("sales"))["1001"]
        assert figures.answered == 5
        assert figures.last_answered_at is not None
    finally:
        await database.close()
