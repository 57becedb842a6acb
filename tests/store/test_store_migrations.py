"""Alembic set-up: programmatic upgrade, idempotent, schema equal to the ORM models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from store_fakes import StepClock

from callbridge.store.api_keys import hash_key
from callbridge.store.call_ids import call_id_of
from callbridge.store.database import Database, alembic_config
from callbridge.store.models import Base
from callbridge.store.records import Callback, CallFilters, NewEvent
from callbridge.store.repository import ApiKeyRepository, CallRepository

OLD_KEY = "key-from-before-0002-0123456789"
TABLES = {
    "api_keys",
    "server_secrets",
    "calls",
    "call_events",
    "deliveries",
    "recordings",
    "idempotency_keys",
    "voicemails",
    "voicemail_mails",
    "announcements",
    "queue_statistics",
    "queue_member_statistics",
    "announcement_audio",
    "voicemail_audio",
    "alembic_version",
}


def _schema_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrate_creates_the_schema_the_models_describe(database: Database) -> None:
    await database.migrate()  # second run: nothing to do
    async with database.engine.connect() as connection:
        assert set(await connection.run_sync(lambda c: inspect(c).get_table_names())) == TABLES
        assert await connection.run_sync(_schema_diff) == []
        version = await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
        head = ScriptDirectory.from_config(alembic_config(database.url)).get_current_head()
        assert version.scalar_one() == head


async def test_outbox_and_event_indexes(database: Database) -> None:
    async with database.engine.connect() as connection:
        indexes = await connection.run_sync(lambda c: inspect(c).get_indexes("deliveries"))
        uniques = await connection.run_sync(
            lambda c: inspect(c).get_unique_constraints("call_events")
        )
    assert any(i["column_names"] == ["status", "next_attempt_at"] for i in indexes)
    assert any(u["column_names"] == ["call_sid", "seq"] for u in uniques)


async def test_sqlite_connections_use_wal_and_a_busy_timeout(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("SQLite's pragmas")
    async with database.engine.connect() as connection:
        mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
        timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    assert (mode, timeout) == ("wal", 5000)


async def test_a_key_stored_before_0002_still_works_after_the_upgrade(db_url: str) -> None:
    database = Database(url=db_url)
    try:
        await database.migrate("0001")
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO api_keys (id, name, key_hash, signing_secret, scopes, created_at)"
                f" VALUES ('key_1', 'crm', '{hash_key(OLD_KEY)}', 's', '[]',"
                " '2026-01-01 00:00:00.000000')"
            )
        await database.migrate()
        keys = ApiKeyRepository(database=database, clock=StepClock())
        found = await keys.find_by_key(OLD_KEY)
        assert found is not None
        assert found.id == "key_1"
    finally:
        await database.close()


async def test_0004_rehashes_plain_sha256_keys_with_the_pepper(db_url: str) -> None:
    database = Database(url=db_url)
    try:
        await database.migrate("0003")
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO api_keys (id, name, key_hash, signing_secret, scopes, created_at)"
                f" VALUES ('key_2', 'crm', '{hash_key(OLD_KEY)}', 's', '[]',"
                " '2026-01-01 00:00:00.000000')"
            )
        await database.migrate()
        async with database.engine.connect() as connection:
            stored = (
                await connection.exec_driver_sql("SELECT key_hash FROM api_keys")
            ).scalar_one()
        assert stored != hash_key(OLD_KEY)
        found = await ApiKeyRepository(database=database, clock=StepClock()).find_by_key(OLD_KEY)
        assert found is not None
        assert found.id == "key_2"
    finally:
        await database.close()


async def test_0006_counts_the_callbacks_of_calls_from_before(db_url: str) -> None:
    """A call with two callbacks queued before 0006 numbers its next one 2."""
    database = Database(url=db_url)
    try:
        await database.migrate("0005")
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(
                'INSERT INTO calls (sid, direction, "from", "to", status, method,'
                " status_callback_method, status_callback_events, created_at, node,"
                " last_event_seq) VALUES ('CAold', 'outbound', '1', '2', 'ringing', 'POST',"
                " 'POST', '[]', '2026-01-01 00:00:00.000000', 'node-a', 2)"
            )
            for seq in (1, 2):
                await connection.exec_driver_sql(
                    "INSERT INTO deliveries (call_sid, seq, url, method, params, status,"
                    f" attempts, next_attempt_at) VALUES ('CAold', {seq}, 'https://h/cb',"
                    " 'POST', '{}', 'delivered', 1, '2026-01-01 00:00:00.000000')"
                )
        await database.migrate()
        calls = CallRepository(database=database, clock=StepClock())
        await calls.record_event_with_delivery(
            "CAold",
            NewEvent(name="answered", at=StepClock().now()),
            {},
            Callback(url="https://h/cb"),
            sequence_param="SequenceNumber",
        )
        deliveries = (await calls.get_call("CAold")).deliveries
        assert [d.params.get("SequenceNumber") for d in deliveries] == [None, None, "2"]
    finally:
        await database.close()


async def test_0016_gives_the_calls_from_before_their_call_id(db_url: str) -> None:
    database = Database(url=db_url)
    try:
        await database.migrate("0015")
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(
                'INSERT INTO calls (sid, direction, "from", "to", status, method,'
                " status_callback_method, status_callback_events, created_at, node,"
                " last_event_seq) VALUES ('CAold', 'inbound', '1', '2', 'completed', 'POST',"
                " 'POST', '[]', '2026-01-01 00:00:00.000000', 'node-a', 1)"
            )
        await database.migrate()
        calls = CallRepository(database=database, clock=StepClock())
        found = await calls.list_calls(CallFilters(call_id=call_id_of("CAold")))
        assert [c.sid for c in found.calls] == ["CAold"]
    finally:
        await database.close()
