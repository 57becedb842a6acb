"""``/metrics`` behind a key with the ``metrics`` scope (or public), and ``X-Request-Id``
on every request: the client's when sane, else a new one; echoed, and on the log lines
written while the request is handled."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from api_fakes import KEY, FakeCalls, NoLegs
from prometheus_client import CollectorRegistry, Counter

from callbridge.api.app import create_http_app
from callbridge.api.request_id import MAX_CHARS, request_id_of
from callbridge.log_context import REQUEST_ID, current
from callbridge.log_format import JsonFormatter
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.repository import ApiKeyRepository

METRICS_KEY = "cbk_metrics_0123456789abcdef"


def app_client(database: Database, *, public: bool) -> httpx.AsyncClient:
    registry = CollectorRegistry()
    Counter("callbridge_test_things", "things", registry=registry).inc(3)
    app = create_http_app(
        engine=NoLegs(),
        calls=FakeCalls(),
        api_keys=ApiKeyRepository(database=database, clock=SystemClock()),
        metrics=registry,
        metrics_public=public,
    )

    @app.get("/logs-a-line")
    async def logs_a_line() -> dict[str, str | None]:
        logging.getLogger("callbridge.test").warning("handling it")
        return {"request_id": REQUEST_ID.get()}

    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://callbridge.test")


@pytest.fixture
async def api(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    keys = ApiKeyRepository(database=database, clock=SystemClock())
    await keys.ensure(key=KEY, name="caller")
    await keys.ensure(key=METRICS_KEY, name="scraper", scopes=("metrics",))
    async with app_client(database, public=False) as client:
        yield client


async def test_metrics_need_a_key_with_the_metrics_scope(api: httpx.AsyncClient) -> None:
    assert (await api.get("/metrics")).status_code == 401
    assert (
        await api.get("/metrics", headers={"apikey": "wrong-key-0123456789"})
    ).status_code == 401
    refused = await api.get("/metrics", headers={"apikey": KEY})  # a call key only
    assert refused.status_code == 403
    assert refused.json()["error"]["id"] == "api_key_scope"
    for headers in ({"apikey": METRICS_KEY}, {"Authorization": f"Bearer {METRICS_KEY}"}):
        served = await api.get("/metrics", headers=headers)
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/plain; version=")
        assert "callbridge_test_things_total 3.0" in served.text
    # Not from the query string: URLs end up in logs and proxies' histories.
    assert (await api.get("/metrics", params={"apikey": METRICS_KEY})).status_code == 401


async def test_public_metrics_need_no_key(database: Database) -> None:
    async with app_client(database, public=True) as client:
        served = await client.get("/metrics")
    assert served.status_code == 200
    assert "callbridge_test_things_total 3.0" in served.text


async def test_a_sane_request_id_is_kept_echoed_and_logged(api: httpx.AsyncClient) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("callbridge.test")
    logger.addHandler(handler)
    try:
        reply = await api.get("/logs-a-line", headers={"X-Request-Id": "req-42:abc/DEF=="})
    finally:
        logger.removeHandler(handler)
    assert reply.headers["x-request-id"] == "req-42:abc/DEF=="
    assert reply.json() == {"request_id": "req-42:abc/DEF=="}
    [line] = [json.loads(each) for each in out.getvalue().splitlines()]
    assert line["message"] == "handling it"
    assert line["context"] == {"request_id": "req-42:abc/DEF=="}
    assert REQUEST_ID.get() is None  # reset after the request


@pytest.mark.parametrize(
    "given",
    [None, "", "has space", "x" * (MAX_CHARS + 1), "tab\there", 'quote"s', "ünïcode"],
)
async def test_a_missing_or_insane_request_id_is_replaced(
    api: httpx.AsyncClient, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-Id": given.encode("utf-8")}
    reply = await api.get("/health", headers=headers)
    made = reply.headers["x-request-id"]
    assert len(made) == 32
    assert made != given
    assert int(made, 16) >= 0
    assert reply.headers.get_list("x-request-id") == [made]  # one, not the client's too


async def test_errors_carry_the_request_id_too(api: httpx.AsyncClient) -> None:
    reply = await api.get("/metrics", headers={"X-Request-Id": "scrape-7"})
    assert reply.status_code == 401
    assert reply.headers["x-request-id"] == "scrape-7"


def test_request_id_of() -> None:
    assert request_id_of(b"0af7651916cd43dd8448eb211c80319c") == "0af7651916cd43dd8448eb211c80319c"
    assert request_id_of(b"a\r\nb") != "a\r\nb"
    assert current() == {}  # nothing set outside a request
