"""The webhook outbox as its dispatcher sees it: due rows, leased claims, outcomes.

A row is *eligible* when it is pending, not leased by a live claim, and it is the
earliest pending row of its call: a call's webhooks go out strictly in seq order.
Claims are compare-and-set updates (``WHERE status='pending' AND <lease free>``), so
several nodes can share one database without sending a row twice.

A row written in the process of a running dispatcher is usually inserted already leased to
it (:class:`DirectClaim`) and handed over in memory, when no earlier row of its call waits
for another sender; the dispatcher keeps that call's order itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Integer,
    Text,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from callbridge.store.database import Database
from callbridge.store.models import ApiKeyRow, CallRow, DeliveryRow, DeliveryStatus, UtcDateTime
from callbridge.store.prepared import PreparedStatement
from callbridge.store.records import DeliveryRecord
from callbridge.store.rows import delivery_record

_PENDING = DeliveryStatus.PENDING.value


@dataclass(frozen=True, kw_only=True)
class OutboxItem:
    """A due delivery with what sending it needs from its call and API key."""

    delivery: DeliveryRecord
    optional: str | None
    signing_secret: str | None


@dataclass(frozen=True, kw_only=True)
class DirectClaim:
    """A lease the dispatcher of this process grants on a row as it is written: the writer
    inserts the row already claimed and, once committed, hands it over as an
    :class:`OutboxItem`, so it is sent without being looked for."""

    node: str
    lease_until: datetime


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What one attempt at a claimed row came to.

    ``status`` is the row's new status: ``DELIVERED``, ``FAILED`` (for good) or
    ``PENDING`` again with ``next_attempt_at`` set for the retry.
    """

    delivery_id: int
    status: DeliveryStatus
    at: datetime
    status_code: int | None
    error: str | None = None
    next_attempt_at: datetime | None = None


class OutboxRepository:
    def __init__(self, *, database: Database) -> None:
        self._db = database

    async def due(
        self, *, now: datetime, limit: int, exclude: Iterable[int] = ()
    ) -> tuple[OutboxItem, ...]:
        """Eligible rows whose time has come, oldest first."""
        query = (
            select(DeliveryRow, CallRow.optional, ApiKeyRow.signing_secret)
            .join(CallRow, CallRow.sid == DeliveryRow.call_sid)
            .outerjoin(ApiKeyRow, ApiKeyRow.id == CallRow.api_key_id)
            .where(_eligible(now), DeliveryRow.next_attempt_at <= now)
            .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
            .limit(limit)
        )
        skip = list(exclude)
        if skip:
            query = query.where(DeliveryRow.id.not_in(skip))

        def work(connection: Connection) -> tuple[OutboxItem, ...]:
            with Session(bind=connection) as session:
                return tuple(
                    OutboxItem(
                        delivery=delivery_record(row), optional=optional, signing_secret=secret
                    )
                    for row, optional, secret in session.execute(query).all()
                )

        return await self._db.run(work)

    async def next_due_at(self, *, now: datetime) -> datetime | None:
        """When the earliest eligible row falls due (``None``: nothing is waiting)."""
        query = select(func.min(DeliveryRow.next_attempt_at)).where(_eligible(now))

        def work(connection: Connection) -> datetime | None:
            value: datetime | None = connection.scalar(query)
            return value

        return await self._db.run(work)

    async def claim(
        self, ids: Iterable[int], *, node: str, now: datetime, lease_until: datetime
    ) -> tuple[int, ...]:
        """Lease each row to ``node`` if it is still pending and unleased; the ids won."""
        wanted = list(ids)
        if not wanted:
            return ()
        query = (
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(wanted), _pending_unleased(now))
            .values(claimed_by=node, lease_until=lease_until)
            .returning(DeliveryRow.id)
        )

        def work(connection: Connection) -> set[int]:
            return set(connection.execute(query).scalars())

        won = await self._db.run(work)
        return tuple(i for i in wanted if i in won)

    async def settle(
        self, outcomes: Iterable[Outcome], *, node: str, release: Iterable[int] = ()
    ) -> int:
        """Record attempts' outcomes in one transaction; only rows ``node`` still holds.

        ``release`` are rows ``node`` claimed but will not send: their leases are dropped in
        the same transaction. Returns how many outcomes were recorded (a row whose lease
        another node took is skipped).
        """
        parameters = [_outcome_parameters(outcome, node) for outcome in outcomes]
        released = list(release)
        if not parameters and not released:
            return 0

        def work(connection: Connection) -> int:
            recorded = 0
            if parameters:
                recorded = _SETTLE.execute_many(connection, parameters)
            if released:
                connection.execute(
                    update(DeliveryRow)
                    .where(
                        DeliveryRow.id.in_(released),
                        DeliveryRow.claimed_by == node,
                        DeliveryRow.status == _PENDING,
                    )
                    .values(claimed_by=None, lease_until=None)
                )
            return recorded

        return await self._db.run(work)

    async def mark_delivered(
        self, delivery_id: int, *, node: str, at: datetime, status_code: int
    ) -> bool:
        outcome = Outcome(
            delivery_id=delivery_id, status=DeliveryStatus.DELIVERED, at=at, status_code=status_code
        )
        return await self.settle([outcome], node=node) == 1

    async def mark_retry(
        self,
        delivery_id: int,
        *,
        node: str,
        next_attempt_at: datetime,
        error: str,
        status_code: int | None,
    ) -> bool:
        outcome = Outcome(
            delivery_id=delivery_id,
            status=DeliveryStatus.PENDING,
            at=next_attempt_at,
            status_code=status_code,
            error=error,
            next_attempt_at=next_attempt_at,
        )
        return await self.settle([outcome], node=node) == 1

    async def mark_failed(
        self, delivery_id: int, *, node: str, at: datetime, error: str, status_code: int | None
    ) -> bool:
        outcome = Outcome(
            delivery_id=delivery_id,
            status=DeliveryStatus.FAILED,
            at=at,
            status_code=status_code,
            error=error,
        )
        return await self.settle([outcome], node=node) == 1

    async def release(self, *, node: str) -> int:
        """Drop every lease ``node`` holds on pending rows (it restarted or is stopping)."""
        query = (
            update(DeliveryRow)
            .where(DeliveryRow.claimed_by == node, DeliveryRow.status == _PENDING)
            .values(claimed_by=None, lease_until=None)
        )

        def work(connection: Connection) -> int:
            return _rowcount(connection.execute(query))

        return await self._db.run(work)


def _pending_unleased(now: datetime) -> ColumnElement[bool]:
    return and_(
        DeliveryRow.status == _PENDING,
        or_(DeliveryRow.lease_until.is_(None), DeliveryRow.lease_until <= now),
    )


def _eligible(now: datetime) -> ColumnElement[bool]:
    earlier = aliased(DeliveryRow)
    is_head = ~exists().where(
        earlier.call_sid == DeliveryRow.call_sid,
        earlier.status == _PENDING,
        earlier.seq < DeliveryRow.seq,
    )
    return and_(_pending_unleased(now), is_head)


def _rowcount(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


# One statement for every outcome (executemany): the values a kind of outcome does not
# set keep what the row has.
_SETTLE = PreparedStatement(
    update(DeliveryRow)
    .where(
        DeliveryRow.id == bindparam("b_id"),
        DeliveryRow.status == _PENDING,
        DeliveryRow.claimed_by == bindparam("b_node"),
    )
    .values(
        status=bindparam("b_status"),
        attempts=DeliveryRow.attempts + 1,
        claimed_by=None,
        lease_until=None,
        last_status_code=bindparam("b_code", type_=Integer()),
        last_error=bindparam("b_error", type_=Text()),
        delivered_at=func.coalesce(
            bindparam("b_delivered_at", type_=UtcDateTime()), DeliveryRow.delivered_at
        ),
        next_attempt_at=func.coalesce(
            bindparam("b_next_attempt_at", type_=UtcDateTime()), DeliveryRow.next_attempt_at
        ),
    )
)


def _outcome_parameters(outcome: Outcome, node: str) -> dict[str, Any]:
    delivered = outcome.status is DeliveryStatus.DELIVERED
    return {
        "b_id": outcome.delivery_id,
        "b_node": node,
        "b_status": outcome.status.value,
        "b_code": outcome.status_code,
        "b_error": outcome.error,
        "b_delivered_at": outcome.at if delivered else None,
        "b_next_attempt_at": outcome.next_attempt_at,
    }
