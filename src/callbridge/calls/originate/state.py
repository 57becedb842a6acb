"""What became of an origination, read from its stored calls (so it outlives a restart and
is the same on every node): for ``GET /api/originate-call?external_id=``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from callbridge.calls.originate.request import OriginateType
from callbridge.store.records import CallDetail, CallRecord
from callbridge.vocabulary import CallbackEvent, CallStatus, EndReason

ORIGINATE_EVENT = "originate"  # on the first call of an origination: what was asked


class OriginateStatus(StrEnum):
    AGENT_RINGING = "agent_ringing"  # the agent's phones (or the queue's members) ring
    CUSTOMER_RINGING = "customer_ringing"  # the agent answered; the customer rings
    IN_PROGRESS = "in_progress"  # both answered and bridged
    COMPLETED = "completed"  # the bridged call has ended
    AGENT_NOT_ANSWERED = "agent_not_answered"  # rejected, busy, no answer, unreachable
    CUSTOMER_NOT_ANSWERED = "customer_not_answered"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Placement:
    """What was asked (the ``originate`` event of the origination's first call)."""

    type: OriginateType
    destination: str
    project_id: int
    caller_id: str


@dataclass(frozen=True, kw_only=True)
class OriginatedCall:
    external_id: str
    placement: Placement
    status: OriginateStatus
    started_at: datetime
    call_sid: str  # the agent leg (type=context: the customer's call)
    customer_call_sid: str | None = None  # type=user/queue, once the customer is dialled
    detail: str = ""


def placement_of(detail: CallDetail) -> Placement | None:
    """The call's ``originate`` event, if it is the first call of an origination."""
    for event in detail.events:
        if event.name == ORIGINATE_EVENT:
            return _placement(event.data)
    return None


def _placement(data: Mapping[str, Any]) -> Placement | None:
    try:
        return Placement(
            type=OriginateType(data["type"]),
            destination=str(data["destination"]),
            project_id=int(data["project_id"]),
            caller_id=str(data["caller_id"]),
        )
    except (KeyError, ValueError, TypeError):
        return None


def originated_call(
    first: CallDetail, placement: Placement, customer: CallRecord | None
) -> OriginatedCall:
    """The origination whose first call is ``first`` (its ``customer`` leg: the child)."""
    call = first.call
    if placement.type is OriginateType.CONTEXT:
        status, detail = _customer_state(call)
        customer = None
    else:
        status, detail = _agent_state(first, placement, customer)
    return OriginatedCall(
        external_id=call.external_id or "",
        placement=placement,
        status=status,
        started_at=call.created_at,
        call_sid=call.sid,
        customer_call_sid=None if customer is None else customer.sid,
        detail=detail,
    )


def _agent_state(
    agent: CallDetail, placement: Placement, customer: CallRecord | None
) -> tuple[OriginateStatus, str]:
    call = agent.call
    if call.answered_at is None:
        if call.ended_at is None:
            return OriginateStatus.AGENT_RINGING, ""
        return OriginateStatus.AGENT_NOT_ANSWERED, _agent_failure(agent, placement)
    if customer is None:
        if call.ended_at is None:
            return OriginateStatus.CUSTOMER_RINGING, ""
        return OriginateStatus.FAILED, call.hangup_cause or ""
    return _customer_state(customer)


def _customer_state(call: CallRecord) -> tuple[OriginateStatus, str]:
    if call.answered_at is not None:
        if call.ended_at is None:
            return OriginateStatus.IN_PROGRESS, ""
        return OriginateStatus.COMPLETED, ""
    if call.ended_at is None:
        return OriginateStatus.CUSTOMER_RINGING, ""
    if call.status is CallStatus.FAILED:
        return OriginateStatus.FAILED, call.hangup_cause or ""
    return OriginateStatus.CUSTOMER_NOT_ANSWERED, str(call.status)


_AGENT_FAILURES = {
    EndReason.DECLINED: "rejected the call",
    EndReason.BUSY: "is busy",
    EndReason.NO_ANSWER: "did not answer in time",
    EndReason.OFFLINE: "is offline",
    EndReason.UNREACHABLE: "could not be reached",
}


def agent_failure(extension: str, reason: EndReason) -> str:
    """Why the user's phones did not answer, in the seed's wording."""
    return f"User {extension} {_AGENT_FAILURES.get(reason, f'did not answer ({reason.value})')}"


def _agent_failure(agent: CallDetail, placement: Placement) -> str:
    if placement.type is OriginateType.QUEUE:
        return f"No member of queue {placement.destination} answered"
    completed = [e for e in agent.events if e.name == CallbackEvent.COMPLETED.value]
    try:
        reason = EndReason(completed[-1].data.get("reason"))
    except (IndexError, ValueError):
        reason = EndReason.FAILED
    if reason is EndReason.FAILED:  # not the agent's doing: the cause says what happened
        return agent.call.hangup_cause or ""
    return agent_failure(placement.destination, reason)
