"""ExtensionDialer: calls from phones to extensions and numbers, through the switch.

Routing policy above the engine: a registered (authenticated) user may dial another
user's extension (every phone of that user rings) or a number (out through the default
trunk); a caller from outside may reach extensions only (403 otherwise: no toll fraud).
The caller hears the target's progress (180, or its early media) while it rings; the
call is answered and bridged when the target answers, and hung up once it has lasted
``max_duration``.  Nobody answered: the caller gets what
:func:`callbridge.vocabulary.unanswered` says for a relayed call (the caller dialled the
target itself): busy beats declined beats rung out beats offline (486, 603, 480, 480),
and a target that failed passes its own final response on (the carrier's 404 for a number
that does not exist; 404 for no route).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from callbridge.callflow.errors import InvalidVerb
from callbridge.callflow.verbs import DialGroup, DialTarget
from callbridge.calls.switch.bridge import bridge
from callbridge.calls.switch.progress import CallerProgress
from callbridge.calls.switch.ringer import GroupRinger, Originator, Rung
from callbridge.engine.engine import IncomingCall
from callbridge.engine.events import EndReason
from callbridge.engine.leg import CallLeg
from callbridge.engine.originate_checks import usable_caller_id, usable_display_name
from callbridge.vocabulary import CallStatus, TargetEnd, Unanswered, unanswered

log = logging.getLogger(__name__)


class Extensions(Protocol):
    def is_extension(self, dialled: str) -> bool:
        """Whether ``dialled`` is one of the registrar's extensions."""
        ...


class ExtensionEngine(Originator, Protocol):
    """The engine as extension dialling uses it: it places and connects calls, and its
    router knows the extensions."""

    @property
    def router(self) -> Extensions: ...


class ExtensionDialer:
    """IncomingCallHandler that connects the caller to what they dialled."""

    def __init__(
        self,
        *,
        engine: ExtensionEngine,
        ring_timeout: float = 30.0,
        max_duration: float | None = None,
    ) -> None:
        """``max_duration``: a call is hung up once it has lasted this long (ringing
        included)."""
        self._engine = engine
        self._ring_timeout = ring_timeout
        self._max_duration = max_duration

    async def handle(self, call: IncomingCall) -> None:
        caller = call.leg
        started = asyncio.get_running_loop().time()
        if call.authenticated_user is None and not self._engine.router.is_extension(call.dialled):
            await caller.hangup(EndReason.DECLINED, 403)
            return
        try:
            target = DialTarget(kind="user", address=call.dialled)
        except InvalidVerb:  # no target at all: nowhere to route
            await _tell(caller, unanswered((TargetEnd.not_dialled(offline=False),), relayed=True))
            return
        progress = CallerProgress(caller=caller, engine=self._engine)
        ringer = GroupRinger(
            engine=self._engine,
            caller_id=usable_caller_id(caller.caller.user),
            caller_name=usable_display_name(caller.caller.display_name),
            on_leg=lambda leg, _target: _follow(progress, leg),
        )
        group = DialGroup(targets=(target,), ring_timeout=self._ring_timeout)
        rung = Rung(status=CallStatus.FAILED)
        try:
            rung = await ringer.ring((group,), give_up=caller.wait_ended)
        finally:
            await progress.stop(winner=rung.leg)
        if rung.leg is None:
            await self._not_connected(call, rung)
            return
        left = None
        if self._max_duration is not None:
            left = started + self._max_duration - asyncio.get_running_loop().time()
        await bridge(
            self._engine,
            caller,
            rung.leg,
            time_limit=left,
            limit_detail=f"max_duration reached: the call lasted {self._max_duration:g} s"
            if self._max_duration is not None
            else "",
        )

    async def _not_connected(self, call: IncomingCall, rung: Rung) -> None:
        """The caller hears why nobody answered (nothing when it hung up itself)."""
        caller = call.leg
        if caller.ended is not None or rung.status == CallStatus.CANCELED:
            return
        await _tell(caller, unanswered(rung.target_ends, relayed=True))


async def _tell(caller: CallLeg, why: Unanswered) -> None:
    await caller.hangup(why.reason, why.sip_code, detail=f"nobody answered ({why.reason.value})")


async def _follow(progress: CallerProgress, leg: CallLeg) -> None:
    progress.follow(leg)
