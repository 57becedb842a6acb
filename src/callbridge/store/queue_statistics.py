"""Queue statistics in the store: counters that only ever grow, one row per queue and one
per (queue, member).  Every node adds to the same rows (``UPDATE ... SET n = n + k``, an
insert for the first), so the totals cover the calls of every node and outlive restarts.
A member's row also keeps when it last answered (the store's clock at the answer): with
its answered calls, what the ``fewestcalls`` and ``leastrecent`` strategies order by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from callbridge.store.clock import Clock, SystemClock
from callbridge.store.database import Database
from callbridge.store.models import QueueMemberStatisticsRow, QueueStatisticsRow


@dataclass(frozen=True, kw_only=True)
class QueueTotals:
    """A queue's counters (or an increment to them): callers answered, abandoned (hung up
    while waiting), overflowed, left (``<Leave/>``); seconds the answered callers waited,
    summed over ``waited_answers`` of them; calls each member answered."""

    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    left: int = 0
    wait_seconds: float = 0.0
    waited_answers: int = 0
    members: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def average_wait(self) -> float | None:
        return self.wait_seconds / self.waited_answers if self.waited_answers else None


@dataclass(frozen=True, kw_only=True)
class MemberFigures:
    """A member's calls of one queue: how many it answered, when it answered the last."""

    answered: int = 0
    last_answered_at: datetime | None = None


class QueueStatisticsRepository:
    def __init__(self, *, database: Database, clock: Clock | None = None) -> None:
        self._db = database
        self._clock = clock or SystemClock()

    async def add(self, queue_id: str, increment: QueueTotals) -> None:
        """Adds ``increment`` to the queue's counters (created at zero when missing); a
        member it counts answers for answered last now."""
        now = self._clock.now()

        def work(connection: Connection) -> None:
            _add_queue(connection, queue_id, increment)
            for extension, answered in increment.members.items():
                _add_member(connection, queue_id, extension, answered, now)

        try:
            await self._db.run(work)
        except IntegrityError:  # another node inserted the first row meanwhile: add to it
            await self._db.run(work)

    async def totals(self, queue_id: str) -> QueueTotals:
        def work(connection: Connection) -> QueueTotals:
            table = QueueStatisticsRow
            row = connection.execute(
                select(
                    table.answered,
                    table.abandoned,
                    table.overflowed,
                    table.left_queue,
                    table.wait_seconds,
                    table.waited_answers,
                ).where(table.queue_id == queue_id)
            ).first()
            members = connection.execute(
                select(QueueMemberStatisticsRow.extension, QueueMemberStatisticsRow.answered)
                .where(QueueMemberStatisticsRow.queue_id == queue_id)
                .order_by(QueueMemberStatisticsRow.extension)
            ).all()
            answered = MappingProxyType({str(m[0]): int(m[1]) for m in members})
            if row is None:
                return QueueTotals(members=answered)
            return QueueTotals(
                answered=int(row[0]),
                abandoned=int(row[1]),
                overflowed=int(row[2]),
                left=int(row[3]),
                wait_seconds=float(row[4]),
                waited_answers=int(row[5]),
                members=answered,
            )

        return await self._db.run(work)

    async def members(self, queue_id: str) -> Mapping[str, MemberFigures]:
        """The figures of the queue's members who answered any of its calls (one query)."""

        def work(connection: Connection) -> Mapping[str, MemberFigures]:
            table = QueueMemberStatisticsRow
            rows = connection.execute(
                select(table.extension, table.answered, table.last_answered_at).where(
                    table.queue_id == queue_id
                )
            ).all()
            return MappingProxyType(
                {
                    str(row[0]): MemberFigures(answered=int(row[1]), last_answered_at=row[2])
                    for row in rows
                }
            )

        return await self._db.run(work)


def _add_queue(connection: Connection, queue_id: str, increment: QueueTotals) -> None:
    table = QueueStatisticsRow
    changed = connection.execute(
        update(table)
        .where(table.queue_id == queue_id)
        .values(
            answered=table.answered + increment.answered,
            abandoned=table.abandoned + increment.abandoned,
            overflowed=table.overflowed + increment.overflowed,
            left_queue=table.left_queue + increment.left,
            wait_seconds=table.wait_seconds + increment.wait_seconds,
            waited_answers=table.waited_answers + increment.waited_answers,
        )
    )
    if changed.rowcount == 0:
        connection.execute(
            insert(table).values(
                queue_id=queue_id,
                answered=increment.answered,
                abandoned=increment.abandoned,
                overflowed=increment.overflowed,
                left_queue=increment.left,
                wait_seconds=increment.wait_seconds,
                waited_answers=increment.waited_answers,
            )
        )


def _add_member(
    connection: Connection, queue_id: str, extension: str, answered: int, now: datetime
) -> None:
    table = QueueMemberStatisticsRow
    stamp = {"last_answered_at": now} if answered > 0 else {}
    changed = connection.execute(
        update(table)
        .where(table.queue_id == queue_id, table.extension == extension)
        .values(answered=table.answered + answered, **stamp)
    )
    if changed.rowcount == 0:
        connection.execute(
            insert(table).values(queue_id=queue_id, extension=extension, answered=answered, **stamp)
        )
