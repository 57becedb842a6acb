"""The webhook outbox as its dispatcher sees it: due rows, leased claims, outcomes.

A row is *eligible* when it is pending, not leased by a live claim, and it is the
earliest pending row of its call: a call's webhooks go out strictly in seq order.
Claims are compare-and-set updates (``WHERE status='pending' AND <lease free>``), so
several nodes can share one database without sending a row twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from callbridge.store.database import Database
from callbridge.store.models import ApiKeyRow, CallRow, DeliveryRow, DeliveryStatus
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
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return tuple(
            OutboxItem(delivery=delivery_record(row), optional=optional, signing_secret=secret)
            for row, optional, secret in rows
        )

    async def next_due_at(self, *, now: datetime) -> datetime | None:
        """When the earliest eligible row falls due (``None``: nothing is waiting)."""
        query = select(func.min(DeliveryRow.next_attempt_at)).where(_eligible(now))
        async with self._db.session() as session:
            value: datetime | None = await session.scalar(query)
        return value

    async def claim(
        self, ids: Iterable[int], *, node: str, now: datetime, lease_until: datetime
    ) -> tuple[int, ...]:
        """Lease each row to ``node`` if it is still pending and unleased; the ids won."""
        won: list[int] = []
        async with self._db.session() as session, session.begin():
            for delivery_id in ids:
                result = await session.execute(
                    update(DeliveryRow)
                    .where(DeliveryRow.id == delivery_id, _pending_unleased(now))
                    .values(claimed_by=node, lease_until=lease_until)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(result) == 1:
                    won.append(delivery_id)
        return tuple(won)

    async def settle(self, outcomes: Iterable[Outcome], *, node: str) -> int:
        """Record attempts' outcomes in one transaction; only rows ``node`` still holds.

        Returns how many were recorded (a row whose lease another node took is skipped).
        """
        recorded = 0
        async with self._db.session() as session, session.begin():
            for outcome in outcomes:
                result = await session.execute(
                    update(DeliveryRow)
                    .where(
                        DeliveryRow.id == outcome.delivery_id,
                        DeliveryRow.status == _PENDING,
                        DeliveryRow.claimed_by == node,
                    )
                    .values(_outcome_values(outcome))
                    .execution_options(synchronize_session=False)
                )
                recorded += _rowcount(result)
        return recorded

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
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.claimed_by == node, DeliveryRow.status == _PENDING)
                .values(claimed_by=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
        return _rowcount(result)


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


def _outcome_values(outcome: Outcome) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": outcome.status.value,
        "attempts": DeliveryRow.attempts + 1,
        "claimed_by": None,
        "lease_until": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.status is DeliveryStatus.DELIVERED:
        values["delivered_at"] = outcome.at
    if outcome.next_attempt_at is not None:
        values["next_attempt_at"] = outcome.next_attempt_at
    return values
