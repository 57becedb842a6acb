"""The calls table's hot statements, built once with bind parameters.

A statement object that is executed again and again is compiled once and found in the
compiled cache by a memoised key; building ``update(...).where(...).values(...)`` anew for
each change cost more CPU than SQLite took to run it (profile of the outbound-call bench).
Bind names carry a ``b_`` prefix: an UPDATE reserves the bare column names for its SET.
They run as :class:`PreparedStatement`: on SQLite, on its driver directly.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Integer,
    Table,
    Text,
    Update,
    bindparam,
    func,
    insert,
    null,
    select,
    update,
)

from callbridge.store.models import CallRow, UtcDateTime
from callbridge.store.prepared import PreparedStatement
from callbridge.store.records import CallEnding

CALLS = cast(Table, CallRow.__table__)
INSERT_CALL = PreparedStatement(insert(CALLS))
ANSWERED_AT = PreparedStatement(
    select(CALLS.c.answered_at).where(CALLS.c.sid == bindparam("b_sid"))
)


def by_sid(values: dict[str, Any]) -> Update:
    """``UPDATE calls SET <values> WHERE sid = :b_sid RETURNING *``."""
    return update(CALLS).where(CALLS.c.sid == bindparam("b_sid")).values(values).returning(*CALLS.c)


@cache
def status_update(
    *, answers: bool, counts_event: bool, ends: bool, sets_dialog: bool = False
) -> PreparedStatement:
    """``UPDATE calls SET status ...  WHERE sid = :b_sid RETURNING *``.

    ``answers`` stamps ``answered_at`` (``:b_at``) unless already set; ``counts_event``
    bumps ``last_event_seq``; ``sets_dialog`` stores ``sip_dialog`` (``:b_sip_dialog``);
    ``ends`` sets the ending columns (:func:`ending_params`) and clears the dialog."""
    values: dict[str, Any] = {"status": bindparam("b_status", type_=Text())}
    if answers:
        at = bindparam("b_at", type_=UtcDateTime())
        values["answered_at"] = func.coalesce(CALLS.c.answered_at, at)
    if counts_event:
        values["last_event_seq"] = CALLS.c.last_event_seq + 1
    if sets_dialog:
        values["sip_dialog"] = bindparam("b_sip_dialog", type_=JSON())
    if ends:
        values["sip_dialog"] = null()
        values["ended_at"] = bindparam("b_ended_at", type_=UtcDateTime())
        values["duration"] = bindparam("b_duration", type_=Integer())
        values["hangup_cause"] = bindparam("b_hangup_cause", type_=Text())
        values["hangup_by"] = bindparam("b_hangup_by", type_=Text())
        values["sip_code"] = bindparam("b_sip_code", type_=Integer())
    return PreparedStatement(by_sid(values))


BUMP_EVENT_SEQ = PreparedStatement(by_sid({"last_event_seq": CALLS.c.last_event_seq + 1}))
# Counts a webhook of the call (``callback_count``): returns the count it leaves.
BUMP_CALLBACK_COUNT = PreparedStatement(
    update(CALLS)
    .where(CALLS.c.sid == bindparam("b_sid"))
    .values(callback_count=CALLS.c.callback_count + 1)
    .returning(CALLS.c.callback_count)
)


HANGUP_CAUSE_CHARS = 1024  # calls.hangup_cause (migration 0014; PostgreSQL refuses more)


def ending_params(
    *, at: datetime, answered_at: datetime | None, ending: CallEnding
) -> dict[str, Any]:
    """The ``ends`` parameters of :func:`status_update`: the duration runs from the answer;
    a cause longer than the column (an application error's detail) is cut to fit."""
    duration = 0 if answered_at is None else max(0, round((at - answered_at).total_seconds()))
    return {
        "b_ended_at": at,
        "b_duration": duration,
        "b_hangup_cause": ending.cause[:HANGUP_CAUSE_CHARS],
        "b_hangup_by": ending.by,
        "b_sip_code": ending.sip_code,
    }
