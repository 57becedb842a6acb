"""The outbox as the dispatcher uses it: per-call order, leased claims, outcomes."""

from __future__ import annotations

from datetime import timedelta

from store_fakes import StepClock

from callbridge.store.database import Database
from callbridge.store.models import DeliveryStatus
from callbridge.store.outbox import OutboxRepository, Outcome
from callbridge.store.records import Callback, NewCall, NewEvent
from callbridge.store.repository import ApiKeyRepository, CallRepository

HOOK = Callback(url="https://example.test/hook")


async def seed(calls: CallRepository, clock: StepClock, sid: str, events: int) -> list[int]:
    await calls.create_call(
        NewCall(sid=sid, direction="outbound", from_="1", to="2", node="n", optional="t=1")
    )
    ids = []
    for i in range(events):
        recorded = await calls.record_event_with_delivery(
            sid, NewEvent(name=f"e{i}", at=clock.now()), {"i": str(i)}, HOOK
        )
        assert recorded.delivery_id is not None
        ids.append(recorded.delivery_id)
    return ids


async def test_only_the_earliest_pending_row_of_each_call_is_due(
    database: Database, calls: CallRepository, clock: StepClock
) -> None:
    a = await seed(calls, clock, "CAa", 3)
    b = await seed(calls, clock, "CAb", 2)
    outbox = OutboxRepository(database=database)
    now = clock.now()
    due = await outbox.due(now=now, limit=10)
    assert [i.delivery.id for i in due] == [a[0], b[0]]
    assert due[0].optional == "t=1"
    assert due[0].signing_secret is None
    assert [i.delivery.id for i in await outbox.due(now=now, limit=10, exclude=[a[0]])] == [b[0]]

    await outbox.claim([a[0]], node="n1", now=now, lease_until=now + timedelta(seconds=30))
    assert [i.delivery.id for i in await outbox.due(now=now, limit=10)] == [b[0]]  # a blocked
    assert await outbox.mark_delivered(a[0], node="n1", at=now, status_code=204)
    assert [i.delivery.id for i in await outbox.due(now=now, limit=10)] == [a[1], b[0]]


async def test_a_claim_is_exclusive_until_its_lease_runs_out(
    database: Database, calls: CallRepository, clock: StepClock
) -> None:
    [row] = await seed(calls, clock, "CA1", 1)
    outbox = OutboxRepository(database=database)
    now = clock.now()
    lease = now + timedelta(seconds=10)
    assert await outbox.claim([row], node="n1", now=now, lease_until=lease) == (row,)
    assert await outbox.claim([row], node="n2", now=now, lease_until=lease) == ()
    later = now + timedelta(seconds=11)
    assert await outbox.claim([row], node="n2", now=later, lease_until=later) == (row,)
    assert not await outbox.mark_delivered(row, node="n1", at=later, status_code=200)
    assert await outbox.release(node="n2") == 1
    assert await outbox.claim([row], node="n1", now=now, lease_until=lease) == (row,)


async def test_retry_reschedules_and_failed_is_final(
    database: Database, calls: CallRepository, clock: StepClock
) -> None:
    first, second = await seed(calls, clock, "CA1", 2)
    outbox = OutboxRepository(database=database)
    now = clock.now()
    retry_at = now + timedelta(seconds=5)
    await outbox.claim([first], node="n", now=now, lease_until=now + timedelta(seconds=30))
    await outbox.mark_retry(
        first, node="n", next_attempt_at=retry_at, error="boom", status_code=502
    )
    assert await outbox.due(now=now, limit=10) == ()  # the head waits; the call waits with it
    assert await outbox.next_due_at(now=now) == retry_at
    [again] = await outbox.due(now=retry_at, limit=10)
    assert (again.delivery.attempts, again.delivery.last_status_code) == (1, 502)
    await outbox.claim([first], node="n", now=retry_at, lease_until=retry_at)
    assert await outbox.mark_failed(first, node="n", at=retry_at, error="gone", status_code=None)
    [nxt] = await outbox.due(now=retry_at, limit=10)
    assert nxt.delivery.id == second
    detail = await calls.get_call("CA1")
    assert [(d.status, d.attempts, d.last_error) for d in detail.deliveries] == [
        ("failed", 2, "gone"),
        ("pending", 0, None),
    ]


async def test_due_carries_the_signing_secret_of_the_calls_key(
    database: Database, calls: CallRepository, keys: ApiKeyRepository, clock: StepClock
) -> None:
    key = await keys.create(name="acme")
    await calls.create_call(
        NewCall(
            sid="CAk", direction="inbound", from_="1", to="2", node="n", api_key_id=key.record.id
        )
    )
    await calls.record_event_with_delivery("CAk", NewEvent(name="e", at=clock.now()), {}, HOOK)
    [item] = await OutboxRepository(database=database).due(now=clock.now(), limit=1)
    assert item.signing_secret == key.record.signing_secret


async def test_settle_records_a_batch_only_on_rows_the_node_still_holds(
    database: Database, calls: CallRepository, clock: StepClock
) -> None:
    [a], [b], [c], [d] = [await seed(calls, clock, f"CA{n}", 1) for n in "abcd"]
    outbox = OutboxRepository(database=database)
    now = clock.now()
    lease_time = timedelta(seconds=30)
    lease = now + lease_time
    assert await outbox.claim([a, b, c, d], node="n1", now=now, lease_until=lease) == (a, b, c, d)
    later = lease + timedelta(seconds=1)
    assert await outbox.claim([c], node="n2", now=later, lease_until=later + lease_time) == (c,)
    retry_at = later + timedelta(seconds=5)
    outcomes = [
        Outcome(delivery_id=a, status=DeliveryStatus.DELIVERED, at=later, status_code=200),
        Outcome(
            delivery_id=b,
            status=DeliveryStatus.PENDING,
            at=later,
            status_code=503,
            error="busy",
            next_attempt_at=retry_at,
        ),
        Outcome(delivery_id=c, status=DeliveryStatus.DELIVERED, at=later, status_code=200),
    ]
    assert await outbox.settle(outcomes, node="n1", release=[d]) == 2
    settled = {
        sid: (await calls.get_call(sid)).deliveries[0] for sid in ("CAa", "CAb", "CAc", "CAd")
    }
    assert [(r.status, r.attempts, r.last_status_code) for r in settled.values()] == [
        ("delivered", 1, 200),
        ("pending", 1, 503),
        ("pending", 0, None),  # n2's now
        ("pending", 0, None),
    ]
    assert settled["CAa"].delivered_at == later
    assert settled["CAb"].next_attempt_at == retry_at
    assert [i.delivery.id for i in await outbox.due(now=later, limit=10)] == [d]
