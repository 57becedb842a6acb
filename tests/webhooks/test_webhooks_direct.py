"""Rows written already leased to this process's dispatcher and handed over in memory."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

from dispatch_support import CLOCK, DispatcherFactory
from webhook_flow import emit, full_call, new_call

from callbridge.store.database import Database
from callbridge.store.outbox import DirectClaim, OutboxItem
from callbridge.store.repository import CallRepository
from callbridge.webhooks.params import CallbackEvent
from webhook_receiver import Received, Receiver

STATUSES = ["initiated", "ringing", "answered", "completed"]


class CrashingNode:
    """A dispatcher that grants leases, then dies before it sends what it was handed."""

    def __init__(self, lease: float) -> None:
        self.lease = lease
        self.handed: list[OutboxItem] = []
        self.notified = 0

    def notify(self) -> None:
        self.notified += 1

    def direct_claim(self) -> DirectClaim | None:
        return DirectClaim(node="crashed", lease_until=CLOCK.now() + timedelta(seconds=self.lease))

    def take(self, item: OutboxItem) -> None:
        self.handed.append(item)


def by_call(received: list[Received]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for r in received:
        grouped[r.form["CallSid"]].append(r.form["CallStatus"])
    return dict(grouped)


async def test_rows_go_out_without_polling_in_order(
    database: Database, receiver: Receiver, make_dispatcher: DispatcherFactory
) -> None:
    await receiver.start()
    dispatcher = make_dispatcher(poll_interval=30.0)
    calls = CallRepository(database=database, clock=CLOCK, listener=dispatcher)
    dispatcher.start()
    await _until(lambda: dispatcher.direct_claim() is not None)
    sids = [f"CAd{i}" for i in range(4)]
    for sid in sids:
        await new_call(calls, sid, callback_url=receiver.url())
    for event in CallbackEvent:
        for sid in sids:
            await emit(calls, sid, event)

    await receiver.wait_for(lambda: len(receiver.requests) == 16)
    assert by_call(receiver.requests) == {sid: STATUSES for sid in sids}
    detail = await calls.get_call("CAd0")
    assert all(d.attempts <= 1 for d in detail.deliveries)


async def test_a_failing_row_holds_back_its_calls_later_rows(
    database: Database, receiver: Receiver, make_dispatcher: DispatcherFactory
) -> None:
    receiver.status = 500
    receiver.delay = 0.2  # the call's later rows are written while its head is in flight
    await receiver.start()
    dispatcher = make_dispatcher()
    calls = CallRepository(database=database, clock=CLOCK, listener=dispatcher)
    dispatcher.start()
    await _until(lambda: dispatcher.direct_claim() is not None)
    sids = ["CAe", "CAf"]
    for sid in sids:
        await new_call(calls, sid, callback_url=receiver.url())
        await full_call(calls, sid)
    await receiver.wait_for(lambda: len(receiver.requests) >= 6)  # both heads, retried
    receiver.status, receiver.delay = 200, 0.0

    await receiver.wait_for(lambda: len(receiver.accepted) == 8)
    assert by_call(receiver.accepted) == {sid: STATUSES for sid in sids}
    for sid in sids:  # nothing after the head went out while the head was failing
        attempts = by_call(receiver.requests)[sid]
        assert attempts[: attempts.index("ringing")] == ["initiated"] * attempts.index("ringing")
        assert attempts[attempts.index("ringing") :] == STATUSES[1:]


async def test_rows_leased_to_a_crashed_node_are_sent_once_the_lease_expires(
    database: Database, receiver: Receiver, make_dispatcher: DispatcherFactory
) -> None:
    await receiver.start()
    crashed = CrashingNode(lease=0.5)
    writer = CallRepository(database=database, clock=CLOCK, listener=crashed)
    await new_call(writer, "CAk", callback_url=receiver.url())
    await emit(writer, "CAk", CallbackEvent.INITIATED)
    await emit(writer, "CAk", CallbackEvent.RINGING)
    assert [item.delivery.seq for item in crashed.handed] == [1, 2]
    started = time.monotonic()

    make_dispatcher(node_id="alive", poll_interval=0.05).start()
    await receiver.wait_for(lambda: len(receiver.requests) == 2)
    assert time.monotonic() - started >= 0.4  # not before the lease expired
    assert by_call(receiver.requests) == {"CAk": ["initiated", "ringing"]}


async def test_a_row_behind_another_nodes_row_waits_in_the_outbox(
    database: Database, receiver: Receiver, make_dispatcher: DispatcherFactory
) -> None:
    await receiver.start()
    crashed = CrashingNode(lease=0.5)
    writer = CallRepository(database=database, clock=CLOCK, listener=crashed)
    await new_call(writer, "CAw", callback_url=receiver.url())
    await emit(writer, "CAw", CallbackEvent.INITIATED)  # leased to the crashed node

    dispatcher = make_dispatcher(node_id="alive", poll_interval=0.05)
    calls = CallRepository(database=database, clock=CLOCK, listener=dispatcher)
    dispatcher.start()
    await _until(lambda: dispatcher.direct_claim() is not None)
    await emit(calls, "CAw", CallbackEvent.RINGING)  # not leased: an earlier row waits

    await receiver.wait_for(lambda: len(receiver.requests) == 2)
    assert by_call(receiver.requests) == {"CAw": ["initiated", "ringing"]}


async def _until(probe: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
