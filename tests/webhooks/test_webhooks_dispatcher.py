"""The dispatcher against a real HTTP receiver: order, once-only, retries, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from dispatch_support import CLOCK, DispatcherFactory
from webhook_flow import emit, full_call, new_call

from callbridge.httpclient.process import ProcessHttpClient
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.outbox import OutboxRepository
from callbridge.store.repository import ApiKeyRepository, CallRepository
from callbridge.webhooks.backoff import Backoff
from callbridge.webhooks.params import CallbackEvent
from callbridge.webhooks.signing import SIGNATURE_HEADER, verify
from webhook_receiver import LOOPBACK_ALLOWED, Received, Receiver

STATUSES = ["initiated", "ringing", "answered", "completed"]


def by_call(received: list[Received]) -> dict[str, list[str]]:
    """CallSid → CallStatus values, in arrival order (POST form or GET query)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for r in received:
        params = r.form if r.method == "POST" else r.query_params
        grouped[params["CallSid"]].append(params["CallStatus"])
    return dict(grouped)


async def all_settled(database: Database, sids: list[str]) -> bool:
    repo = CallRepository(database=database, clock=SystemClock())
    for sid in sids:
        detail = await repo.get_call(sid)
        if any(d.status == "pending" for d in detail.deliveries):
            return False
    return True


async def test_events_arrive_in_order_once_with_seed_params_and_signature(
    database: Database,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
    keys: ApiKeyRepository,
) -> None:
    await receiver.start()
    # A long poll interval: only notify() can make delivery this prompt.
    dispatcher = make_dispatcher(poll_interval=30.0)
    calls = CallRepository(database=database, clock=CLOCK, listener=dispatcher)
    key = await keys.create(name="acme")
    dispatcher.start()
    sids = [f"CA{i}" for i in range(5)]
    for sid in sids:
        await new_call(
            calls, sid, callback_url=receiver.url(), api_key_id=key.record.id, secret_key="s3cr3t"
        )
    for event in CallbackEvent:  # interleave the calls' events
        for sid in sids:
            await emit(calls, sid, event)

    await receiver.wait_for(lambda: len(receiver.requests) == 20)
    assert by_call(receiver.accepted) == {sid: STATUSES for sid in sids}
    first, last = receiver.requests[0], receiver.requests[-1]
    assert first.method == "POST"
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    form = first.form
    assert parsedate_to_datetime(form.pop("Timestamp")).utcoffset() == timedelta(0)
    assert form == {
        "SequenceNumber": "0",
        "Called": "19499300360",
        "ParentCallSid": "CA0",
        "CallStatus": "initiated",
        "Direction": "Outbound",
        "CallSid": "CA0",
        "callSid": "CA0",
        "CallbackSource": "call-progress-event",
        "apikey": "s3cr3t",
    }
    assert last.form["CallStatus"] == "completed"
    for sid in sids:  # each call numbers its own callbacks, in order
        numbers = [r.form["SequenceNumber"] for r in receiver.requests if r.form["CallSid"] == sid]
        assert numbers == ["0", "1", "2", "3"]
    assert last.form["CallDuration"].isdigit()
    for r in receiver.requests:
        verify(
            header=r.headers[SIGNATURE_HEADER.lower()],
            payload=r.body,
            secret=key.record.signing_secret,
            now=time.time(),
        )
    await _wait_until(lambda: all_settled(database, sids))
    detail = await calls.get_call("CA0")
    assert [d.status for d in detail.deliveries] == ["delivered"] * 4
    assert all(d.attempts == 1 and d.last_status_code == 200 for d in detail.deliveries)


async def test_get_puts_params_and_optional_in_the_query(
    database: Database,
    calls: CallRepository,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
    keys: ApiKeyRepository,
) -> None:
    await receiver.start()
    key = await keys.create(name="acme")
    dispatcher = make_dispatcher()
    dispatcher.start()
    await new_call(
        calls,
        "CAget",
        callback_url=receiver.url("/events?site=7"),
        method="GET",
        api_key_id=key.record.id,
        optional="token=123456",
        parent_sid="CAparent",
    )
    await emit(calls, "CAget", CallbackEvent.RINGING)

    await receiver.wait_for(lambda: len(receiver.requests) == 1)
    [request] = receiver.requests
    assert (request.method, request.path, request.body) == ("GET", "/events", b"")
    assert request.query.startswith("site=7&token=123456&")
    assert request.query_params["ParentCallSid"] == "CAparent"
    assert request.query_params["CallStatus"] == "ringing"
    assert "apikey" not in request.query_params
    verify(
        header=request.headers[SIGNATURE_HEADER.lower()],
        payload=request.query.encode(),
        secret=key.record.signing_secret,
        now=time.time(),
    )


@pytest.mark.parametrize("worker", [False, True], ids=["in-process", "worker-process"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_the_signature_covers_the_bytes_received_when_the_url_needs_encoding(
    calls: CallRepository,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
    keys: ApiKeyRepository,
    method: str,
    worker: bool,
) -> None:
    """Issue 15 item 5: the server signed the unencoded query and the client sent it
    encoded (``é``, a space) or re-encoded (``%41`` became ``A``)."""
    await receiver.start()
    key = await keys.create(name="acme")
    async with contextlib.AsyncExitStack() as stack:
        overrides = {}
        if worker:
            client = ProcessHttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0)
            overrides["client"] = await stack.enter_async_context(client)
        make_dispatcher(**overrides).start()
        await new_call(
            calls,
            "CAenc",
            callback_url=receiver.url("/events?x=%41&n=é"),
            method=method,
            api_key_id=key.record.id,
            optional="b=é x",
        )
        await emit(calls, "CAenc", CallbackEvent.RINGING)
        await receiver.wait_for(lambda: len(receiver.requests) == 1)
    [request] = receiver.requests
    assert request.query.startswith("x=%41&n=%C3%A9&b=%C3%A9%20x")  # as it came on the wire
    verify(
        header=request.headers[SIGNATURE_HEADER.lower()],
        payload=request.query.encode("latin-1") if method == "GET" else request.body,
        secret=key.record.signing_secret,
        now=time.time(),
    )
    params = request.query_params if method == "GET" else {**request.query_params, **request.form}
    assert (params["x"], params["n"], params["b"]) == ("A", "é", "é x")
    assert params["CallStatus"] == "ringing"


async def test_post_appends_optional_to_the_url(
    calls: CallRepository, receiver: Receiver, make_dispatcher: DispatcherFactory
) -> None:
    await receiver.start()
    make_dispatcher().start()
    await new_call(calls, "CAopt", callback_url=receiver.url(), optional="token=123456")
    await emit(calls, "CAopt", CallbackEvent.INITIATED)

    await receiver.wait_for(lambda: len(receiver.requests) == 1)
    assert receiver.requests[0].query == "token=123456"
    assert receiver.requests[0].form["CallStatus"] == "initiated"
    assert SIGNATURE_HEADER.lower() not in receiver.requests[0].headers  # no API key


async def test_receiver_answering_500_then_200_gets_everything_in_order_once(
    database: Database,
    calls: CallRepository,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    receiver.status = 500
    await receiver.start()
    make_dispatcher().start()
    sids = ["CAa", "CAb", "CAc"]
    for sid in sids:
        await new_call(calls, sid, callback_url=receiver.url())
        await full_call(calls, sid)
    await receiver.wait_for(lambda: len(receiver.requests) >= 9)  # 3 heads, retried
    receiver.status = 200

    await receiver.wait_for(lambda: len(receiver.accepted) == 12)
    assert by_call(receiver.accepted) == {sid: STATUSES for sid in sids}
    for sid in sids:  # a call's later events never went out while an earlier one failed
        assert {s for s in by_call(receiver.requests)[sid][:3]} == {"initiated"}
    await _wait_until(lambda: all_settled(database, sids))
    detail = await calls.get_call("CAa")
    assert detail.deliveries[0].attempts >= 3
    assert detail.deliveries[0].status == "delivered"


async def test_receiver_down_then_up_gets_everything_in_order_once(
    database: Database,
    calls: CallRepository,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    make_dispatcher().start()
    sids = ["CAx", "CAy"]
    for sid in sids:
        await new_call(calls, sid, callback_url=receiver.url())
        await full_call(calls, sid)
    outbox = OutboxRepository(database=database)
    await _wait_until(lambda: _attempted(calls, "CAx", at_least=3))
    assert await outbox.next_due_at(now=CLOCK.now()) is not None
    assert receiver.requests == []
    await receiver.start()

    await receiver.wait_for(lambda: len(receiver.accepted) == 8)
    assert by_call(receiver.requests) == {sid: STATUSES for sid in sids}
    await _wait_until(lambda: all_settled(database, sids))
    detail = await calls.get_call("CAx")
    assert detail.deliveries[0].attempts >= 4
    assert detail.deliveries[0].last_error is None


async def test_restart_on_the_same_database_loses_nothing(
    db_url: str,
    database: Database,
    calls: CallRepository,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    receiver.status = 503
    await receiver.start()
    first = make_dispatcher(node_id="node-a")
    first.start()
    await new_call(calls, "CAr", callback_url=receiver.url())
    await emit(calls, "CAr", CallbackEvent.INITIATED)
    await emit(calls, "CAr", CallbackEvent.RINGING)
    await receiver.wait_for(lambda: len(receiver.requests) >= 2)
    await first.close()
    await emit(calls, "CAr", CallbackEvent.ANSWERED)  # committed while nothing dispatches
    await emit(calls, "CAr", CallbackEvent.COMPLETED)
    receiver.status = 200

    reopened = Database(url=db_url)
    second = make_dispatcher(database=reopened, node_id="node-a")
    try:
        second.start()
        await receiver.wait_for(lambda: len(receiver.accepted) == 4)
        await _wait_until(lambda: all_settled(reopened, ["CAr"]))
    finally:
        await second.close()
        await reopened.close()
    assert by_call(receiver.accepted) == {"CAr": STATUSES}


async def test_a_crashed_nodes_lease_expires_and_its_row_is_sent(
    database: Database,
    calls: CallRepository,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    await receiver.start()
    await new_call(calls, "CAc", callback_url=receiver.url())
    delivery_id = await emit(calls, "CAc", CallbackEvent.INITIATED)
    await emit(calls, "CAc", CallbackEvent.RINGING)
    assert delivery_id is not None
    outbox = OutboxRepository(database=database)
    now = CLOCK.now()
    lease_until = now + timedelta(seconds=0.3)
    assert await outbox.claim([delivery_id], node="dead", now=now, lease_until=lease_until)

    make_dispatcher(node_id="alive").start()
    await receiver.wait_for(lambda: len(receiver.accepted) == 2)
    assert by_call(receiver.accepted) == {"CAc": ["initiated", "ringing"]}


async def test_restarting_node_takes_back_its_own_leases_at_once(
    database: Database,
    calls: CallRepository,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    await receiver.start()
    await new_call(calls, "CAo", callback_url=receiver.url())
    delivery_id = await emit(calls, "CAo", CallbackEvent.INITIATED)
    assert delivery_id is not None
    now = CLOCK.now()
    outbox = OutboxRepository(database=database)
    await outbox.claim([delivery_id], node="node-a", now=now, lease_until=now + timedelta(hours=1))

    make_dispatcher(node_id="node-a").start()
    await receiver.wait_for(lambda: len(receiver.accepted) == 1)


async def test_exhausted_delivery_fails_and_unblocks_the_next(
    calls: CallRepository, receiver: Receiver, make_dispatcher: DispatcherFactory
) -> None:
    receiver.status = 410
    await receiver.start()
    backoff = Backoff(base=0.01, factor=1.0, cap=0.01, max_attempts=3, jitter=0.0)
    make_dispatcher(backoff=backoff).start()
    await new_call(calls, "CAf", callback_url=receiver.url(), events=("initiated", "ringing"))
    await emit(calls, "CAf", CallbackEvent.INITIATED)
    await emit(calls, "CAf", CallbackEvent.RINGING)

    await receiver.wait_for(lambda: len(receiver.requests) == 6)
    assert by_call(receiver.requests) == {"CAf": ["initiated"] * 3 + ["ringing"] * 3}
    await _wait_until(lambda: _all_failed(calls, "CAf"))
    detail = await calls.get_call("CAf")
    assert [(d.attempts, d.last_status_code) for d in detail.deliveries] == [(3, 410)] * 2
    assert detail.deliveries[0].last_error == "status 410"


async def test_two_nodes_share_the_outbox_without_sending_twice(
    db_url: str,
    database: Database,
    calls: CallRepository,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    await receiver.start()
    other = Database(url=db_url)
    second = make_dispatcher(database=other, node_id="n2", poll_interval=0.02)
    try:
        make_dispatcher(node_id="n1", poll_interval=0.02).start()
        second.start()
        sids = [f"CAm{i}" for i in range(8)]
        for sid in sids:
            await new_call(calls, sid, callback_url=receiver.url())
        for event in CallbackEvent:
            for sid in sids:
                await emit(calls, sid, event)
        await receiver.wait_for(lambda: len(receiver.requests) == 32)
        await _wait_until(lambda: all_settled(database, sids))
    finally:
        await second.close()
        await other.close()
    assert by_call(receiver.requests) == {sid: STATUSES for sid in sids}


async def _attempted(calls: CallRepository, sid: str, *, at_least: int) -> bool:
    detail = await calls.get_call(sid)
    return detail.deliveries[0].attempts >= at_least


async def _all_failed(calls: CallRepository, sid: str) -> bool:
    detail = await calls.get_call(sid)
    return all(d.status == "failed" for d in detail.deliveries)


async def _wait_until(probe: Callable[[], Awaitable[bool]], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
