"""QueueOverflow: a queue's overflow plan (seed-004 XML) run on the waiting caller's leg by
call control's plan executor — the port ``calls.queues.enqueue.OverflowPlans``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from callbridge.calls.control.outcome import Timeline
from callbridge.engine.leg import CallLeg

log = logging.getLogger(__name__)


class PlanRunner(Protocol):
    async def run_plan(
        self,
        leg: CallLeg,
        plan_xml: str,
        *,
        timeline: Timeline,
        number: str,
        mailbox: str | None = None,
        on_accepted: Callable[[str], Awaitable[None]] | None = None,
    ) -> str: ...


class _LoggedTimeline:
    """The plan's steps as log lines of the caller's leg (the queue's own events say that
    it overflowed; the session's tracker is not reachable from the queue verb)."""

    def __init__(self, leg_id: str) -> None:
        self._leg_id = leg_id

    async def note(self, name: str, data: Mapping[str, Any]) -> None:
        log.info("leg %s: queue overflow plan: %s %s", self._leg_id, name, dict(data))


class QueueOverflow:
    def __init__(self, *, control: PlanRunner) -> None:
        self._control = control

    async def run_plan(
        self, leg: CallLeg, plan: str, *, accepted: Callable[[str], Awaitable[None]] | None = None
    ) -> str:
        """The number is the one the caller dialled (the leg's callee); ``accepted`` is told
        the peer who answers.  How the call ended (seed-004's ``HungUp`` type)."""
        return await self._control.run_plan(
            leg,
            plan,
            timeline=_LoggedTimeline(leg.id),
            number=leg.callee.user,
            on_accepted=accepted,
        )
