"""Queue statistics in the store: counters that only ever grow, one row per queue and one
per (queue, member).  Every node adds to the same rows (``UPDATE ... SET n = n + k``, an
insert for the first), so the totals cover the calls of every node and outlive restarts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

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


class QueueStatisticsRepository:
    def __init__(self, *, database: Database) -> None:
        self._db = database

    async def add(self, queue_id: str, increment: QueueTotals) -> None:
        """Adds ``increment`` to the queue's counters (created at zero when missing)."""

        def work(connection: Connection) -> None:
            _add_queue(connection, queue_id, increment)
            for extension, answered in increment.members.items():
                _add_member(connection, queue_id, extension, answered)

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


def _add_member(connection: Connection, queue_id: str, extension: str, answered: int) -> None:
    table = QueueMemberStatisticsRow
    changed = connection.execute(
        update(table)
        .where(table.queue_id == queue_id, table.extension == extension)
        .values(answered=table.answered + answered)
    )
    if changed.rowcount == 0:
        connection.execute(
            insert(table).values(queue_id=queue_id, extension=extension, answered=answered)
        )
