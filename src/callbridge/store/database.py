"""The database: its transactions (:mod:`.transactions`), its async engine and schema
migration to the latest revision."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from callbridge.store.transactions import AsyncTransactions, SqliteOnLoop, Transactions

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
T = TypeVar("T")


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
    if made.get_backend_name() == "sqlite" and _is_file(made.database):
        Path(made.database).parent.mkdir(parents=True, exist_ok=True)


class Database:
    """One database: the transactions every repository runs, and an async engine (for
    migrations, and the transactions of a database other than SQLite).

    ``sqlite_on_loop=False`` runs SQLite's transactions on the async engine too, as
    PostgreSQL's run (the tests use it to cover that path)."""

    def __init__(self, *, url: str, echo: bool = False, sqlite_on_loop: bool = True) -> None:
        self._url = url
        ensure_sqlite_directory(url)
        self._engine = create_async_engine(url, echo=echo)
        made = make_url(url)
        self._transactions: Transactions
        if made.get_backend_name() == "sqlite":
            event.listen(self._engine.sync_engine, "connect", _on_sqlite_connect)
        if made.get_backend_name() == "sqlite" and sqlite_on_loop and _is_file(made.database):
            self._transactions = SqliteOnLoop(url=made, on_connect=_on_sqlite_connect)
        else:
            self._transactions = AsyncTransactions(engine=self._engine)

    @property
    def url(self) -> str:
        return self._url

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction: committed when it returns, rolled back when it
        raises (the exception is re-raised here)."""
        return await self._transactions.run(work)

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` (Alembic, on this engine's connection)."""
        async with self._engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:  # before any transaction begins, or SQLite ignores it
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                await connection.run_sync(self._upgrade, revision)
                if sqlite:
                    await _check_foreign_keys(connection)
                await connection.commit()
            finally:
                if sqlite:
                    await connection.rollback()
                    await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    await connection.commit()

    def _upgrade(self, connection: Connection, revision: str) -> None:
        config = alembic_config(self._url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async def close(self) -> None:
        await self._transactions.close()
        await self._engine.dispose()


async def _check_foreign_keys(connection: AsyncConnection) -> None:
    """SQLite migrates with its foreign keys off: Alembic's batch mode copies a table that
    others refer to and drops the original (SQLite cannot change a column in place), which
    the referring rows would refuse.  What the migration left must still hold together."""
    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken}")


def _is_file(database: str | None) -> TypeGuard[str]:
    return database not in (None, "", ":memory:")
