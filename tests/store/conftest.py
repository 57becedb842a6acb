"""A migrated database per test (a SQLite file, or a fresh PostgreSQL database), and a
clock the test moves by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from store_fakes import Notifications, StepClock

from callbridge.store.database import Database
from callbridge.store.repository import ApiKeyRepository, CallRepository
from postgres_server import fresh_database


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(
    params=[
        "sqlite-on-loop",
        "async-engine",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
    ]
)
async def database(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """Both ways of running transactions on SQLite (on the event loop, and the async engine
    that a PostgreSQL database uses), and PostgreSQL itself (an empty database of the
    session's server).  A second ``Database`` on the same data opens ``database.url``."""
    async with AsyncExitStack() as stack:
        url = db_url
        if request.param == "postgresql":
            url = await stack.enter_async_context(
                fresh_database(request.getfixturevalue("postgres"))
            )
        database = Database(url=url, sqlite_on_loop=request.param == "sqlite-on-loop")
        stack.push_async_callback(database.close)
        await database.migrate()
        yield database


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
