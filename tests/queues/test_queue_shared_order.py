"""fewestcalls and leastrecent follow the statistics every node shares: two ``Queues``
(two nodes) on one database, and a third started after them (a restart), ring baresip
phones 1001 and 1002 in the order the store says, not their own memory's."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest
from queue_world import ENGINE_HOST, ENGINE_PORT

from callbridge.calls.presence import Presence
from callbridge.calls.queues import Queues, QueueSettings, Strategy
from callbridge.calls.queues.statistics import Outcome, QueueEvent, stored_statistics
from callbridge.calls.queues.strategy import MemberRecord
from callbridge.engine.engine import Engine
from callbridge.store.database import Database
from callbridge.store.queue_statistics import QueueTotals
from peers.conftest import BaresipFactory
from peers.phones import registered_phone

pytestmark = pytest.mark.peers

TARGET = f"{ENGINE_HOST}:{ENGINE_PORT}"
MEMBERS = ("1001", "1002")


@pytest.fixture
async def db_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    database = Database(url=url)
    await database.migrate()
    await database.close()
    return url


class Node:
    """A node's queues on its own connection to the shared database."""

    def __init__(self, engine: Engine, presence: Presence, url: str, strategy: Strategy) -> None:
        self.database = Database(url=url)
        self.statistics = stored_statistics(self.database)
        self.queues = Queues(
            queues=(QueueSettings(id="sales", members=MEMBERS, strategy=strategy, wrapup=0),),
            engine=engine,
            presence=presence,
            statistics=self.statistics,
        )


async def ring(queues: Queues, engine: Engine) -> str:
    """Rings the queue's members as for a call from outside: who answered."""
    leg = await queues.ring_members("sales", caller_id="+15550100", display_name=None)
    assert leg is not None
    member = leg.callee.user
    await leg.hangup()
    for _ in range(200):  # until the phone's leg is gone and it is free again
        if not engine.legs:
            break
        await asyncio.sleep(0.05)
    assert not engine.legs
    return member


@pytest.fixture
async def phones(engine: Engine, baresip: BaresipFactory) -> Presence:
    presence = Presence(contacts=engine.registrar, extensions=MEMBERS)
    engine.watch_legs(presence.watch)
    await asyncio.gather(
        *(
            registered_phone(
                baresip, user, registrar=TARGET, password=f"secret{user}", auto_answer=True
            )
            for user in MEMBERS
        )
    )
    return presence


async def test_leastrecent_follows_the_other_nodes_answers_and_survives_a_restart(
    engine: Engine, phones: Presence, db_url: str
) -> None:
    a = Node(engine, phones, db_url, Strategy.LEASTRECENT)
    b = Node(engine, phones, db_url, Strategy.LEASTRECENT)
    try:
        assert await ring(a.queues, engine) == "1001"  # nobody answered yet: in order
        assert await ring(b.queues, engine) == "1002"  # b never rang 1001, but a did
        assert await ring(b.queues, engine) == "1001"
    finally:
        await a.database.close()
        await b.database.close()
    restarted = Node(engine, phones, db_url, Strategy.LEASTRECENT)
    try:
        assert await ring(restarted.queues, engine) == "1002"  # 1001 answered the last call
        assert await ring(restarted.queues, engine) == "1001"
    finally:
        await restarted.database.close()


async def test_fewestcalls_counts_the_answers_of_every_node(
    engine: Engine, phones: Presence, db_url: str
) -> None:
    other = Database(url=db_url)  # another node's answers: 1001 took two calls
    try:
        for _ in range(2):
            await stored_statistics(other).add(
                QueueEvent(queue_id="sales", outcome=Outcome.ANSWERED, waited=1.0, member="1001")
            )
    finally:
        await other.close()
    node = Node(engine, phones, db_url, Strategy.FEWESTCALLS)
    try:
        assert await ring(node.queues, engine) == "1002"
        assert await ring(node.queues, engine) == "1002"  # 1 call against 2
        snapshot = await node.queues.snapshot("sales")
        assert snapshot.answered == 4
    finally:
        await node.database.close()


class DownStatistics:
    """Statistics whose database is down."""

    async def add(self, event: QueueEvent) -> None:
        raise ConnectionError("database is down")

    async def totals(self, queue_id: str) -> QueueTotals:
        raise ConnectionError("database is down")

    async def members(self, queue_id: str) -> Mapping[str, MemberRecord]:
        raise ConnectionError("database is down")


async def test_with_the_database_down_members_are_still_rung_by_this_nodes_counts(
    engine: Engine, phones: Presence, caplog: pytest.LogCaptureFixture
) -> None:
    queues = Queues(
        queues=(
            QueueSettings(id="sales", members=MEMBERS, strategy=Strategy.LEASTRECENT, wrapup=0),
        ),
        engine=engine,
        presence=phones,
        statistics=DownStatistics(),
    )
    assert await ring(queues, engine) == "1001"
    assert await ring(queues, engine) == "1002"  # this node saw 1001 answer
    assert await ring(queues, engine) == "1001"
    assert any("cannot read the members' statistics" in r.getMessage() for r in caplog.records)
