"""Appending a call's event with the webhook it owes, inside the writer's transaction.

The delivery row (the outbox, :mod:`callbridge.store.outbox`) commits with its event or
not at all.  When this process's dispatcher takes rows directly (:class:`DirectOutbox`), a
row whose call has no earlier row waiting for another sender is inserted already leased to
it and, once committed, handed over in memory: it is sent without the dispatcher looking
for it.  The lease is an ordinary one, so a row whose node died is sent again by whoever
claims it once the lease has expired.  A call's writes are serialised by their writer (its
``CallTracker``), so its rows are handed over in seq order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

from sqlalchemy import Connection, Select, Table, Text, bindparam, exists, insert, or_, select

from callbridge.store.call_statements import BUMP_CALLBACK_COUNT
from callbridge.store.clock import Clock
from callbridge.store.models import ApiKeyRow, CallEventRow, DeliveryRow, DeliveryStatus
from callbridge.store.outbox import DirectClaim, OutboxItem
from callbridge.store.prepared import PreparedStatement
from callbridge.store.records import Callback, CallRecord, DeliveryRecord, EventWrite

_EVENTS = cast(Table, CallEventRow.__table__)
_DELIVERIES = cast(Table, DeliveryRow.__table__)
_API_KEYS = cast(Table, ApiKeyRow.__table__)


class OutboxListener(Protocol):
    """Told after a transaction that wrote a delivery row has committed."""

    def notify(self) -> None: ...


@runtime_checkable
class DirectOutbox(OutboxListener, Protocol):
    """A listener that also takes rows directly (the webhook dispatcher of this process):
    while ``direct_claim`` grants a lease, a delivery row whose call has no earlier row
    waiting for another sender is inserted leased to it and handed over with ``take``
    once committed (``notify`` is for the rows it must look for)."""

    def direct_claim(self) -> DirectClaim | None: ...

    def take(self, item: OutboxItem) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Written:
    """What appending one event wrote: its seq, its delivery row, the row to hand over."""

    seq: int
    delivery_id: int | None = None
    item: OutboxItem | None = None


class EventLog:
    """Writes a call's events and delivery rows; tells the dispatcher after the commit."""

    def __init__(self, *, clock: Clock, listener: OutboxListener | None = None) -> None:
        self._clock = clock
        self._listener = listener
        self._direct = listener if isinstance(listener, DirectOutbox) else None

    def claim(self) -> DirectClaim | None:
        """The lease a row written now would get (asked on the event loop, before the
        transaction goes to the database's thread)."""
        return self._direct.direct_claim() if self._direct is not None else None

    def append(
        self,
        connection: Connection,
        call: CallRecord,
        seq: int,
        write: EventWrite,
        claim: DirectClaim | None,
    ) -> Written:
        """Insert the event row ``seq`` of ``call`` (its counter already bumped) and, with a
        callback, its delivery row: leased by ``claim`` (this process's dispatcher taking
        rows directly) unless an earlier row of the call waits for another sender.  With
        ``write.sequence_param`` the call's ``callback_count`` counts the row and its number
        (the count before it) is added to its parameters under that name."""
        event, callback = write.event, write.callback
        _INSERT_EVENT.execute(
            connection,
            {
                "call_sid": call.sid,
                "seq": seq,
                "name": event.name,
                "at": event.at,
                "data": dict(event.data),
            },
        )
        if callback is None:
            return Written(seq=seq)
        params = dict(write.params)
        if write.sequence_param is not None:
            (count,) = BUMP_CALLBACK_COUNT.execute(connection, {"b_sid": call.sid}).one()
            params[write.sequence_param] = str(count - 1)
        secret, claim = _secret_and_claim(connection, call, claim)
        delivery = self._insert_delivery(connection, call.sid, seq, callback, params, claim)
        if claim is None:
            return Written(seq=seq, delivery_id=delivery.id)
        item = OutboxItem(delivery=delivery, optional=call.optional, signing_secret=secret)
        return Written(seq=seq, delivery_id=delivery.id, item=item)

    def _insert_delivery(
        self,
        connection: Connection,
        sid: str,
        seq: int,
        callback: Callback,
        params: Mapping[str, str],
        claim: DirectClaim | None,
    ) -> DeliveryRecord:
        """Insert the delivery row of event ``seq`` (leased by ``claim`` if any)."""
        now = self._clock.now()
        params, url, method = dict(params), callback.url, callback.method.upper()
        (delivery_id,) = _INSERT_DELIVERY.execute(
            connection,
            {
                "call_sid": sid,
                "seq": seq,
                "url": url,
                "method": method,
                "params": params,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "claimed_by": claim.node if claim else None,
                "lease_until": claim.lease_until if claim else None,
            },
        ).one()
        return DeliveryRecord(
            id=delivery_id,
            call_sid=sid,
            seq=seq,
            url=url,
            method=method,
            params=params,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            last_status_code=None,
            delivered_at=None,
        )

    def announce(self, written: Written | None) -> None:
        """After the commit: hand a leased row over, or tell that a row is waiting."""
        if written is None or written.delivery_id is None:
            return
        if written.item is not None and self._direct is not None:
            self._direct.take(written.item)
        elif self._listener is not None:
            self._listener.notify()


def _secret_and_claim(
    connection: Connection, call: CallRecord, claim: DirectClaim | None
) -> tuple[str | None, DirectClaim | None]:
    """With a lease offered: the signing secret of the call's key, and the lease to insert
    the row with (none when an earlier row of the call waits for another sender)."""
    if claim is None:
        return None, None
    secret, waiting = _SECRET_AND_WAITING.execute(
        connection, {"b_key": call.api_key_id, "b_sid": call.sid, "b_node": claim.node}
    ).one()
    return secret, None if waiting else claim


_INSERT_EVENT = PreparedStatement(insert(_EVENTS))
_INSERT_DELIVERY = PreparedStatement(insert(_DELIVERIES).returning(_DELIVERIES.c.id))


def _secret_and_waiting() -> Select[Any]:
    """The signing secret of the call's key (``:b_key``), and whether a row of the call
    (``:b_sid``) is pending that ``:b_node`` does not hold (a retry waiting, a row written
    while no dispatcher took rows directly): later rows queue behind it."""
    rows = _DELIVERIES.c
    secret = (
        select(_API_KEYS.c.signing_secret)
        .where(_API_KEYS.c.id == bindparam("b_key", type_=Text()))
        .scalar_subquery()
    )
    waiting = exists().where(
        rows.call_sid == bindparam("b_sid", type_=Text()),
        rows.status == DeliveryStatus.PENDING.value,
        or_(rows.claimed_by.is_(None), rows.claimed_by != bindparam("b_node", type_=Text())),
    )
    return select(secret, waiting)


_SECRET_AND_WAITING = PreparedStatement(_secret_and_waiting())
