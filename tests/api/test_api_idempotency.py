"""``Idempotency-Key`` on the call-creating POSTs: a retry gets the first reply and places
no second call; another body under the same key is a 409; a failed first try can be retried;
keys are per API key and kept 24 hours."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from api_fakes import OTHER_KEY, FakeCalls
from callback_fakes import FakeCallbacks

from callbridge.calls.errors import CallLimitReached
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.idempotency import (
    ABANDONED_AFTER,
    KEPT_FOR,
    Claimed,
    IdempotencyStore,
    Replay,
    StillRunning,
    StoredReply,
)

CALL = {"from": "1001", "to": "1002", "url": "https://app.example.com/voice.xml"}
SEED_PATH = "/didforsaleapi/index.php/api/V2/CallTermination/"


async def test_a_retry_gets_the_first_reply_and_places_no_second_call(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await client.post("/api/v2/calls", data=CALL, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await client.post(SEED_PATH, json=CALL, headers=headers)  # same fields, as JSON
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(fake_calls.placed) == 1


async def test_the_same_key_with_another_body_is_409(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    headers = {"Idempotency-Key": "order-43"}
    assert (await client.post("/api/v2/calls", data=CALL, headers=headers)).status_code == 201
    other = await client.post("/api/v2/calls", data={**CALL, "to": "1003"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["id"] == "idempotency_key_reused"
    assert len(fake_calls.placed) == 1


async def test_keys_belong_to_their_api_key(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    headers = {"Idempotency-Key": "shared-name"}
    assert (await client.post("/api/v2/calls", data=CALL, headers=headers)).status_code == 201
    mine = {**headers, "apikey": OTHER_KEY}
    assert (await client.post("/api/v2/calls", data=CALL, headers=mine)).status_code == 201
    assert len(fake_calls.placed) == 2


async def test_a_refused_first_try_can_be_retried(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    headers = {"Idempotency-Key": "order-44"}
    fake_calls.refuse = CallLimitReached("max_concurrent", retry_after=1.0)
    assert (await client.post("/api/v2/calls", data=CALL, headers=headers)).status_code == 429
    fake_calls.refuse = None
    assert (await client.post("/api/v2/calls", data=CALL, headers=headers)).status_code == 201
    assert len(fake_calls.placed) == 1


async def test_without_the_header_every_post_places_a_call(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    for _ in range(2):
        assert (await client.post("/api/v2/calls", data=CALL)).status_code == 201
    assert len(fake_calls.placed) == 2


async def test_a_bad_key_is_400(client: httpx.AsyncClient, fake_calls: FakeCalls) -> None:
    for bad in ("", "x" * 256, "with space"):
        response = await client.post("/api/v2/calls", data=CALL, headers={"Idempotency-Key": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"]["id"] == "idempotency_key_invalid"
    assert fake_calls.placed == []


async def test_the_callback_api_honours_it(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    body = {"leg_A": {"to": "1000123", "from": "1000125"}, "leg_B": {"to": "1", "from": "2"}}
    headers = {"Idempotency-Key": "cb-1"}
    first = await client.post("/voice/call/callback", json=body, headers=headers)
    again = await client.post("/voice/call/callback", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert len(fake_callbacks.placed) == 1


class ShiftedClock:
    def __init__(self) -> None:
        self.shift = timedelta()

    def now(self):  # type: ignore[no-untyped-def]
        return SystemClock().now() + self.shift


async def test_claims_in_flight_abandoned_and_expired(database: Database) -> None:
    clock = ShiftedClock()
    store = IdempotencyStore(database=database, clock=clock)
    claim = {"api_key_id": "key_1", "key": "k", "fingerprint": "f"}
    first, second = await asyncio.gather(store.claim(**claim), store.claim(**claim))
    assert {type(first), type(second)} == {Claimed, StillRunning}
    clock.shift = ABANDONED_AFTER + timedelta(seconds=1)  # its process died: taken over
    assert isinstance(await store.claim(**claim), Claimed)
    reply = StoredReply(status_code=201, body={"CallSid": "CA1"}, headers={})
    await store.complete(api_key_id="key_1", key="k", reply=reply)
    assert await store.claim(**claim) == Replay(reply)
    clock.shift += KEPT_FOR
    assert await store.prune() == 1
    assert await store.stored_keys("key_1") == []
    assert isinstance(await store.claim(**claim), Claimed)
