"""An origination's state, read from its stored calls: each step of the agent leg and the
customer leg maps to one seed status, with the reason a leg was not answered."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from callbridge.calls.originate.request import OriginateType
from callbridge.calls.originate.state import (
    OriginateStatus,
    Placement,
    originated_call,
    placement_of,
)
from callbridge.store.records import CallDetail, CallEventRecord, CallRecord
from callbridge.vocabulary import CallStatus

AT = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
USER = Placement(type=OriginateType.USER, destination="1001", project_id=1, caller_id="0123")
QUEUE = replace(USER, type=OriginateType.QUEUE, destination="sales")
CONTEXT = replace(USER, type=OriginateType.CONTEXT, destination="welcome")
RINGING = CallRecord(
    sid="CAagent",
    api_key_id=None,
    parent_sid=None,
    direction="outbound",
    from_="0123",
    to="1001",
    status=CallStatus.RINGING,
    url=None,
    method="POST",
    status_callback=None,
    status_callback_method="POST",
    status_callback_events=("completed",),
    secret_key=None,
    optional=None,
    created_at=AT,
    answered_at=None,
    ended_at=None,
    duration=None,
    hangup_cause=None,
    hangup_by=None,
    sip_code=None,
    recording_url=None,
    node="n",
    external_id="ext-1",
)
ANSWERED = replace(RINGING, status=CallStatus.IN_PROGRESS, answered_at=AT)
DONE = replace(ANSWERED, status=CallStatus.COMPLETED, ended_at=AT)


def event(name: str, seq: int, **data: Any) -> CallEventRecord:
    return CallEventRecord(call_sid="CAagent", seq=seq, name=name, at=AT, data=data)


def detail(call: CallRecord, *events: CallEventRecord) -> CallDetail:
    return CallDetail(call=call, events=events, deliveries=(), recordings=())


def missed(reason: str, status: CallStatus, cause: str) -> CallRecord:
    return replace(RINGING, status=status, ended_at=AT, hangup_cause=cause or reason)


@pytest.mark.parametrize(
    ("agent", "customer", "status"),
    [
        (RINGING, None, OriginateStatus.AGENT_RINGING),
        (ANSWERED, None, OriginateStatus.CUSTOMER_RINGING),
        (ANSWERED, replace(RINGING, sid="CAc"), OriginateStatus.CUSTOMER_RINGING),
        (ANSWERED, replace(ANSWERED, sid="CAc"), OriginateStatus.IN_PROGRESS),
        (DONE, replace(ANSWERED, sid="CAc"), OriginateStatus.IN_PROGRESS),
        (DONE, replace(DONE, sid="CAc"), OriginateStatus.COMPLETED),
        (DONE, None, OriginateStatus.FAILED),  # the agent hung up before the customer
    ],
)
def test_the_steps_of_a_user_origination(
    agent: CallRecord, customer: CallRecord | None, status: OriginateStatus
) -> None:
    found = originated_call(detail(agent), USER, customer)
    assert found.status is status
    assert found.call_sid == "CAagent"
    assert found.customer_call_sid == (None if customer is None else "CAc")
    assert (found.external_id, found.started_at) == ("ext-1", AT)


@pytest.mark.parametrize(
    ("status", "expected", "detail_text"),
    [
        (CallStatus.BUSY, OriginateStatus.CUSTOMER_NOT_ANSWERED, "busy"),
        (CallStatus.NO_ANSWER, OriginateStatus.CUSTOMER_NOT_ANSWERED, "no-answer"),
        (CallStatus.CANCELED, OriginateStatus.CUSTOMER_NOT_ANSWERED, "canceled"),
        (CallStatus.FAILED, OriginateStatus.FAILED, "no route"),
    ],
)
def test_a_customer_who_did_not_answer(
    status: CallStatus, expected: OriginateStatus, detail_text: str
) -> None:
    customer = replace(RINGING, sid="CAc", status=status, ended_at=AT, hangup_cause="no route")
    found = originated_call(detail(DONE), USER, customer)
    assert (found.status, found.detail) == (expected, detail_text)


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("declined", "User 1001 rejected the call"),
        ("busy", "User 1001 is busy"),
        ("no_answer", "User 1001 did not answer in time"),
        ("failed", "The server is too busy"),
    ],
)
def test_why_the_agent_did_not_answer(reason: str, text: str) -> None:
    agent = missed(reason, CallStatus.FAILED, "The server is too busy")
    completed = event("completed", 3, reason=reason)
    found = originated_call(detail(agent, completed), USER, None)
    assert (found.status, found.detail) == (OriginateStatus.AGENT_NOT_ANSWERED, text)


def test_no_member_of_a_queue_answered() -> None:
    agent = missed("no_answer", CallStatus.NO_ANSWER, "no member answered")
    found = originated_call(detail(agent), QUEUE, None)
    assert found.status is OriginateStatus.AGENT_NOT_ANSWERED
    assert found.detail == "No member of queue sales answered"


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (RINGING, OriginateStatus.CUSTOMER_RINGING),
        (ANSWERED, OriginateStatus.IN_PROGRESS),
        (DONE, OriginateStatus.COMPLETED),
        (missed("busy", CallStatus.BUSY, ""), OriginateStatus.CUSTOMER_NOT_ANSWERED),
        (missed("failed", CallStatus.FAILED, "503"), OriginateStatus.FAILED),
    ],
)
def test_a_context_is_its_one_call(call: CallRecord, status: OriginateStatus) -> None:
    found = originated_call(detail(call), CONTEXT, None)
    assert found.status is status
    assert found.customer_call_sid is None


def test_the_placement_is_the_originate_event() -> None:
    placed = event("originate", 2, type="user", destination="1001", project_id=1, caller_id="0123")
    assert placement_of(detail(RINGING, event("initiated", 1), placed)) == USER
    assert placement_of(detail(RINGING, event("initiated", 1))) is None
    broken = event("originate", 2, type="fax", destination="1001", project_id=1, caller_id="0")
    assert placement_of(detail(RINGING, broken)) is None
