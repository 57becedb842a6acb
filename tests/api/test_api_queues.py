"""``GET /api/v2/queues`` and ``/api/v2/queues/{id}``: members and their states, waiting
callers, answered/abandoned/overflowed/left and the average wait, read from the store (what
any node counted); 404 for an unknown queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from api_fakes import KEY, NoLegs

from callbridge.api.app import create_http_app
from callbridge.calls.queues import Queues, QueueSettings, Strategy
from callbridge.calls.queues.statistics import Outcome, QueueEvent, stored_statistics
from callbridge.store.api_keys import ApiKeyRepository
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database


class States:
    def __init__(self, **states: str) -> None:
        self.states = states

    def state(self, extension: str) -> str:
        return self.states.get(extension, "offline")

    def rest(self, extension: str, seconds: float) -> None:
        pass


@pytest.fixture
async def queue_client(database: Database, keys: Any) -> AsyncIterator[httpx.AsyncClient]:
    queues = Queues(
        queues=(
            QueueSettings(
                id="test-queue", project=1, strategy=Strategy.ROUNDROBIN, members=("1001", "1002")
            ),
        ),
        engine=None,  # type: ignore[arg-type]  # nobody is rung here
        presence=States(**{"1001": "online", "1002": "busy"}),
        statistics=stored_statistics(database),
    )
    app = create_http_app(
        engine=NoLegs(),
        calls=None,  # type: ignore[arg-type]
        api_keys=ApiKeyRepository(database=database, clock=SystemClock()),
        queues=queues,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://callbridge.test", headers={"apikey": KEY}
    ) as client:
        yield client


async def test_a_queue_with_its_members_states(queue_client: httpx.AsyncClient) -> None:
    response = await queue_client.get("/api/v2/queues/test-queue")
    assert response.status_code == 200
    assert response.json() == {
        "id": "test-queue",
        "project": 1,
        "strategy": "roundrobin",
        "waiting": [],
        "members": [
            {"extension": "1001", "state": "online", "answered": 0},
            {"extension": "1002", "state": "busy", "answered": 0},
        ],
        "answered": 0,
        "abandoned": 0,
        "overflowed": 0,
        "left": 0,
        "averageWait": None,
        "uri": "/api/v2/queues/test-queue",
    }
    listed = (await queue_client.get("/api/v2/queues")).json()
    assert [q["id"] for q in listed["queues"]] == ["test-queue"]


async def test_the_counts_are_the_store_s(
    queue_client: httpx.AsyncClient, database: Database
) -> None:
    other_node = stored_statistics(database)
    for event in (
        QueueEvent(queue_id="test-queue", outcome=Outcome.ANSWERED, waited=4.0, member="1002"),
        QueueEvent(queue_id="test-queue", outcome=Outcome.ANSWERED, waited=2.0, member="1002"),
        QueueEvent(queue_id="test-queue", outcome=Outcome.LEFT, waited=9.0),
        QueueEvent(queue_id="other", outcome=Outcome.ABANDONED, waited=1.0),
    ):
        await other_node.add(event)
    queue = (await queue_client.get("/api/v2/queues/test-queue")).json()
    assert (queue["answered"], queue["left"], queue["abandoned"]) == (2, 1, 0)
    assert queue["averageWait"] == 3.0
    assert [m["answered"] for m in queue["members"]] == [0, 2]


async def test_unknown_queue_is_404_and_a_key_is_needed(queue_client: httpx.AsyncClient) -> None:
    response = await queue_client.get("/api/v2/queues/nope")
    assert response.status_code == 404
    assert response.json()["error"]["id"] == "queue_not_found"
    response = await queue_client.get("/api/v2/queues", headers={"apikey": "wrong-key-1234567"})
    assert response.status_code == 401
