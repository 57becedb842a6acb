"""The async engine and session factory, and schema migration to the latest revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000


def alembic_config(url: str) -> Config:
    """An Alembic config built in code: no alembic.ini is needed at runtime."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file (``sqlite+aiosqlite:///var/x.db``) if missing."""
    made = make_url(url)
    if made.get_backend_name() == "sqlite" and made.database not in (None, "", ":memory:"):
        Path(made.database).parent.mkdir(parents=True, exist_ok=True)


class Database:
    """One database: an async engine plus the session factory every repository uses."""

    def __init__(self, *, url: str, echo: bool = False) -> None:
        self._url = url
        ensure_sqlite_directory(url)
        self._engine = create_async_engine(url, echo=echo)
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine.sync_engine, "connect", _on_sqlite_connect)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self._url

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def session(self) -> AsyncSession:
        """A new session; use it as ``async with database.session() as s``."""
        return self._sessions()

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` (Alembic, on this engine's connection)."""
        async with self._engine.begin() as connection:
            await connection.run_sync(self._upgrade, revision)

    def _upgrade(self, connection: Connection, revision: str) -> None:
        config = alembic_config(self._url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async def close(self) -> None:
        await self._engine.dispose()
