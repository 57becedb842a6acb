"""The HTTP app on an in-process transport: fake call and callback services, fixed lines
and voices, real API keys in SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_fakes import KEY, MAX_BODY, OTHER_KEY, UNSCOPED_KEY, FakeCalls, Keys, NoLegs
from bitrix_fakes import LINES, FakeVoices
from callback_fakes import FakeCallbacks

from callbridge.api.app import create_http_app
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.idempotency import IdempotencyStore
from callbridge.store.repository import ApiKeyRepository


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
async def keys(database: Database) -> Keys:
    repository = ApiKeyRepository(database=database, clock=SystemClock())
    main = await repository.ensure(key=KEY, name="main")
    other = await repository.ensure(key=OTHER_KEY, name="other")
    await repository.ensure(key=UNSCOPED_KEY, name="unscoped", scopes=())
    return Keys(main=main, other=other)


@pytest.fixture
def fake_calls() -> FakeCalls:
    return FakeCalls()


@pytest.fixture
def fake_callbacks() -> FakeCallbacks:
    return FakeCallbacks()


@pytest.fixture
def fake_voices() -> FakeVoices:
    return FakeVoices()


@pytest.fixture
async def client(
    database: Database,
    keys: Keys,
    fake_calls: FakeCalls,
    fake_callbacks: FakeCallbacks,
    fake_voices: FakeVoices,
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_http_app(
        engine=NoLegs(),
        calls=fake_calls,
        callbacks=fake_callbacks,
        lines=LINES,
        voices=fake_voices,
        api_keys=ApiKeyRepository(database=database, clock=SystemClock()),
        max_body_bytes=MAX_BODY,
        idempotency=IdempotencyStore(database=database, clock=SystemClock()),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://callbridge.test", headers={"apikey": KEY}
    ) as client:
        yield client
