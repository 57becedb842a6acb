"""PreparedStatement gives what Core's ``connection.execute`` gives, on every database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Table, bindparam, exists, insert, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from callbridge.store.database import Database
from callbridge.store.models import CallRow, DeliveryRow
from callbridge.store.prepared import NotPreparable, PreparedStatement

CALLS = cast(Table, CallRow.__table__)
DELIVERIES = cast(Table, DeliveryRow.__table__)
AT = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)  # no microseconds: stored with six zeros


def call_values(sid: str, **more: Any) -> dict[str, Any]:
    return {
        "sid": sid,
        "direction": "outbound-api",
        "from": "100",
        "to": "200",
        "status": "queued",
        "method": "POST",
        "status_callback_method": "POST",
        "status_callback_events": ["completed"],
        "created_at": AT,
        "node": "n1",
        "last_event_seq": 0,
        **more,
    }


INSERT_CALL = PreparedStatement(insert(CALLS))
ANSWER = PreparedStatement(
    update(CALLS)
    .where(CALLS.c.sid == bindparam("b_sid"))
    .values(status="in-progress", answered_at=bindparam("b_at"), sip_dialog=bindparam("b_d"))
    .returning(*CALLS.c)
)
# A literal bound in the statement, an EXISTS read back as a boolean.
QUEUED_AND_OTHERS = PreparedStatement(
    select(
        CALLS.c.created_at,
        exists().where(CALLS.c.sid != bindparam("b_sid"), CALLS.c.status == "queued"),
    ).where(CALLS.c.sid == bindparam("b_sid"))
)
SET_STATUS = PreparedStatement(
    update(CALLS).where(CALLS.c.sid == bindparam("b_sid")).values(status=bindparam("b_status"))
)


async def test_insert_update_and_select_read_back_as_core_reads_them(database: Database) -> None:
    later = AT + timedelta(seconds=3, microseconds=250)

    def work(connection: Connection) -> tuple[Any, ...]:
        INSERT_CALL.execute(connection, call_values("CA1"))
        connection.execute(insert(CALLS), call_values("CA2", optional="x=1"))
        answered = ANSWER.execute(connection, {"b_sid": "CA1", "b_at": later, "b_d": {"a": [1]}})
        core = connection.execute(select(*CALLS.c).where(CALLS.c.sid == "CA1")).one()
        mine = QUEUED_AND_OTHERS.execute(connection, {"b_sid": "CA1"}).one()
        return answered.one(), tuple(core), mine, answered.rowcount

    answered, core, mine, rowcount = await database.run(work)
    assert answered == core
    row = dict(zip(ANSWER.columns, answered, strict=True))
    assert row["answered_at"] == later
    assert row["answered_at"].tzinfo is not None
    assert row["sip_dialog"] == {"a": [1]}
    assert row["status_callback_events"] == ["completed"]
    assert row["created_at"] == AT
    assert mine == (AT, True)
    assert rowcount == 1
    assert QUEUED_AND_OTHERS.columns[0] == "created_at"


async def test_no_row_and_rows_changed_by_execute_many(database: Database) -> None:
    def work(connection: Connection) -> tuple[Any, ...]:
        INSERT_CALL.execute(connection, call_values("CA1"))
        INSERT_CALL.execute(connection, call_values("CA2"))
        missing = ANSWER.execute(connection, {"b_sid": "nope", "b_at": AT, "b_d": None})
        changed = SET_STATUS.execute_many(
            connection,
            [{"b_sid": sid, "b_status": "ringing"} for sid in ("CA1", "CA2", "nope")],
        )
        statuses = connection.execute(select(CALLS.c.status).order_by(CALLS.c.sid)).scalars()
        return (
            missing.one_or_none(),
            changed,
            tuple(statuses),
            SET_STATUS.execute_many(connection, []),
        )

    assert await database.run(work) == (None, 2, ("ringing", "ringing"), 0)


async def test_database_and_bind_errors_come_out_as_cores(database: Database) -> None:
    def duplicate(connection: Connection) -> None:
        INSERT_CALL.execute(connection, call_values("CA1"))
        INSERT_CALL.execute(connection, call_values("CA1"))

    with pytest.raises(IntegrityError):
        await database.run(duplicate)

    def unserialisable(connection: Connection) -> None:
        INSERT_CALL.execute(connection, call_values("CA1", sip_dialog={"x": object()}))

    with pytest.raises(StatementError, match="not JSON serializable"):
        await database.run(unserialisable)

    def count(connection: Connection) -> int:
        return len(connection.execute(select(CALLS.c.sid)).all())

    assert await database.run(count) == 0  # both transactions rolled back


async def test_a_statement_needing_python_side_defaults_is_refused(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("only SQLite's statements are compiled by PreparedStatement")
    needs_default = PreparedStatement(insert(DELIVERIES))  # attempts has default=0

    def work(connection: Connection) -> None:
        needs_default.execute(connection, {"call_sid": "CA1", "seq": 1, "url": "http://x/"})

    with pytest.raises(NotPreparable, match="defaults"):
        await database.run(work)


async def test_sqlite_keeps_timestamps_as_sqlalchemys_datetime_text(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL stores timestamptz")
    later = datetime(2026, 12, 1, 11, 30, 5, 42, tzinfo=timezone(timedelta(hours=1)))

    def work(connection: Connection) -> list[tuple[Any, ...]]:
        INSERT_CALL.execute(connection, call_values("CA1"))
        connection.execute(insert(CALLS), call_values("CA2", created_at=later))
        text = "SELECT created_at FROM calls ORDER BY sid"
        return [tuple(row) for row in connection.exec_driver_sql(text)]

    assert await database.run(work) == [
        ("2026-12-01 10:00:00.000000",),
        ("2026-12-01 10:30:05.000042",),
    ]
