"""OutboundCall: one call placed through the outbound call API (seed-001), from dialling
``to`` until its completed event is stored: originate, then run the call's session on the
answered leg.  A user ``to`` with several phones is rung by the switch, one leg per
phone (:mod:`callbridge.calls.switch.user_phones`): the phone that answers is the leg.

When ``to`` answers, ``send_digits`` go first; then the voice application at ``url`` runs,
or — without ``url`` — ``from`` is dialled and bridged (click to call).
"""

from __future__ import annotations

import asyncio

from callbridge.callflow.verbs import (
    Dial,
    DialGroup,
    DialTarget,
    Program,
    Redirect,
    SendDigits,
    Verb,
)
from callbridge.calls.dialer import Originator
from callbridge.calls.request import OutboundCallRequest, caller_id_user
from callbridge.calls.session import CallSession
from callbridge.calls.switch.ringer import Rung, phones_target
from callbridge.calls.switch.user_phones import PhonesCall, phones_failure, ring_phones
from callbridge.engine.events import Ended, EndReason, Party
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import RoutingError, UserOffline
from callbridge.log_context import bind_leg
from callbridge.media.plane import MediaPortsExhausted


def dial_target(address: str) -> DialTarget:
    """``from`` of a click-to-call: a SIP URI, a number or an extension."""
    if address.lower().startswith(("sip:", "sips:")):
        return DialTarget(kind="sip", address=address)
    if address.lstrip("+").isdigit():
        return DialTarget(kind="number", address=address)
    return DialTarget(kind="user", address=address)


def program_on_answer(request: OutboundCallRequest) -> Program:
    """What runs on the answered leg: digits first, then the application (or the bridge)."""
    verbs: list[Verb] = []
    if request.send_digits:
        verbs.append(SendDigits(digits=request.send_digits))
    if request.program is not None:  # an inline document
        verbs.extend(request.program.verbs)
        return Program(verbs=tuple(verbs), base_url=request.program.base_url)
    if request.url:
        verbs.append(Redirect(url=request.url, method=request.method))
        return Program(verbs=tuple(verbs), base_url=request.url)
    group = DialGroup(targets=(dial_target(request.from_),), ring_timeout=request.ring_timeout)
    verbs.append(Dial(groups=(group,), caller_id=caller_id_user(request.to)))
    return Program(verbs=tuple(verbs), base_url="")


class OutboundCall:
    """Owned by the call service; :meth:`run` returns when the call has ended and its last
    event is stored.  ``redirect`` and ``hang_up`` act on it while it runs."""

    def __init__(
        self, *, engine: Originator, request: OutboundCallRequest, session: CallSession
    ) -> None:
        """``session`` runs the call once answered (``answered_first``)."""
        self._engine = engine
        self._request = request
        self._session = session
        self._dialled = asyncio.Event()
        self._gave_up = asyncio.Event()  # hung up through the API while phones ring
        self._hangup_detail = ""

    @property
    def sid(self) -> str:
        return self._session.sid

    async def dialled(self) -> None:
        """Returns once the call's INVITE is on the wire, or it failed to go out."""
        await self._dialled.wait()

    async def run(self) -> None:
        user = phones_target(self._engine, self._request.to)
        if user is not None:
            await self._ring_phones(user)
            return
        try:
            leg: CallLeg | None = await self._originate()
        except (RoutingError, MediaPortsExhausted) as error:
            leg, failure = None, error
        finally:
            self._dialled.set()
        if leg is None:
            reason = EndReason.OFFLINE if isinstance(failure, UserOffline) else EndReason.FAILED
            await self._session.tracker.ended(Ended(reason, Party.LOCAL, None, str(failure)))
            return
        bind_leg(leg.id)  # the call's task's log lines name its leg
        await self._session.run(leg, program_on_answer(self._request))

    async def _ring_phones(self, user: DialTarget) -> None:
        request = self._request
        call = PhonesCall(
            user=user,
            caller_id=caller_id_user(request.from_),
            caller_name=request.caller_name,
            ring_timeout=request.ring_timeout,
        )
        tracker = self._session.tracker
        try:
            rung = await ring_phones(
                self._engine,
                call,
                placed=self._dialled.set,
                progress=tracker.on_leg_event,
                give_up=self._gave_up.wait,
            )
        except MediaPortsExhausted as error:
            await tracker.ended(Ended(EndReason.FAILED, Party.LOCAL, None, str(error)))
            return
        if rung.leg is None:
            await tracker.ended(self._not_answered(rung))
            return
        bind_leg(rung.leg.id)
        await self._session.run(rung.leg, program_on_answer(request))

    def _not_answered(self, rung: Rung) -> Ended:
        """How a call whose phones all failed (or were given up) ends."""
        if self._gave_up.is_set():
            return Ended(EndReason.CANCELLED, Party.LOCAL, None, self._hangup_detail)
        return phones_failure(rung)

    async def hang_up(self, detail: str = "") -> None:
        """End the call; ``detail`` is the cause its completed event gives."""
        self._hangup_detail = self._hangup_detail or detail
        self._gave_up.set()
        await self._session.hang_up(detail)

    def redirect(self, url: str, method: str) -> bool:
        return self._session.redirect(url, method)

    def run_program(self, program: Program) -> bool:
        return self._session.run_program(program)

    async def _originate(self) -> CallLeg:
        request = self._request
        return await self._engine.originate(
            request.to,
            caller_id=caller_id_user(request.from_),
            caller_name=request.caller_name,
            ring_timeout=request.ring_timeout,
        )
