"""InboundSessions: an inbound call to a number, from its arrival until it has ended — admitted
under the number's key, stored with its initiated and ringing events, its program (or its
call control) run on the ringing leg, and the seed-004 notify posts of a number that has
``notify_url``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Protocol

from callbridge.callflow.verbs import Program
from callbridge.calls.admission import Admission
from callbridge.calls.control.settings import NumberControl
from callbridge.calls.errors import CallLimitReached, ServerOverloaded
from callbridge.calls.inbound.notified import NotifiedCall, notified_call
from callbridge.calls.inbound.numbers import InboundNumber
from callbridge.calls.live import LiveCall
from callbridge.calls.new_call import inbound_call
from callbridge.calls.session import Drive
from callbridge.calls.session_factory import SessionFactory, SessionSpec, SigningSecrets
from callbridge.calls.tracker import CallTracker
from callbridge.engine.engine import IncomingCall
from callbridge.engine.events import EndReason, LegEndedError
from callbridge.engine.leg import CallLeg
from callbridge.engine.originate_checks import usable_caller_id
from callbridge.store.clock import Clock
from callbridge.store.repository import CallRepository

log = logging.getLogger("callbridge.calls.service")  # its lines keep the call service's name

OVER_LIMIT = 503  # an inbound call over its key's limits, or while overloaded


class InboundControl(Protocol):
    """Runs an inbound call to a number under call control (calls.control.CallControl),
    and names a call's peer in a notify post."""

    def peer_of(self, number: str) -> str: ...

    async def run(
        self,
        call: IncomingCall,
        tracker: CallTracker,
        control: NumberControl,
        *,
        signing_secret: str | None = None,
        api_key_id: str | None = None,
    ) -> None: ...


class LiveRegistry(Protocol):
    """Where the call service keeps its live calls while they run."""

    def add(self, sid: str, call: LiveCall) -> None: ...

    def remove(self, sid: str) -> None: ...


@dataclass(kw_only=True)
class InboundSessions:
    """Owned by the call service, which hands each inbound call to :meth:`receive`
    (``control`` may be given once built: call control and the call service refer to
    each other's parts)."""

    repository: CallRepository
    clock: Clock
    node: str
    limiter: Admission
    sessions: SessionFactory
    live: LiveRegistry
    control: InboundControl | None = None
    secrets: SigningSecrets | None = None

    async def receive(self, call: IncomingCall, number: InboundNumber) -> None:
        """Run an inbound call to ``number`` (from a trunk) until it has ended: stored with
        its initiated and ringing events, its program run on the ringing leg (which it
        answers when it first needs media).  Over its key's limits, or overloaded: 503."""
        leg = call.leg
        try:
            permit = self.limiter.admit(number.api_key_id)
        except (CallLimitReached, ServerOverloaded) as refused:
            log.info("inbound call to %s refused: %s", number.number, refused)
            await leg.hangup(EndReason.FAILED, OVER_LIMIT, detail=str(refused))
            return
        notified: NotifiedCall | None = None
        try:
            tracker = await CallTracker.create(
                repository=self.repository,
                clock=self.clock,
                call=inbound_call(
                    to=number.number,
                    from_=leg.caller.user,
                    node=self.node,
                    api_key_id=number.api_key_id,
                    status_callback=number.status_callback,
                    url=number.voice_url,
                    method=number.voice_method,
                ),
            )
            control = self.control
            notified = notified_call(
                call,
                number,
                call_sid=tracker.sid,
                store=self.repository,
                clock=self.clock,
                peer_of=None if control is None else control.peer_of,
            )
            spec = SessionSpec(
                api_key_id=number.api_key_id,
                caller_id=usable_caller_id(leg.caller.user),
                status_callback=number.status_callback,
                account=number.api_key_name,
                answered_first=False,
                screened=number.runs_application,
                mailbox=number.mailbox,
                record=number.record,
                watch=notified,
            )
            session = await self.sessions.session(tracker, spec)
        except BaseException:
            permit.release()
            raise
        self.live.add(tracker.sid, session)
        try:
            async with asyncio.TaskGroup() as group:
                if notified is not None:
                    group.create_task(notified.run(), name=f"notify {tracker.sid}")
                try:
                    with contextlib.suppress(LegEndedError):  # the caller gave up at once
                        await leg.ring()  # the application is asked with CallStatus=ringing
                    await session.run(leg, self._route(call, tracker, number))
                finally:
                    if notified is not None:
                        notified.finish()  # its HungUp goes out now
        finally:
            self.live.remove(tracker.sid)
            permit.release()

    def _route(
        self, call: IncomingCall, tracker: CallTracker, number: InboundNumber
    ) -> Program | Drive:
        """The number's program, or its call control."""
        controlled = number.controlled
        if controlled is None:
            return number.program()
        control, secrets = self.control, self.secrets

        async def drive(leg: CallLeg) -> None:
            if control is None:
                await leg.hangup(EndReason.FAILED, 500, detail="call control is not available")
                return
            secret = None
            if number.api_key_id is not None and secrets is not None:
                secret = await secrets.signing_secret(number.api_key_id)
            await control.run(
                call, tracker, controlled, signing_secret=secret, api_key_id=number.api_key_id
            )

        return drive
