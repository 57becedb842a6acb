"""NotifiedCall: seed-004's notify posts of an inbound call to a number that has a
``notify_url`` but is not under call control (routed by ``voice_url``, ``user``, ``line``,
``forward_to``, ``queue`` or only a ``mailbox``).

The same posts as under call control (:class:`~callbridge.calls.control.notify.Notifier`:
form fields, signing, the durable outbox):

* ``IncomingCall`` as the call arrives;
* ``CallAccepted`` once, when someone takes the call: a ``<Dial>`` target answers
  (``peer``: the target, an extension as ``1001@<domain>``), a queue's member answers
  (the member), or the voice application answers the caller itself (the number);
  a voicemail deposit, and a queue's answer of a waiting caller, are no acceptance;
* ``HungUp`` once the call has ended: ``voicemail`` when it went to a mailbox,
  ``accepted`` when it was accepted (``duration``: the seconds since), ``blocked`` when it
  was refused unanswered (486 or 603) before any target rang (``<Reject>``, or
  ``<Hangup/>`` unanswered), else ``missed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from callbridge.callflow.ports import EnqueueResult, LegPort, Queueing, VoicemailBox, WaitAudio
from callbridge.callflow.verbs import DialTarget, Enqueue, Voicemail
from callbridge.calls.control.controlled_call import caller_of
from callbridge.calls.control.notify import EventStore, HangupType, Notifier
from callbridge.calls.inbound.numbers import InboundNumber
from callbridge.engine.engine import IncomingCall
from callbridge.engine.events import Answered, Ended, EndReason, LegEvent
from callbridge.engine.leg import CallLeg
from callbridge.store.clock import Clock

MemberAnswered = Callable[[str], Awaitable[None]]  # told the extension of the member
Overflowed = Callable[[str], None]  # told how a queue's overflow plan ended the call
REFUSED = frozenset({EndReason.BUSY, EndReason.DECLINED})


def notified_call(
    call: IncomingCall,
    number: InboundNumber,
    *,
    call_sid: str,
    store: EventStore,
    clock: Clock,
    peer_of: Callable[[str], str] | None,
) -> NotifiedCall | None:
    """The posts of a call to ``number`` when it has a ``notify_url`` and no call control
    (which posts them itself); ``peer_of``: call control's naming of a peer (else as is)."""
    notify = number.control
    if notify is None or notify.notify is None or number.controlled is not None:
        return None
    notifier = Notifier(
        store=store,
        clock=clock,
        call_sid=call_sid,
        url=notify.notify,
        from_=caller_of(call),
        to=notify.number,
    )
    return NotifiedCall(
        notifier=notifier,
        caller=call.leg,
        number=notify.number,
        peer_of=peer_of or (lambda target: target),
    )


class NotifiedCall:
    """One call's posts; the call service runs :meth:`run` alongside the call's session
    and calls :meth:`finish` once the session is over (``HungUp`` waits for it: what the
    program did last, a queue's overflow plan say, is known then)."""

    def __init__(
        self, *, notifier: Notifier, caller: CallLeg, number: str, peer_of: Callable[[str], str]
    ) -> None:
        """``peer_of`` names a target as ``CallAccepted``'s ``peer`` (call control's)."""
        self._notifier = notifier
        self._caller = caller
        self._number = number
        self._peer_of = peer_of
        self._lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        self._accepted_at: float | None = None
        self._dial_peer: str | None = None  # the Dial target that answered, if one did
        self._targets_rang = False
        self._voicemail = False
        self._queueing = 0  # Enqueues running: the queue's answer of the caller is no accept
        self._queued = False
        self._plan_ended: str | None = None  # how a queue's overflow plan ended the call
        self._ended_at: float | None = None
        self._finished = asyncio.Event()

    async def run(self) -> None:
        """``IncomingCall``, ``CallAccepted`` when the program answers the caller itself,
        and ``HungUp`` once the caller's leg has ended and the session is over."""
        await self._notifier.incoming_call()
        ended: Ended | None = None
        async for event in self._caller.events():
            if isinstance(event, Answered) and not self._voicemail and not self._queueing:
                await self._accept(self._dial_peer or self._number)
            elif isinstance(event, Ended):
                ended = event
                self._ended_at = self._loop.time()
        await self._finished.wait()
        await self._notifier.hung_up(*self._hang_up(ended))

    def finish(self) -> None:
        """The call's session is over."""
        self._finished.set()

    # --- what the session tells it (callbridge.calls.session_factory.CallWatch) ---

    async def dialled(self, leg: CallLeg, target: DialTarget) -> None:
        """A ``<Dial>`` B leg was placed: its answer names the call's peer."""
        self._targets_rang = True
        peer = self._peer_of(target.address.removeprefix("sip:").removeprefix("sips:"))

        def answered() -> None:
            if self._dial_peer is None:
                self._dial_peer = peer

        def on_event(event: LegEvent) -> None:
            if isinstance(event, Answered):
                answered()
            if isinstance(event, Answered | Ended):
                unsubscribe()

        unsubscribe = leg.subscribe(on_event)
        if any(isinstance(event, Answered) for event in leg.history):
            unsubscribe()
            answered()

    def queueing(
        self, make: Callable[[MemberAnswered, Callable[[str], None]], Queueing]
    ) -> Queueing:
        """The call's ``<Enqueue>`` (``make`` builds it with the callbacks of who answers,
        and of how the queue's overflow plan ended the call): a member's answer (or the
        peer's the overflow plan reached) accepts the call."""

        async def member_answered(member: str) -> None:
            await self._accept(self._peer_of(member))

        return _WatchedQueue(make(member_answered, self._overflowed), self._in_queue)

    def voicemail(self, box: VoicemailBox) -> VoicemailBox:
        """The call's ``<Voicemail>``: a deposit makes the call a ``voicemail`` one."""
        return _WatchedMailbox(box, self._to_voicemail)

    # --- inside ---

    async def _accept(self, peer: str) -> None:
        async with self._lock:
            if self._accepted_at is not None:
                return
            self._accepted_at = self._loop.time()
            await self._notifier.call_accepted(peer)

    def _hang_up(self, ended: Ended | None) -> tuple[HangupType, int]:
        if self._voicemail or self._plan_ended == HangupType.VOICEMAIL:
            return HangupType.VOICEMAIL, 0
        if self._accepted_at is not None:
            end = self._ended_at if self._ended_at is not None else self._loop.time()
            return HangupType.ACCEPTED, max(0, round(end - self._accepted_at))
        if self._plan_ended == HangupType.BLOCKED:
            return HangupType.BLOCKED, 0
        refused = ended is not None and ended.reason in REFUSED
        if refused and not self._targets_rang and not self._queued:
            return HangupType.BLOCKED, 0
        return HangupType.MISSED, 0

    def _in_queue(self, entering: bool) -> None:
        self._queued = True
        self._queueing += 1 if entering else -1

    def _to_voicemail(self) -> None:
        self._voicemail = True

    def _overflowed(self, kind: str) -> None:
        self._plan_ended = kind


class _WatchedQueue:
    def __init__(self, inner: Queueing, in_queue: Callable[[bool], None]) -> None:
        self._inner = inner
        self._in_queue = in_queue

    async def enqueue(
        self, leg: LegPort, enqueue: Enqueue, *, wait: WaitAudio | None = None
    ) -> EnqueueResult:
        self._in_queue(True)
        try:
            return await self._inner.enqueue(leg, enqueue, wait=wait)
        finally:
            self._in_queue(False)


class _WatchedMailbox:
    def __init__(self, inner: VoicemailBox, to_voicemail: Callable[[], None]) -> None:
        self._inner = inner
        self._to_voicemail = to_voicemail

    async def deposit(self, leg: LegPort, verb: Voicemail) -> bool:
        self._to_voicemail()
        return await self._inner.deposit(leg, verb)
