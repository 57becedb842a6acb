"""The originated calls the server remembers, by ``external_id`` (the newest of each), for
``GET /api/originate-call?external_id=``.  In memory, bounded: the oldest go first."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from callbridge.calls.originate.request import OriginateRequest

MAX_REMEMBERED = 10_000


class OriginateStatus(StrEnum):
    AGENT_RINGING = "agent_ringing"  # the agent's phones (or the queue's members) ring
    CUSTOMER_RINGING = "customer_ringing"  # the agent answered; the customer rings
    IN_PROGRESS = "in_progress"  # both answered and bridged
    COMPLETED = "completed"  # the bridged call has ended
    AGENT_NOT_ANSWERED = "agent_not_answered"  # rejected, busy, no answer, unreachable
    CUSTOMER_NOT_ANSWERED = "customer_not_answered"
    FAILED = "failed"


_NEXT: dict[OriginateStatus, frozenset[OriginateStatus]] = {
    OriginateStatus.AGENT_RINGING: frozenset(
        {
            OriginateStatus.CUSTOMER_RINGING,
            OriginateStatus.IN_PROGRESS,
            OriginateStatus.AGENT_NOT_ANSWERED,
            OriginateStatus.CUSTOMER_NOT_ANSWERED,
            OriginateStatus.FAILED,
        }
    ),
    OriginateStatus.CUSTOMER_RINGING: frozenset(
        {
            OriginateStatus.IN_PROGRESS,
            OriginateStatus.CUSTOMER_NOT_ANSWERED,
            OriginateStatus.FAILED,
        }
    ),
    OriginateStatus.IN_PROGRESS: frozenset({OriginateStatus.COMPLETED}),
}


@dataclass(frozen=True, kw_only=True)
class OriginatedCall:
    request: OriginateRequest
    status: OriginateStatus
    started_at: datetime
    serial: int
    detail: str = ""


class OriginateLedger:
    def __init__(self, *, limit: int = MAX_REMEMBERED) -> None:
        self._calls: OrderedDict[str, OriginatedCall] = OrderedDict()
        self._limit = limit
        self._serials = itertools.count(1)

    def add(self, request: OriginateRequest) -> OriginatedCall:
        call = OriginatedCall(
            request=request,
            status=OriginateStatus.AGENT_RINGING,
            started_at=datetime.now(UTC),
            serial=next(self._serials),
        )
        self._calls.pop(request.external_id, None)
        self._calls[request.external_id] = call
        while len(self._calls) > self._limit:
            self._calls.popitem(last=False)
        return call

    def advance(self, call: OriginatedCall, status: OriginateStatus, detail: str = "") -> None:
        """Move ``call`` on, if it is still the one remembered and the move is allowed."""
        current = self._calls.get(call.request.external_id)
        if current is None or current.serial != call.serial:
            return
        if status not in _NEXT.get(current.status, frozenset()):
            return
        self._calls[call.request.external_id] = replace(current, status=status, detail=detail)

    def find(self, external_id: str) -> OriginatedCall | None:
        return self._calls.get(external_id)
