"""QueueVerb: the call flow's ``<Enqueue>`` on :class:`Queues` for one call's leg.

A document's ``<Enqueue>`` goes on with its ``action`` (``QueueResult`` bridged, hangup
or leave: an overflow, or ``<Leave/>`` in its wait document) or its next verb.  A number
routed to a queue (``run_overflow``) runs the queue's overflow plan on an overflow,
through the seed-004 plan runner when one is wired; with no plan or no runner the caller
gets 480 (or a BYE once answered) and the call's cause says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from callbridge.callflow.ports import EnqueueResult, LegPort, WaitAudio
from callbridge.callflow.verbs import Enqueue
from callbridge.calls.queues.queue import Answered
from callbridge.calls.queues.result import QueueResult
from callbridge.engine.events import EndReason
from callbridge.engine.leg import CallLeg

log = logging.getLogger(__name__)

BRIDGED = "bridged"
HANGUP = "hangup"
LEAVE = "leave"
UNAVAILABLE = 480


class OverflowPlans(Protocol):
    """Runs a seed-004 XML plan on a leg (branch control's plan executor): ``accepted`` is
    told the peer who answers; how the call ended (seed-004's ``HungUp`` type)."""

    async def run_plan(
        self, leg: CallLeg, plan: str, *, accepted: Answered | None = None
    ) -> str: ...


class QueueWaiting(Protocol):
    async def wait_in(
        self,
        leg: CallLeg,
        queue_id: str,
        *,
        answered: Answered | None = None,
        wait: WaitAudio | None = None,
    ) -> QueueResult: ...


class QueueVerb:
    def __init__(
        self,
        *,
        queues: QueueWaiting,
        caller: CallLeg,
        overflow: OverflowPlans | None = None,
        answered: Answered | None = None,
        overflowed: Callable[[str], None] | None = None,
    ) -> None:
        """``answered`` is told the extension of the member who answers the caller (or the
        peer an overflow plan reaches); ``overflowed`` how an overflow plan ended the call
        (seed-004's ``HungUp`` type)."""
        self._queues = queues
        self._caller = caller
        self._overflow = overflow
        self._answered = answered
        self._overflowed = overflowed

    async def enqueue(
        self, leg: LegPort, enqueue: Enqueue, *, wait: WaitAudio | None = None
    ) -> EnqueueResult:
        if leg is not self._caller:
            raise ValueError("this queue verb serves one call leg only")
        result = await self._queues.wait_in(
            self._caller, enqueue.queue, answered=self._answered, wait=wait
        )
        if result.answered_by is not None:
            return EnqueueResult(result=BRIDGED, queue_time=result.waited)
        if result.left:
            return EnqueueResult(result=LEAVE, queue_time=result.waited)
        if not result.overflowed:
            return EnqueueResult(result=HANGUP, queue_time=result.waited)
        if enqueue.run_overflow:
            await self._run_overflow(enqueue.queue, result.overflow_plan)
        return EnqueueResult(result=LEAVE, queue_time=result.waited)

    async def _run_overflow(self, queue_id: str, plan: str | None) -> None:
        caller = self._caller
        if plan is not None and self._overflow is not None:
            kind = await self._overflow.run_plan(caller, plan, accepted=self._answered)
            if self._overflowed is not None:
                self._overflowed(kind)
            return
        why = "it has no overflow plan" if plan is None else "no plan runner is wired"
        log.warning("queue %s: overflow, but %s: the caller is hung up", queue_id, why)
        if caller.ended is None:
            await caller.hangup(
                EndReason.OFFLINE, UNAVAILABLE, detail=f"queue {queue_id} overflow: {why}"
            )
