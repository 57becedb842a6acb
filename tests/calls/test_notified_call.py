"""NotifiedCall: the notify posts of a call to a number without call control, from what its
program does (fake legs and a fake outbox; the real server's test is
test_notify_numbers_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from callbridge.callflow.verbs import DialTarget, Enqueue, Voicemail
from callbridge.calls.control.credentials import authorized_url
from callbridge.calls.control.notify import Notifier
from callbridge.calls.inbound.notified import NotifiedCall
from callbridge.engine.events import Answered, Ended, EndReason, LegEvent, Party
from callbridge.store.clock import SystemClock
from callbridge.store.records import Callback, NewEvent

NUMBER = "+4922129191999"


class Leg:
    def __init__(self) -> None:
        self.history: list[LegEvent] = []
        self._subscribers: list[Callable[[LegEvent], None]] = []

    def emit(self, event: LegEvent) -> None:
        self.history.append(event)
        for subscriber in list(self._subscribers):
            subscriber(event)

    def subscribe(self, callback: Callable[[LegEvent], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    async def events(self) -> AsyncIterator[LegEvent]:
        queue: asyncio.Queue[LegEvent] = asyncio.Queue()
        for event in self.history:
            queue.put_nowait(event)
        unsubscribe = self.subscribe(queue.put_nowait)
        try:
            while True:
                event = await queue.get()
                yield event
                if isinstance(event, Ended):
                    return
        finally:
            unsubscribe()


class Outbox:
    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []

    async def record_event_with_delivery(
        self,
        call_sid: str,
        event: NewEvent,
        params: Mapping[str, str],
        callback: Callback | None,
        *,
        sequence_param: str | None = None,
    ) -> Any:
        self.posts.append(dict(params))


def notified(outbox: Outbox, caller: Leg) -> NotifiedCall:
    notifier = Notifier(
        store=outbox,
        clock=SystemClock(),
        call_sid="CA1",
        url=authorized_url("https://crm.example.com/notify"),
        from_="022129191999",
        to=NUMBER,
    )
    return NotifiedCall(
        notifier=notifier,
        caller=caller,  # type: ignore[arg-type]
        number=NUMBER,
        peer_of=lambda n: f"{n}@pbx" if n.isdigit() and len(n) == 4 else n,
    )


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def ended(reason: EndReason = EndReason.HUNG_UP, code: int | None = None) -> Ended:
    return Ended(reason, Party.REMOTE, code)


async def test_a_dial_target_that_answers_is_the_peer() -> None:
    outbox, caller, child = Outbox(), Leg(), Leg()
    call = notified(outbox, caller)
    run = asyncio.create_task(call.run())
    await settle()
    await call.dialled(child, DialTarget(kind="user", address="1001"))  # type: ignore[arg-type]
    child.emit(Answered())
    caller.emit(Answered())
    await settle()
    caller.emit(ended())
    call.finish()
    await run
    assert [p["event"] for p in outbox.posts] == ["IncomingCall", "CallAccepted", "HungUp"]
    assert outbox.posts[1]["peer"] == "1001@pbx"
    assert outbox.posts[2]["type"] == "accepted"


async def test_nobody_answering_a_dial_is_missed_even_when_the_caller_gets_486() -> None:
    outbox, caller, child = Outbox(), Leg(), Leg()
    call = notified(outbox, caller)
    run = asyncio.create_task(call.run())
    await settle()
    await call.dialled(child, DialTarget(kind="number", address="+4930123"))  # type: ignore[arg-type]
    child.emit(ended(EndReason.BUSY, 486))
    caller.emit(Ended(EndReason.BUSY, Party.LOCAL, 486))
    call.finish()
    await run
    assert [p["event"] for p in outbox.posts] == ["IncomingCall", "HungUp"]
    assert outbox.posts[1]["type"] == "missed"
    assert outbox.posts[1]["duration"] == "0"


async def test_the_application_answering_is_the_number_and_a_reject_is_blocked() -> None:
    outbox, caller = Outbox(), Leg()
    call = notified(outbox, caller)
    run = asyncio.create_task(call.run())
    await settle()
    caller.emit(Answered())
    await settle()
    caller.emit(ended())
    call.finish()
    await run
    assert outbox.posts[1]["peer"] == NUMBER
    rejected, refused = Outbox(), Leg()
    call = notified(rejected, refused)
    run = asyncio.create_task(call.run())
    await settle()
    refused.emit(Ended(EndReason.DECLINED, Party.LOCAL, 603))
    await settle()
    assert [p["event"] for p in rejected.posts] == ["IncomingCall"]  # until the session is over
    call.finish()
    await run
    assert [(p["event"], p.get("type")) for p in rejected.posts] == [
        ("IncomingCall", None),
        ("HungUp", "blocked"),
    ]


class Box:
    def __init__(self, answer: Leg) -> None:
        self._answer = answer

    async def deposit(self, leg: object, verb: Voicemail) -> bool:
        self._answer.emit(Answered())  # the deposit answers the caller itself
        await settle()
        return True


async def test_a_voicemail_deposit_is_no_acceptance() -> None:
    outbox, caller = Outbox(), Leg()
    call = notified(outbox, caller)
    run = asyncio.create_task(call.run())
    await settle()
    box = call.voicemail(Box(caller))
    assert await box.deposit(caller, Voicemail(mailbox="sales"))
    caller.emit(ended())
    call.finish()
    await run
    assert [p["event"] for p in outbox.posts] == ["IncomingCall", "HungUp"]
    assert outbox.posts[1]["type"] == "voicemail"


class Queue:
    """Answers the caller as it enters, then a member answers (or the overflow plan says
    how the call ended)."""

    def __init__(
        self,
        caller: Leg,
        answered: Callable[[str], Any],
        overflowed: Callable[[str], None],
        *,
        member: str | None,
    ) -> None:
        self._caller = caller
        self._answered = answered
        self._overflowed = overflowed
        self._member = member

    async def enqueue(self, leg: object, enqueue: Enqueue, *, wait: object = None) -> Any:
        self._caller.emit(Answered())
        await settle()
        if self._member is not None:
            await self._answered(self._member)
        else:
            self._overflowed("voicemail")
        return None


async def test_a_queue_answering_its_caller_is_no_acceptance_its_member_is() -> None:
    for member, events, kind in (
        ("1002", ["IncomingCall", "CallAccepted", "HungUp"], "accepted"),
        (None, ["IncomingCall", "HungUp"], "voicemail"),
    ):
        outbox, caller = Outbox(), Leg()
        call = notified(outbox, caller)
        run = asyncio.create_task(call.run())
        await settle()
        queue = call.queueing(lambda a, o: Queue(caller, a, o, member=member))  # noqa: B023
        await queue.enqueue(caller, Enqueue(queue="sales"))
        caller.emit(ended())
        call.finish()
        await run
        assert [p["event"] for p in outbox.posts] == events
        assert outbox.posts[-1]["type"] == kind
        if member is not None:
            assert outbox.posts[1]["peer"] == "1002@pbx"
