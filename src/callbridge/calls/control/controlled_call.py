"""CallControl: one inbound call to a number under call control, from the INVITE to the
``HungUp`` post.

1. ``IncomingCall`` is posted to ``notify_url`` (the outbox), and the same form to
   ``control_url`` (:mod:`.control_client`); each attempt goes into the call's events.
2. Meanwhile the number's ``announcement`` plays in early media (183); the answer is
   processed once it has played.
3. The answer's plan runs (:mod:`.executor`); no usable answer after the retries: the
   ``backup`` plan; no backup: 500.
4. ``HungUp`` with its type and the seconds the call was answered (0 if it was not).

A caller who hangs up while control is asked ends it at once (``missed``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiosipua.headers import parse_address

from callbridge.calls.control.caller_audio import play_announcement
from callbridge.calls.control.caller_identity import caller_number
from callbridge.calls.control.control_client import ControlAttempt, ControlClient
from callbridge.calls.control.executor import PlanExecutor
from callbridge.calls.control.forward import ForwardRunner
from callbridge.calls.control.notify import EventStore, HangupType, Notifier
from callbridge.calls.control.outcome import Accepted, PlanOutcome, Timeline
from callbridge.calls.control.plan import Plan
from callbridge.calls.control.plan_parser import parse_plan
from callbridge.calls.control.ports import ControlPorts
from callbridge.calls.control.queued_timeline import QueuedTimeline
from callbridge.calls.control.settings import NumberControl
from callbridge.calls.destination_policy import DestinationPolicy, DestinationRefused
from callbridge.calls.switch.ringer import Originator
from callbridge.engine.engine import IncomingCall
from callbridge.engine.events import Answered, LegEvent
from callbridge.engine.leg import CallLeg
from callbridge.httpclient.port import HttpRequests
from callbridge.store.clock import Clock

log = logging.getLogger(__name__)


class TrackedCall(Timeline, Protocol):
    """The call's tracker as call control uses it."""

    @property
    def sid(self) -> str: ...


class CallControl:
    def __init__(
        self,
        *,
        engine: Originator,
        is_extension: Callable[[str], bool],
        domain: str,
        store: EventStore,
        clock: Clock,
        http: HttpRequests,
        ports: ControlPorts | None = None,
        retry_pause: float | None = None,
        policy: DestinationPolicy | None = None,
    ) -> None:
        """``domain`` names extensions in ``CallAccepted``'s ``peer`` (``1001@domain``)."""
        self._engine = engine
        self._is_extension = is_extension
        self._domain = domain
        self._store = store
        self._clock = clock
        self._client = (
            ControlClient(http=http)
            if retry_pause is None
            else ControlClient(http=http, pause=retry_pause)
        )
        self._ports = ports or ControlPorts()
        self._policy = policy

    def peer_of(self, number: str) -> str:
        """``CallAccepted``'s ``peer``: ``user@host`` as given, an extension as
        ``1001@<domain>``, an external number as it is."""
        if "@" not in number and self._is_extension(number):
            return f"{number}@{self._domain}"
        return number

    async def run(
        self,
        call: IncomingCall,
        tracker: TrackedCall,
        control: NumberControl,
        *,
        signing_secret: str | None = None,
        api_key_id: str | None = None,
    ) -> None:
        """``api_key_id``: the number's key, whose destination rules the targets obey."""
        leg = call.leg
        answered = _AnswerClock(leg)
        notifier = Notifier(
            store=self._store,
            clock=self._clock,
            call_sid=tracker.sid,
            url=control.notify,
            from_=caller_of(call),
            to=control.number,
        )
        timeline = QueuedTimeline(tracker)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(timeline.run(), name=f"control events {tracker.sid}")
                try:
                    outcome = await self._control(
                        leg, timeline, control, notifier, signing_secret, api_key_id
                    )
                finally:
                    timeline.close()
        finally:
            if leg.ended is None:
                await leg.hangup()
            answered.close()
        duration = answered.seconds() if outcome.kind is HangupType.ACCEPTED else 0
        await notifier.hung_up(outcome.kind, duration)

    async def _control(
        self,
        leg: CallLeg,
        tracker: Timeline,
        control: NumberControl,
        notifier: Notifier,
        secret: str | None,
        api_key_id: str | None,
    ) -> PlanOutcome:
        executor = self._executor(leg, tracker, control, notifier, api_key_id)

        async def note_attempt(attempt: ControlAttempt) -> None:
            await tracker.note("control_attempt", attempt.event())

        async with asyncio.TaskGroup() as group:
            ask = group.create_task(
                self._client.ask(
                    control, notifier.form, on_attempt=note_attempt, signing_secret=secret
                ),
                name=f"control {notifier.call_sid}",
            )
            await notifier.incoming_call()  # written while the control request is out
            if control.announcement is not None:
                why = await play_announcement(leg, self._ports.announcements, control.announcement)
                if why is not None:
                    await tracker.note(
                        "announcement_skipped", {"announcement": control.announcement, "why": why}
                    )
            plan = await _unless_caller_leaves(leg, ask)
        if leg.ended is not None:
            return PlanOutcome(kind=HangupType.MISSED, detail="the caller hung up")
        if plan is not None:
            return await executor.run(plan, source="answer")
        if control.backup is not None:
            return await executor.run(control.backup, source="backup")
        return await executor.no_plan("no usable answer from control_url and no backup")

    async def run_plan(
        self,
        leg: CallLeg,
        plan_xml: str,
        *,
        timeline: Timeline,
        number: str,
        mailbox: str | None = None,
        on_accepted: Callable[[str], Awaitable[None]] | None = None,
    ) -> HangupType:
        """Run a seed-004 XML plan on ``leg`` (a queue's overflow plan, say) without call
        control's request or notify posts (``on_accepted`` is told the peer who answers);
        :class:`PlanError` if it is no plan."""
        plan = parse_plan(plan_xml)
        control = NumberControl(number=number, mailbox=mailbox)

        async def accepted(peer: str) -> None:
            await timeline.note("plan_accepted", {"peer": peer})
            if on_accepted is not None:
                await on_accepted(peer)

        executor = PlanExecutor(
            caller=leg,
            forward=lambda: self._forward_runner(leg, timeline, control, accepted),
            queues=self._ports.queues,
            timeline=timeline,
            accepted=accepted,
            backup=None,
        )
        outcome = await executor.run(plan, source="plan")
        return outcome.kind

    def _forward_runner(
        self,
        leg: CallLeg,
        timeline: Timeline,
        control: NumberControl,
        accepted: Accepted,
        api_key_id: str | None = None,
    ) -> ForwardRunner:
        caller = caller_number_of(leg)
        policy = self._policy

        def refusal(address: str) -> str | None:
            if policy is None:
                return None
            try:
                policy.check_destination(api_key_id, address)
            except DestinationRefused as refused:
                return refused.message
            return None

        return ForwardRunner(
            engine=self._engine,
            caller=leg,
            caller_id=caller,
            ports=self._ports,
            timeline=timeline,
            accepted=accepted,
            peer_of=self.peer_of,
            mailbox=control.mailbox,
            caller_number=caller,
            number=control.number,
            refusal=refusal,
        )

    def _executor(
        self,
        leg: CallLeg,
        tracker: Timeline,
        control: NumberControl,
        notifier: Notifier,
        api_key_id: str | None,
    ) -> PlanExecutor:
        return PlanExecutor(
            caller=leg,
            forward=lambda: self._forward_runner(
                leg, tracker, control, notifier.call_accepted, api_key_id
            ),
            queues=self._ports.queues,
            timeline=tracker,
            # a queue's member is an extension: named as Forward names it (1001@domain)
            accepted=lambda member: notifier.call_accepted(self.peer_of(member)),
            backup=control.backup,
        )


def caller_of(call: IncomingCall) -> str:
    """The caller as seed-004 posts it (``anonymous`` when withheld)."""
    try:
        host = parse_address(call.request.get_header("from") or "").uri.host or ""
    except ValueError:
        host = ""
    return caller_number(
        from_user=call.leg.caller.user,
        from_host=host,
        privacy=call.request.get_header("privacy"),
    )


def caller_number_of(leg: CallLeg) -> str:
    return leg.caller.user or "anonymous"


async def _unless_caller_leaves(leg: CallLeg, ask: asyncio.Task[Plan | None]) -> Plan | None:
    """The control answer, or ``None`` at once (the request dropped) if the caller left."""
    gone = asyncio.ensure_future(leg.wait_ended())
    try:
        await asyncio.wait((ask, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not ask.done():
        ask.cancel()
        return None
    return ask.result()


class _AnswerClock:
    """When the caller's leg was answered, for ``HungUp``'s ``duration``."""

    def __init__(self, leg: CallLeg) -> None:
        self._loop = asyncio.get_running_loop()
        self._answered_at: float | None = None
        self._ended_at: float | None = None
        self._unsubscribe = leg.subscribe(self._on_event)
        if any(isinstance(event, Answered) for event in leg.history):
            self._answered_at = self._loop.time()

    def _on_event(self, event: LegEvent) -> None:
        if isinstance(event, Answered) and self._answered_at is None:
            self._answered_at = self._loop.time()

    def close(self) -> None:
        self._ended_at = self._loop.time()
        self._unsubscribe()

    def seconds(self) -> int:
        if self._answered_at is None:
            return 0
        end = self._ended_at if self._ended_at is not None else self._loop.time()
        return max(0, round(end - self._answered_at))
