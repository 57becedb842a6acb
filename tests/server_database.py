"""The database a real-server test's ``callbridge serve`` (or several nodes of it) use: a
SQLite file in the test's directory, or a fresh database on the test PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from postgres_server import fresh_database

# The ``params`` of a fixture that runs its tests once on each database.
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@asynccontextmanager
async def database_url_for(
    request: pytest.FixtureRequest, directory: Path, sqlite_file: str = "callbridge.db"
) -> AsyncIterator[str]:
    """The URL of the database ``request.param`` names: ``sqlite_file`` in ``directory``,
    or a fresh PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / sqlite_file}"
        return
    async with fresh_database(request.getfixturevalue("postgres")) as url:
        yield url
