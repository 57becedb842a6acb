"""PlanExecutor: runs a plan on the caller's leg.

``<Reject/>`` is 603 Decline, ``<Reject reason="busy"/>`` 486 Busy Here (both ``blocked``);
``<Hangup/>`` is 603 Decline to a caller not answered yet (a BYE once answered; ``missed``);
``<Forward>``: :mod:`.forward`; ``<Queue>``: the caller waits in the queue, or, with no
such queue (or no queues at all), the backup plan runs and the call's events say why.
A plan that cannot run and has no backup gives the caller 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from callbridge.calls.control.forward import ForwardRunner
from callbridge.calls.control.notify import HangupType
from callbridge.calls.control.outcome import Accepted, PlanOutcome, Timeline
from callbridge.calls.control.plan import (
    Forward,
    Hangup,
    Plan,
    PlanError,
    Queue,
    Reject,
    RejectReason,
    plan_name,
)
from callbridge.calls.control.plan_parser import parse_plan
from callbridge.calls.control.ports import Queues
from callbridge.engine.events import EndReason, LegState
from callbridge.engine.leg import CallLeg

log = logging.getLogger(__name__)

DECLINE = 603
BUSY_HERE = 486
NO_PLAN = 500


class PlanExecutor:
    def __init__(
        self,
        *,
        caller: CallLeg,
        forward: Callable[[], ForwardRunner],
        queues: Queues | None,
        timeline: Timeline,
        accepted: Accepted,
        backup: Plan | None,
    ) -> None:
        self._caller = caller
        self._forward = forward
        self._queues = queues
        self._timeline = timeline
        self._accepted = accepted
        self._backup = backup

    async def run(self, plan: Plan, *, source: str) -> PlanOutcome:
        """Run ``plan`` (``source`` says where it came from: ``answer``, ``backup``...)."""
        await self._timeline.note("control_plan", {"plan": plan_name(plan), "source": source})
        match plan:
            case Reject(reason=reason):
                busy = reason is RejectReason.BUSY
                await self._end(
                    EndReason.BUSY if busy else EndReason.DECLINED,
                    BUSY_HERE if busy else DECLINE,
                    "rejected (busy)" if busy else "rejected",
                )
                return PlanOutcome(kind=HangupType.BLOCKED, detail="rejected")
            case Hangup():
                await self._end(EndReason.DECLINED, DECLINE, "hung up by call control")
                return PlanOutcome(kind=HangupType.MISSED, detail="hangup")
            case Forward():
                return await self._forward().run(plan)
            case Queue(queue_id=queue_id):
                return await self._queue(queue_id, source=source)

    async def no_plan(self, why: str) -> PlanOutcome:
        """Nothing usable came and there is no backup: the caller gets 500."""
        await self._timeline.note("control_failed", {"why": why})
        await self._end(EndReason.FAILED, NO_PLAN, f"call control: {why}")
        return PlanOutcome(kind=HangupType.MISSED, detail=why)

    async def _queue(self, queue_id: str, *, source: str) -> PlanOutcome:
        queues = self._queues
        if queues is None or not queues.exists(queue_id):
            why = "queues are not available" if queues is None else f"no queue {queue_id!r}"
            await self._timeline.note("queue_unavailable", {"queue_id": queue_id, "why": why})
            return await self._fall_back(why, source=source)
        await self._timeline.note("queue", {"queue_id": queue_id})
        # CallAccepted goes out when the member answers, not once the bridged call ended.
        result = await queues.wait_in(self._caller, queue_id, answered=self._accepted)
        if result.answered_by is not None:
            return PlanOutcome(kind=HangupType.ACCEPTED)
        if self._caller.ended is not None:
            return PlanOutcome(kind=HangupType.MISSED, detail="the caller hung up in the queue")
        if result.overflow_plan is None:
            return await self._fall_back(f"queue {queue_id!r} overflowed", source=source)
        try:
            overflow = parse_plan(result.overflow_plan)
        except PlanError as exc:
            return await self._fall_back(
                f"queue {queue_id!r}'s overflow plan: {exc}", source=source
            )
        if isinstance(overflow, Queue):
            return await self._fall_back("an overflow plan may not queue again", source=source)
        return await self.run(overflow, source=f"queue {queue_id} overflow")

    async def _fall_back(self, why: str, *, source: str) -> PlanOutcome:
        backup = self._backup
        if backup is None or source == "backup":
            return await self.no_plan(why)
        return await self.run(backup, source="backup")

    async def _end(self, reason: EndReason, code: int, detail: str) -> None:
        if self._caller.state is LegState.ANSWERED:
            await self._caller.hangup(detail=detail)
        else:
            await self._caller.hangup(reason, code, detail=detail)
