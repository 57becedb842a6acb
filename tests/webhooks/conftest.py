"""A migrated SQLite file, a live HTTP receiver, and dispatchers closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dispatch_support import CLOCK, FAST_BACKOFF, DispatcherFactory

from callbridge.httpclient.client import HttpClient
from callbridge.store.database import Database
from callbridge.store.repository import ApiKeyRepository, CallRepository
from callbridge.webhooks.dispatcher import WebhookDispatcher
from webhook_receiver import LOOPBACK_ALLOWED, Receiver


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'callbridge.db'}"


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    database = Database(url=db_url)
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=2.0) as client:
        yield client


@pytest.fixture
async def make_dispatcher(
    database: Database, client: HttpClient
) -> AsyncIterator[DispatcherFactory]:
    made: list[WebhookDispatcher] = []

    def make(**overrides: Any) -> WebhookDispatcher:
        settings: dict[str, Any] = {
            "database": database,
            "client": client,
            "clock": CLOCK,
            "backoff": FAST_BACKOFF,
            "poll_interval": 0.2,
            "lease": 5.0,
            "request_timeout": 2.0,
        }
        settings.update(overrides)
        dispatcher = WebhookDispatcher(**settings)
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        await dispatcher.close()


@pytest.fixture
def calls(database: Database) -> CallRepository:
    return CallRepository(database=database, clock=CLOCK)


@pytest.fixture
def keys(database: Database) -> ApiKeyRepository:
    return ApiKeyRepository(database=database, clock=CLOCK)
