"""A migrated SQLite file per test, and a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from store_fakes import Notifications, StepClock

from callbridge.store.database import Database
from callbridge.store.repository import ApiKeyRepository, CallRepository


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite-thread", "async-engine"])
async def database(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """Both ways of running transactions: SQLite's own thread, and the async engine that a
    PostgreSQL database uses."""
    database = Database(url=db_url, sqlite_thread=request.param == "sqlite-thread")
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def notifications() -> Notifications:
    return Notifications()


@pytest.fixture
def calls(database: Database, clock: StepClock, notifications: Notifications) -> CallRepository:
    return CallRepository(database=database, clock=clock, listener=notifications)


@pytest.fixture
def keys(database: Database, clock: StepClock) -> ApiKeyRepository:
    return ApiKeyRepository(database=database, clock=clock)
