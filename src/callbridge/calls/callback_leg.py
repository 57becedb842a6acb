"""LegRun: one leg of a two-leg callback — what to call, its :class:`CallSession` (its
tracked call, its events, its own programs and recording), its SIP leg once dialled, and
the ringback it hears while it waits for the other leg; and :class:`CallbackLegCall`, the
leg as the call API reaches it.

Its tasks (event follower, ringback, progress watchers) belong to the callback's
:class:`TaskOwner`, which cancels whatever is left of them when the callback ends.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from callbridge.callflow.verbs import Program
from callbridge.calls.request import LegName, LegSpec
from callbridge.calls.session import CallSession
from callbridge.calls.switch.ringback import Ringback
from callbridge.calls.tracker import CallTracker
from callbridge.engine.events import Answered, EarlyMedia, Ended, LegState, Ringing
from callbridge.engine.leg import CallLeg
from callbridge.engine.tasks import TaskOwner

# Why a leg's own application cannot <Dial> (its session's ``dial_refusal``).
NO_DIAL_MESSAGE = (
    "<Dial> is not available in a callback leg's application (it runs before the bridge)"
)


class LegRun:
    """One leg of the callback: what to call, its session, its SIP leg once dialled."""

    def __init__(
        self, *, name: LegName, spec: LegSpec, session: CallSession, tasks: TaskOwner
    ) -> None:
        self.name = name
        self.spec = spec
        self.session = session
        self.failure: Ended | None = None  # why it could not be dialled
        self.follower: asyncio.Task[None] | None = None
        self.ready = False
        self.ringing_reported = False  # a line: the first target to ring reported it
        self.watchers: list[asyncio.Task[None]] = []
        self._tasks = tasks
        self._ringback: Ringback | None = None

    @property
    def tracker(self) -> CallTracker:
        return self.session.tracker

    @property
    def leg(self) -> CallLeg | None:
        """Its SIP leg once dialled (or, ringing a line, once a target answered)."""
        return self.session.leg

    @property
    def answered(self) -> bool:
        return self.leg is not None and self.leg.state is LegState.ANSWERED

    @property
    def ended(self) -> Ended | None:
        return self.failure if self.leg is None else self.leg.ended

    def live_leg(self) -> CallLeg:
        assert self.leg is not None, f"leg {self.name.value} was not dialled"
        return self.leg

    async def wait_ended(self) -> Ended:
        return await self.live_leg().wait_ended()

    def start_ringback(self) -> None:
        if self.leg is not None and self._ringback is None and self.answered:
            self._ringback = Ringback(leg=self.leg, tasks=self._tasks)
            self._ringback.start()

    async def watch_progress(self, leg: CallLeg) -> None:
        """``leg``, one of a line's targets, was placed: watch it for ringing (awaited by
        awaiting :attr:`watchers`)."""
        name = f"progress {self.tracker.sid} {leg.id}"
        self.watchers.append(self._tasks.spawn(self._report_ringing(leg), name=name))

    async def _report_ringing(self, leg: CallLeg) -> None:
        """The first of a line's targets to ring reports this leg ringing."""
        async for event in leg.events():
            if isinstance(event, Answered | Ended):
                return
            if isinstance(event, Ringing | EarlyMedia) and not self.ringing_reported:
                self.ringing_reported = True
                await self.tracker.on_leg_event(event)
                return

    async def stop_ringback(self) -> None:
        ringback, self._ringback = self._ringback, None
        if ringback is not None:
            await ringback.stop()


class Callback(Protocol):
    async def hang_up(self, detail: str = "") -> None: ...


class CallbackLegCall:
    """One leg of a callback as a live call: hanging it up ends the callback; a redirect
    reaches the leg's own application while it runs (before the bridge), and is refused
    otherwise."""

    def __init__(self, *, callback: Callback, session: CallSession) -> None:
        self._callback = callback
        self._session = session

    async def hang_up(self, detail: str = "") -> None:
        await self._callback.hang_up(detail)

    def redirect(self, url: str, method: str) -> bool:
        return self._session.redirect(url, method)

    def run_program(self, program: Program) -> bool:
        return self._session.run_program(program)
