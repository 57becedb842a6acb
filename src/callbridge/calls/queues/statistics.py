"""A queue's statistics: what became of its callers (answered, abandoned, overflowed,
left), how long answered callers waited, and how many calls each member answered.

They are kept behind :class:`QueueStatistics`: :class:`StoredStatistics` in the store
(durable across restarts, added up over every node sharing the database), or
:class:`MemoryStatistics` in this process (tests)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from callbridge.store.database import Database
from callbridge.store.queue_statistics import QueueStatisticsRepository, QueueTotals


class Outcome(StrEnum):
    ANSWERED = "answered"  # a member answered (from the queue, or rung for a call from outside)
    ABANDONED = "abandoned"  # the caller hung up while waiting
    OVERFLOWED = "overflowed"  # max_wait, or no member logged in
    LEFT = "left"  # <Leave/> in a wait document


@dataclass(frozen=True, kw_only=True)
class QueueEvent:
    """One caller's end in the queue: ``waited`` seconds (``None``: the caller did not wait
    in the queue, members were rung for a call from outside); ``member`` who answered."""

    queue_id: str
    outcome: Outcome
    waited: float | None = None
    member: str | None = None


class QueueStatistics(Protocol):
    async def add(self, event: QueueEvent) -> None: ...

    async def totals(self, queue_id: str) -> QueueTotals: ...


class StatisticsStore(Protocol):
    """The store's counters (``store.queue_statistics.QueueStatisticsRepository``)."""

    async def add(self, queue_id: str, increment: QueueTotals) -> None: ...

    async def totals(self, queue_id: str) -> QueueTotals: ...


class StoredStatistics:
    def __init__(self, *, store: StatisticsStore) -> None:
        self._store = store

    async def add(self, event: QueueEvent) -> None:
        await self._store.add(event.queue_id, added(QueueTotals(), event))

    async def totals(self, queue_id: str) -> QueueTotals:
        return await self._store.totals(queue_id)


def stored_statistics(database: Database) -> StoredStatistics:
    """The statistics of the queues, in ``database``."""
    return StoredStatistics(store=QueueStatisticsRepository(database=database))


class MemoryStatistics:
    def __init__(self) -> None:
        self._totals: dict[str, QueueTotals] = {}

    async def add(self, event: QueueEvent) -> None:
        self._totals[event.queue_id] = added(self._totals.get(event.queue_id, QueueTotals()), event)

    async def totals(self, queue_id: str) -> QueueTotals:
        return self._totals.get(queue_id, QueueTotals())


def added(totals: QueueTotals, event: QueueEvent) -> QueueTotals:
    """``totals`` with ``event`` counted (pure)."""
    outcome = event.outcome
    members = dict(totals.members)
    if outcome is Outcome.ANSWERED and event.member is not None:
        members[event.member] = members.get(event.member, 0) + 1
    waited = outcome is Outcome.ANSWERED and event.waited is not None
    return QueueTotals(
        answered=totals.answered + (outcome is Outcome.ANSWERED),
        abandoned=totals.abandoned + (outcome is Outcome.ABANDONED),
        overflowed=totals.overflowed + (outcome is Outcome.OVERFLOWED),
        left=totals.left + (outcome is Outcome.LEFT),
        wait_seconds=totals.wait_seconds + ((event.waited or 0.0) if waited else 0.0),
        waited_answers=totals.waited_answers + waited,
        members=MappingProxyType(members),
    )
