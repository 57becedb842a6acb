"""A queue's statistics: what became of its callers (answered, abandoned, overflowed,
left), how long answered callers waited, and how many calls each member answered and
when it answered the last (the ``fewestcalls`` and ``leastrecent`` strategies' order).

They are kept behind :class:`QueueStatistics`: :class:`StoredStatistics` in the store
(durable across restarts, added up over every node sharing the database), or
:class:`MemoryStatistics` in this process (tests)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from callbridge.calls.queues.strategy import MemberRecord
from callbridge.store.database import Database
from callbridge.store.queue_statistics import (
    MemberFigures,
    QueueStatisticsRepository,
    QueueTotals,
)


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

    async def members(self, queue_id: str) -> Mapping[str, MemberRecord]:
        """The record of each member who answered a call of the queue (the others have
        none): answered calls, and when (one clock for all) it answered the last."""
        ...


class StatisticsStore(Protocol):
    """The store's counters (``store.queue_statistics.QueueStatisticsRepository``)."""

    async def add(self, queue_id: str, increment: QueueTotals) -> None: ...

    async def totals(self, queue_id: str) -> QueueTotals: ...

    async def members(self, queue_id: str) -> Mapping[str, MemberFigures]: ...


class StoredStatistics:
    def __init__(self, *, store: StatisticsStore) -> None:
        self._store = store

    async def add(self, event: QueueEvent) -> None:
        await self._store.add(event.queue_id, added(QueueTotals(), event))

    async def totals(self, queue_id: str) -> QueueTotals:
        return await self._store.totals(queue_id)

    async def members(self, queue_id: str) -> Mapping[str, MemberRecord]:
        figures = await self._store.members(queue_id)
        return {
            extension: MemberRecord(
                answered=f.answered,
                last_answered=None
                if f.last_answered_at is None
                else f.last_answered_at.timestamp(),
            )
            for extension, f in figures.items()
        }


def stored_statistics(database: Database) -> StoredStatistics:
    """The statistics of the queues, in ``database``."""
    return StoredStatistics(store=QueueStatisticsRepository(database=database))


class MemoryStatistics:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._totals: dict[str, QueueTotals] = {}
        self._last_answered: dict[tuple[str, str], float] = {}

    async def add(self, event: QueueEvent) -> None:
        self._totals[event.queue_id] = added(self._totals.get(event.queue_id, QueueTotals()), event)
        if event.outcome is Outcome.ANSWERED and event.member is not None:
            self._last_answered[event.queue_id, event.member] = self._clock()

    async def totals(self, queue_id: str) -> QueueTotals:
        return self._totals.get(queue_id, QueueTotals())

    async def members(self, queue_id: str) -> Mapping[str, MemberRecord]:
        answered = self._totals.get(queue_id, QueueTotals()).members
        return {
            member: MemberRecord(
                answered=n, last_answered=self._last_answered.get((queue_id, member))
            )
            for member, n in answered.items()
        }


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
