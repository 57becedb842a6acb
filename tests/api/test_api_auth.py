"""API keys (header, form, JSON or query field), body size and the error body of every
refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from api_fakes import KEY, MAX_BODY, OTHER_KEY, UNSCOPED_KEY, FakeCalls, Keys, NoLegs

from callbridge.api.app import create_http_app
from callbridge.api.body import MAX_BODY_BYTES
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.records import CallPage
from callbridge.store.repository import ApiKeyRepository

CALL = {"from": "1001", "to": "1002"}


def anonymous(client: httpx.AsyncClient) -> httpx.AsyncClient:
    client.headers.pop("apikey")
    return client


async def test_missing_key_is_401(client: httpx.AsyncClient, fake_calls: FakeCalls) -> None:
    anonymous(client)
    for response in (
        await client.post("/api/v2/calls", data=CALL),
        await client.get("/api/v2/calls"),
        await client.get("/api/v2/calls/CA1"),
        await client.post("/api/v2/calls/CA1", data={"Status": "completed"}),
        await client.get("/api/v2/recordings/1.wav"),
    ):
        assert response.status_code == 401
        assert response.json() == {
            "error": {
                "id": "api_key_missing",
                "message": "send your API key in the apikey header",
                "fields": {},
            }
        }
    assert fake_calls.placed == []


@pytest.mark.parametrize("key", ["wrong-key", KEY + "x", "k" * 10_000])
async def test_wrong_key_is_401(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post("/api/v2/calls", data=CALL, headers={"apikey": key})
    assert response.status_code == 401
    assert response.json()["error"]["id"] == "api_key_invalid"
    assert response.headers["www-authenticate"] == "apikey"


async def test_key_in_form_json_or_query(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    anonymous(client)
    by_form = await client.post("/api/v2/calls", data={**CALL, "apikey": KEY})
    by_json = await client.post("/api/v2/calls", json={**CALL, "ApiKey": OTHER_KEY})
    by_query = await client.post("/api/v2/calls", params={"apikey": KEY}, data=CALL)
    assert [r.status_code for r in (by_form, by_json, by_query)] == [201, 201, 201]
    assert [p.api_key_id for p in fake_calls.placed] == [keys.main.id, keys.other.id, keys.main.id]
    listed = await client.get("/api/v2/calls", params={"apikey": OTHER_KEY})
    assert [c["CallSid"] for c in listed.json()["calls"]] == [by_json.json()["CallSid"]]


async def test_the_header_wins_over_a_field(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post("/api/v2/calls", data={**CALL, "apikey": "wrong-key"})
    assert response.status_code == 201


async def test_a_bad_key_is_told_before_a_bad_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v2/calls",
        content=b"{nope",
        headers={"content-type": "application/json", "apikey": "wrong-key"},
    )
    assert response.status_code == 401


async def test_key_without_the_call_scope_is_403(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v2/calls", data=CALL, headers={"apikey": UNSCOPED_KEY})
    assert response.status_code == 403
    assert response.json()["error"]["id"] == "api_key_scope"


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, fake_calls: FakeCalls) -> None:
    big = {**CALL, "optional": "x" * MAX_BODY}
    response = await client.post("/api/v2/calls", data=big)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["id"] == "body_too_large"
    assert str(MAX_BODY) in error["message"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        yield b"from=1001&to=1002&optional="
        for _ in range(10):
            yield b"y" * 1000

    streamed = await client.post(
        "/api/v2/calls",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    assert fake_calls.placed == []


async def test_default_body_limit_is_64_kib(
    database: Database, keys: Keys, fake_calls: FakeCalls
) -> None:
    assert MAX_BODY_BYTES == 64 * 1024
    app = create_http_app(
        engine=NoLegs(),
        calls=fake_calls,
        api_keys=ApiKeyRepository(database=database, clock=SystemClock()),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers={"apikey": KEY}
    ) as client:
        under = {"from": "1001", "to": "1002", "statusCallback": "http://h/", "optional": "x"}
        assert (await client.post("/api/v2/calls", data=under)).status_code == 201
        over = b"from=1001&to=1002&x=" + b"y" * MAX_BODY_BYTES
        response = await client.post(
            "/api/v2/calls",
            content=over,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413


async def test_unknown_routes_and_methods_answer_the_error_body(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/api/v2/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["id"] == "not_found"
    wrong = await client.delete("/api/v2/calls")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["id"] == "method_not_allowed"


async def test_health_needs_no_key(client: httpx.AsyncClient) -> None:
    response = await anonymous(client).get("/health")
    assert response.json() == {"status": "ok", "legs": 0}


async def test_health_says_when_the_server_is_draining(
    database: Database, fake_calls: FakeCalls
) -> None:
    """A load balancer sees a server shutting down (it answered "ok" while it refused
    every new call with 503)."""
    engine = NoLegs()
    app = create_http_app(
        engine=engine,
        calls=fake_calls,
        api_keys=ApiKeyRepository(database=database, clock=SystemClock()),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        engine.drain_retry_after = 30.0
        response = await c.get("/health")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json() == {
        "status": "draining",
        "reason": "shutting down: new calls get 503 until the live ones have ended",
        "legs": 0,
    }


async def test_an_unexpected_error_is_a_500_error_body(
    database: Database, keys: Keys, fake_calls: FakeCalls
) -> None:
    class Broken(FakeCalls):
        async def list_calls(self, *args: object, **kwargs: object) -> CallPage:
            raise RuntimeError("database on fire")

    app = create_http_app(
        engine=NoLegs(),
        calls=Broken(),
        api_keys=ApiKeyRepository(database=database, clock=SystemClock()),
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"apikey": KEY}
    ) as client:
        response = await client.get("/api/v2/calls")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "id": "internal_error",
        "message": "internal server error",
        "fields": {},
    }


async def test_a_bad_body_without_a_key_elsewhere_is_400(client: httpx.AsyncClient) -> None:
    response = await anonymous(client).post(
        "/api/v2/calls", content=b'{"apikey": "x",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["id"] == "invalid_request"
