"""Wrong API keys make their source address wait (429 with Retry-After) after a few; other
addresses are not affected; the right key from a throttled address waits too (the key is
not looked up until the wait is over)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from api_fakes import KEY, FakeCalls, NoLegs
from bitrix_fakes import LINES, FakeVoices
from callback_fakes import FakeCallbacks

from callbridge.api.app import create_http_app
from callbridge.api.key_throttle import FailedKeyThrottle, ThrottleSettings, source_of
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.repository import ApiKeyRepository

MAX_FAILURES = 5
ATTACKER = "127.0.0.66"
NEIGHBOUR = "127.0.0.67"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def clients(
    database: Database, keys: object, clock: Clock
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    throttle = FailedKeyThrottle(
        settings=ThrottleSettings(max_failures=MAX_FAILURES, seconds=30.0), monotonic=clock
    )
    app = create_http_app(
        engine=NoLegs(),
        calls=FakeCalls(),
        callbacks=FakeCallbacks(),
        lines=LINES,
        voices=FakeVoices(),
        api_keys=ApiKeyRepository(database=database, clock=SystemClock()),
        throttle=throttle,
    )
    made = {
        address: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)),
            base_url="http://callbridge.test",
        )
        for address in (ATTACKER, NEIGHBOUR)
    }
    try:
        yield made
    finally:
        for each in made.values():
            await each.aclose()


async def test_wrong_keys_from_one_address_are_throttled_with_retry_after(
    clients: dict[str, httpx.AsyncClient], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    attacker, neighbour = clients[ATTACKER], clients[NEIGHBOUR]
    caplog.set_level(logging.WARNING, logger="callbridge.api.key_throttle")
    answers = [
        (await attacker.get("/api/v2/calls", headers={"apikey": f"guess-{n}"})).status_code
        for n in range(MAX_FAILURES + 20)
    ]
    assert answers == [401] * MAX_FAILURES + [429] * 20
    throttled = await attacker.get("/api/v2/calls", headers={"apikey": "guess-x"})
    assert throttled.json()["error"]["id"] == "api_key_throttled"
    assert throttled.headers["retry-after"] == "30"
    # The right key from the throttled address waits too; the Bitrix API shares the count.
    assert (await attacker.get("/api/v2/calls", headers={"apikey": KEY})).status_code == 429
    bitrix = await attacker.get(
        "/rest/voximplant.line.get.json", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert (bitrix.status_code, bitrix.json()["error"]) == (429, "QUERY_LIMIT_EXCEEDED")
    assert "retry-after" in bitrix.headers
    # Another address is not affected.
    assert (await neighbour.get("/api/v2/calls", headers={"apikey": KEY})).status_code == 200
    assert (await neighbour.get("/api/v2/calls", headers={"apikey": "nope"})).status_code == 401
    # Logged once for the address, not once per request.
    lines = [r.getMessage() for r in caplog.records if ATTACKER in r.getMessage()]
    assert len(lines) == 1, lines
    # Once the wait is over the address is served again.
    clock.now += 31
    assert (await attacker.get("/api/v2/calls", headers={"apikey": KEY})).status_code == 200


def test_ipv6_addresses_count_by_their_64_and_the_table_is_bounded() -> None:
    assert source_of("2001:db8::1") == source_of("2001:db8::ffff") == "2001:db8::/64"
    assert source_of("::ffff:127.0.0.1") == "127.0.0.1"
    throttle = FailedKeyThrottle(settings=ThrottleSettings(max_failures=3, max_addresses=100))
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle) == 100
