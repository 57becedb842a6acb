"""Database.run: one transaction per unit of work, on either runner."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text

from callbridge.store.database import Database


class Refused(Exception):
    pass


def _insert(name: str) -> Callable[[Connection], int]:
    def work(connection: Connection) -> int:
        connection.execute(
            text(
                "INSERT INTO api_keys (id, name, key_hash, signing_secret, scopes, created_at)"
                " VALUES (:id, :id, :id, 's', '[]', '2026-01-01 00:00:00.000000')"
            ),
            {"id": name},
        )
        return 1

    return work


async def _names(database: Database) -> list[str]:
    def work(connection: Connection) -> list[str]:
        return list(connection.scalars(text("SELECT id FROM api_keys ORDER BY id")))

    return await database.run(work)


async def test_work_that_returns_commits_and_work_that_raises_rolls_back(
    database: Database,
) -> None:
    await database.run(_insert("k1"))

    def half_then_refuse(connection: Connection) -> None:
        _insert("k2")(connection)
        raise Refused

    with pytest.raises(Refused):
        await database.run(half_then_refuse)
    assert await _names(database) == ["k1"]


async def test_sqlite_work_runs_on_the_loop_on_one_connection(
    db_url: str,
) -> None:
    database = Database(url=db_url)
    await database.migrate()

    def where(connection: Connection) -> tuple[int, int]:
        return threading.get_ident(), id(connection.connection.dbapi_connection)

    try:
        seen = {await database.run(where) for _ in range(5)}
        assert len(seen) == 1
        assert next(iter(seen))[0] == threading.get_ident()
    finally:
        await database.close()


async def test_a_closed_database_can_be_used_again(database: Database) -> None:
    await database.close()
    await database.run(_insert("k3"))
    assert await _names(database) == ["k3"]
