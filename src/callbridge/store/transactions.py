"""Running a unit of store work in one transaction, on the event loop or off it.

Every repository writes its transactions as plain synchronous functions of a SQLAlchemy
``Connection`` (:data:`Work`).  How they run depends on the database:

- SQLite (:class:`SqliteOnLoop`): on the event loop itself, through the standard library's
  ``sqlite3`` driver, on one connection held open.  In WAL mode with ``synchronous=NORMAL``
  a commit appends to the WAL file in the OS's page cache and does not wait for the disk
  (it survives the process crashing, not the machine losing power): a transaction is
  0.1-0.3 ms of CPU, and handing it to a thread and back cost another 0.22 ms on a 2-core
  VM, several times per call.  Every 1000 WAL pages SQLite's own checkpoint copies them
  into the database file and syncs it, inside the commit that crossed the mark: 6 ms at
  p99.9 and 15 ms at worst on that VM (fsync 0.4 ms), against nothing below p99.  A
  checkpointer thread beside the loop was tried: it did not shorten those stalls, and a
  passive checkpoint never catches a busy writer, so the WAL grew without end.
  Running on one loop also serialises this process's writers, so they never wait on
  SQLite's file lock for each other.  One server per SQLite file: another process writing
  it would make the loop wait for the lock (up to the busy timeout).
- any other database (:class:`AsyncTransactions`): on the async engine, the function
  driven by ``AsyncConnection.run_sync`` (PostgreSQL through asyncpg).

A transaction commits when the function returns and rolls back when it raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

T = TypeVar("T")
Work = Callable[[Connection], T]


class Transactions(Protocol):
    """Runs ``work`` in one transaction and answers what it returned."""

    async def run(self, work: Callable[[Connection], T]) -> T: ...

    async def close(self) -> None: ...


class SqliteOnLoop:
    """SQLite transactions on the calling (event loop) thread, on one held connection.

    Like an engine that was disposed of, it can be used again after :meth:`close`: the
    connection is opened anew."""

    def __init__(self, *, url: URL, on_connect: Callable[[Any, Any], None]) -> None:
        # One connection for the life of the runner (StaticPool): no pool check-out and
        # reset per transaction.
        self._engine: Engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
        event.listen(self._engine, "connect", on_connect)
        self._connection: Connection | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        if self._connection is None:
            self._connection = self._engine.connect()
        with self._connection.begin():
            return work(self._connection)

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
        self._engine.dispose()


class AsyncTransactions:
    """Transactions on the async engine: ``work`` runs under ``run_sync``."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self._engine = engine

    async def run(self, work: Callable[[Connection], T]) -> T:
        async with self._engine.begin() as connection:
            return await connection.run_sync(work)

    async def close(self) -> None:
        """The async engine is the database's own; it disposes of it."""
