"""CallRepository and ApiKeyRepository round-trips on a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta
from typing import cast

import pytest
from sqlalchemy.exc import StatementError
from store_fakes import Notifications, StepClock

from callbridge.store.call_ids import call_id_of
from callbridge.store.database import Database
from callbridge.store.errors import CallNotFound, DuplicateCall, InvalidCursor
from callbridge.store.records import (
    Callback,
    CallEnding,
    CallFilters,
    Cursor,
    EventWrite,
    NewCall,
    NewEvent,
)
from callbridge.store.repository import ApiKeyRepository, CallRepository

HOOK = Callback(url="https://example.test/hook", method="post")


def new_call(sid: str, **changes: object) -> NewCall:
    fields: dict[str, object] = {
        "sid": sid,
        "direction": "outbound",
        "from_": "15550001111",
        "to": "19499300360",
        "node": "node-a",
        "status_callback": HOOK.url,
        "status_callback_events": ("initiated", "completed"),
        "secret_key": "s",
        "optional": "token=1",
    }
    fields.update(changes)
    return NewCall(**fields)  # type: ignore[arg-type]


async def test_call_round_trip_and_lifecycle(calls: CallRepository, clock: StepClock) -> None:
    created = await calls.create_call(new_call("CA1", parent_sid="CA0"))
    assert (created.status, created.from_, created.parent_sid) == ("queued", "15550001111", "CA0")
    assert created.status_callback_events == ("initiated", "completed")
    assert created.created_at.tzinfo is not None
    answered_at = clock.now()
    await calls.update_status("CA1", "in-progress", at=answered_at)
    ending = CallEnding(cause="hung_up", by="remote", sip_code=200)
    ended = await calls.update_status(
        "CA1", "completed", at=answered_at + timedelta(seconds=61.6), ending=ending
    )
    assert (ended.answered_at, ended.duration, ended.hangup_by) == (answered_at, 62, "remote")
    fetched = (await calls.get_call("CA1")).call
    assert fetched == ended
    with pytest.raises(DuplicateCall):
        await calls.create_call(new_call("CA1"))
    with pytest.raises(CallNotFound):
        await calls.update_status("nope", "ringing", at=clock.now())


async def test_a_cause_longer_than_its_column_is_cut_to_fit(
    calls: CallRepository, clock: StepClock
) -> None:
    """An application error's detail ends the call (PostgreSQL refused it whole)."""
    await calls.create_call(new_call("CA1"))
    cause = "application error: invalid document from http://app/x: " + "y" * 2000
    ended = await calls.update_status(
        "CA1", "completed", at=clock.now(), ending=CallEnding(cause=cause, by="local")
    )
    assert ended.hangup_cause == cause[:1024]
    assert (await calls.get_call("CA1")).call.hangup_cause == cause[:1024]


async def test_events_and_deliveries_commit_together_in_seq_order(
    calls: CallRepository, clock: StepClock, notifications: Notifications
) -> None:
    await calls.create_call(new_call("CA1"))
    first = await calls.record_event_with_delivery(
        "CA1", NewEvent(name="initiated", at=clock.now()), {"CallStatus": "initiated"}, HOOK
    )
    second = await calls.record_event_with_delivery(
        "CA1", NewEvent(name="dtmf", at=clock.now(), data={"digits": "12"}), {}, None
    )
    third = await calls.record_event_with_delivery(
        "CA1", NewEvent(name="completed", at=clock.now()), {"CallStatus": "completed"}, HOOK
    )
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert second.delivery_id is None
    assert notifications.count == 2
    detail = await calls.get_call("CA1")
    assert [(e.seq, e.name) for e in detail.events] == [
        (1, "initiated"),
        (2, "dtmf"),
        (3, "completed"),
    ]
    assert detail.events[1].data == {"digits": "12"}
    assert [(d.seq, d.method, d.status, d.attempts) for d in detail.deliveries] == [
        (1, "POST", "pending", 0),
        (3, "POST", "pending", 0),
    ]
    assert detail.deliveries[1].params == {"CallStatus": "completed"}


async def test_a_failed_write_leaves_neither_event_nor_delivery(
    calls: CallRepository, clock: StepClock, notifications: Notifications
) -> None:
    await calls.create_call(new_call("CA1"))
    unserialisable = cast(dict[str, str], {"CallStatus": object()})
    with pytest.raises(StatementError, match="not JSON serializable"):
        await calls.record_event_with_delivery(
            "CA1", NewEvent(name="ringing", at=clock.now()), unserialisable, HOOK
        )
    with pytest.raises(CallNotFound):
        await calls.record_event_with_delivery(
            "nope", NewEvent(name="ringing", at=clock.now()), {}, HOOK
        )
    detail = await calls.get_call("CA1")
    assert (detail.events, detail.deliveries, notifications.count) == ((), (), 0)
    after = await calls.record_event_with_delivery(
        "CA1", NewEvent(name="ringing", at=clock.now()), {}, HOOK
    )
    assert after.seq == 1


async def test_concurrent_writers_get_distinct_consecutive_seqs(
    database: Database, calls: CallRepository, clock: StepClock
) -> None:
    await calls.create_call(new_call("CA1"))
    other_db = Database(url=database.url)  # a second engine: another process, in effect
    other = CallRepository(database=other_db, clock=clock)
    try:
        results = await asyncio.gather(
            *(
                repo.record_event_with_delivery(
                    "CA1", NewEvent(name=f"e{i}", at=clock.now()), {}, HOOK
                )
                for i in range(20)
                for repo in (calls, other)
            )
        )
    finally:
        await other_db.close()
    assert sorted(r.seq for r in results) == list(range(1, 41))


async def test_list_calls_filters_and_pages_newest_first(
    calls: CallRepository, clock: StepClock
) -> None:
    for i in range(7):
        await calls.create_call(new_call(f"CA{i}", direction="inbound" if i % 2 else "outbound"))
    page = await calls.list_calls(CallFilters(), limit=3)
    assert [c.sid for c in page.calls] == ["CA6", "CA5", "CA4"]
    assert page.next_cursor is not None
    cursor = Cursor.decode(page.next_cursor.encode())
    rest = await calls.list_calls(CallFilters(), limit=10, after=cursor)
    assert [c.sid for c in rest.calls] == ["CA3", "CA2", "CA1", "CA0"]
    assert rest.next_cursor is None
    inbound = await calls.list_calls(CallFilters(direction="inbound"))
    assert [c.sid for c in inbound.calls] == ["CA5", "CA3", "CA1"]
    by_call_id = await calls.list_calls(CallFilters(call_id=call_id_of("CA4")))
    assert [c.sid for c in by_call_id.calls] == ["CA4"]
    with pytest.raises(InvalidCursor):
        Cursor.decode("not-a-cursor")


async def test_close_orphaned_calls_ends_only_this_nodes_live_calls(
    calls: CallRepository, clock: StepClock
) -> None:
    await calls.create_call(new_call("live"))
    await calls.create_call(new_call("elsewhere", node="node-b"))
    await calls.create_call(new_call("done"))
    await calls.update_status(
        "done", "completed", at=clock.now(), ending=CallEnding(cause="hung_up", by="remote")
    )
    closed = await calls.close_orphaned_calls("node-a", "node_restart")
    assert [(o.call.sid, o.call.status, o.call.hangup_cause) for o in closed] == [
        ("live", "completed", "node_restart")
    ]
    assert await calls.close_orphaned_calls("node-a", "node_restart") == ()
    assert (await calls.get_call("elsewhere")).call.ended_at is None


DIALOG = {"call_id": "abc@host", "local_seq": 1, "route_set": ["<sip:proxy;lr>"]}


async def test_an_answered_calls_dialog_is_kept_until_it_ends(
    calls: CallRepository, clock: StepClock, database: Database
) -> None:
    for sid in ("live", "ended"):
        await calls.create_call(new_call(sid))
        await calls.update_status(sid, "in-progress", at=clock.now(), sip_dialog=DIALOG)
    await calls.update_status(
        "ended", "completed", at=clock.now(), ending=CallEnding(cause="hung_up", by="remote")
    )
    async with database.engine.connect() as connection:
        stored = dict((await connection.exec_driver_sql("SELECT sid, sip_dialog FROM calls")).all())
    assert stored["ended"] is None
    [orphan] = await calls.close_orphaned_calls("node-a", "node_restart")
    assert orphan.call.sid == "live"
    assert orphan.sip_dialog == DIALOG
    async with database.engine.connect() as connection:
        left = (await connection.exec_driver_sql("SELECT sip_dialog FROM calls")).scalars().all()
    assert left == [None, None]


async def test_recordings(calls: CallRepository) -> None:
    await calls.create_call(new_call("CA1"))
    recording = await calls.add_recording("CA1", path="/var/rec/CA1.wav", duration=3.5)
    await calls.set_recording_url("CA1", "https://example.test/rec/CA1.wav")
    detail = await calls.get_call("CA1")
    assert detail.recordings == (recording,)
    assert detail.call.recording_url == "https://example.test/rec/CA1.wav"


async def test_api_keys_store_only_a_hash(keys: ApiKeyRepository, database: Database) -> None:
    created = await keys.create(name="acme", scopes=("calls:write",), max_concurrent=5)
    found = await keys.find_by_key(created.key)
    assert found == created.record
    assert found is not None
    assert found.scopes == ("calls:write",)
    assert await keys.find_by_key(created.key + "x") is None
    assert await keys.get(created.record.id) == created.record
    async with database.engine.connect() as connection:
        stored = (await connection.exec_driver_sql("SELECT key_hash FROM api_keys")).scalar_one()
    assert stored != hashlib.sha256(created.key.encode()).hexdigest()  # keyed (0004)
    assert len(stored) == 64
    assert created.key not in stored


def _numbered(write_name: str, at: datetime, callback: Callback | None) -> EventWrite:
    return EventWrite(
        event=NewEvent(name=write_name, at=at),
        params={"CallStatus": write_name},
        callback=callback,
        sequence_param="SequenceNumber",
    )


async def test_callbacks_are_numbered_per_call_in_the_transaction_that_queues_them(
    database: Database, calls: CallRepository, clock: StepClock
) -> None:
    """Issue 11 item 7: SequenceNumber counts the call's callbacks from 0, is consumed only
    by a callback that commits, and goes on where it was after a restart."""
    await calls.create_call(
        new_call("CA1"), then=lambda call: _numbered("initiated", clock.now(), HOOK)
    )
    await calls.create_call(
        new_call("CA2"), then=lambda call: _numbered("initiated", clock.now(), HOOK)
    )
    await calls.update_status(  # an event without a callback: no number
        "CA1", "ringing", at=clock.now(), then=lambda call: _numbered("ringing", clock.now(), None)
    )
    unserialisable = cast(dict[str, str], {"CallStatus": object()})
    with pytest.raises(StatementError, match="not JSON serializable"):
        await calls.record_event_with_delivery(
            "CA1",
            NewEvent(name="answered", at=clock.now()),
            unserialisable,
            HOOK,
            sequence_param="SequenceNumber",
        )
    await calls.update_status(
        "CA1",
        "in-progress",
        at=clock.now(),
        then=lambda call: _numbered("answered", clock.now(), HOOK),
    )
    restarted_db = Database(url=database.url)  # the next run of the server
    try:
        restarted = CallRepository(database=restarted_db, clock=clock)
        await restarted.record_event_with_delivery(
            "CA1",
            NewEvent(name="completed", at=clock.now()),
            {"CallStatus": "completed"},
            HOOK,
            sequence_param="SequenceNumber",
        )
        await restarted.record_event_with_delivery(  # neither counted nor numbered
            "CA1", NewEvent(name="other", at=clock.now()), {}, HOOK
        )
    finally:
        await restarted_db.close()
    detail = await calls.get_call("CA1")
    assert [
        (d.params.get("CallStatus"), d.params.get("SequenceNumber")) for d in detail.deliveries
    ] == [
        ("initiated", "0"),
        ("answered", "1"),
        ("completed", "2"),
        (None, None),
    ]
    [other] = (await calls.get_call("CA2")).deliveries
    assert other.params["SequenceNumber"] == "0"
    async with database.engine.connect() as connection:
        counts = dict(
            (await connection.exec_driver_sql("SELECT sid, callback_count FROM calls")).all()
        )
    assert counts == {"CA1": 3, "CA2": 1}
