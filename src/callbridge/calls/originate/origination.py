"""Origination: one type=user or type=queue origination from its agent leg's ringing until
both legs have ended and their last events are stored.

Once the agent (or a queue's member) answers, the agent hears ringback while the customer
is dialled; when the customer answers both are bridged (up to ``max_duration``).  It is a
live call of the API under both legs' CallSids (:class:`callbridge.calls.live.LiveCalls`):
a hang-up asked through the call API ends every leg it has, and one asked while a queue's
members still ring cancels their ringing at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from callbridge.callflow.verbs import Program
from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.legs import MEMBER_EVENT, OriginateRecords, StoredLeg
from callbridge.calls.originate.request import OriginateRequest
from callbridge.calls.switch.bridge import Connector, bridge
from callbridge.calls.switch.ringback import Ringback
from callbridge.calls.switch.ringer import RingingGroup, Rung
from callbridge.engine.events import EndReason
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import RoutingError
from callbridge.engine.tasks import TaskOwner
from callbridge.media.plane import MediaPortsExhausted

STOPPED = "hung up through the API before the customer was dialled"


class CustomerDialler(Connector, Protocol):
    async def originate(
        self,
        to: str,
        *,
        caller_id: str = "callbridge",
        caller_name: str | None = None,
        ring_timeout: float | None = None,
        headers: dict[str, str] | None = None,
        trunk: str | None = None,
    ) -> CallLeg: ...


class MemberRing(Protocol):
    """Rings a queue's members until one answers (its leg), none did, or ``until``
    returned (``None`` both times)."""

    def __call__(self, *, until: Callable[[], Awaitable[object]]) -> Awaitable[CallLeg | None]: ...


class LiveRegistry(Protocol):
    """Where the API finds live calls (:class:`callbridge.calls.live.LiveCalls`)."""

    def add(self, sid: str, call: Origination) -> None: ...

    def remove(self, sid: str) -> None: ...


@dataclass(frozen=True, kw_only=True)
class OriginationSetup:
    engine: CustomerDialler
    records: OriginateRecords
    tasks: TaskOwner
    live: LiveRegistry | None = None
    max_duration: float | None = None


class Origination:
    """Owned by the originate service; :meth:`run_user` or :meth:`run_queue` returns when
    it has ended."""

    def __init__(
        self,
        *,
        setup: OriginationSetup,
        client: OriginateClient,
        request: OriginateRequest,
        agent: StoredLeg,
        trunk: str | None,
    ) -> None:
        self._setup = setup
        self._client = client
        self._request = request
        self._agent = agent
        self._trunk = trunk
        self._legs: list[CallLeg] = []
        self._customer: StoredLeg | None = None
        self._stopped = ""
        self._stop = asyncio.Event()  # set by a hang-up: a queue's members stop ringing
        self._register(agent.sid)

    # --- LiveCall ---

    async def hang_up(self, detail: str = "") -> None:
        self._stopped = detail or STOPPED
        self._stop.set()
        await asyncio.gather(*(leg.hangup(detail=detail) for leg in self._legs))

    def redirect(self, url: str, method: str) -> bool:
        return False

    def run_program(self, program: Program) -> bool:
        return False

    # --- its runs ---

    async def run_user(self, phones: RingingGroup, agent: asyncio.Future[Rung]) -> None:
        """The agent's phones ring (``phones``, one leg each); the first to answer is the
        agent, and ``agent`` is told who it is, or how they all failed."""
        try:
            for leg in phones.legs:
                self._add_leg(leg)
            if len(phones.legs) == 1:  # the stored leg shows its ringing as it happens
                self._agent.follow(next(iter(phones.legs)))
            try:
                rung = await phones.outcome(give_up=_never)
            except BaseException:
                agent.cancel()
                raise
            agent.set_result(rung)
            if rung.leg is None:
                if len(phones.legs) != 1:
                    ended = rung.failure
                    reason = EndReason.NO_ANSWER if ended is None else ended.reason
                    detail = "" if ended is None else ended.detail
                    await self._agent.not_connected(reason, detail or "no phone answered")
                return
            self._agent.follow(rung.leg)  # its events so far too
            await self._connect(rung.leg)
        finally:
            await self._end()

    async def run_queue(self, ring: MemberRing) -> bool:
        """The queue's members ring (``ring``) until one answers (its leg), none did, or
        the origination is hung up (their ringing cancelled); whether one answered."""
        try:
            member = await ring(until=self._stop.wait)
            if member is None:
                if self._stopped:
                    await self._agent.not_connected(EndReason.CANCELLED, self._stopped)
                else:
                    await self._agent.not_connected(EndReason.NO_ANSWER, "no member answered")
                return False
            self._add_leg(member)
            await self._agent.tracker.note(MEMBER_EVENT, {"extension": member.callee.user})
            self._agent.follow(member)
            if self._stopped:
                await member.hangup(detail=self._stopped)
                return True
            await self._connect(member)
            return True
        finally:
            await self._end()

    async def _connect(self, agent: CallLeg) -> None:
        """The agent answered: dial the customer with ringback to the agent, then bridge."""
        request, setup = self._request, self._setup
        shown = request.outbound_number or agent.callee.user
        stored = await setup.records.customer(self._client, request, self._agent, from_=shown)
        self._customer = stored
        self._register(stored.sid)
        ringback = Ringback(leg=agent, tasks=setup.tasks)
        ringback.start()
        try:
            customer = await setup.engine.originate(
                request.caller_id,
                caller_id=shown,
                ring_timeout=self._client.customer_ring_timeout,
                trunk=self._trunk,
            )
        except (RoutingError, MediaPortsExhausted) as exc:
            await ringback.stop()
            await stored.not_connected(EndReason.FAILED, str(exc))
            await agent.hangup(EndReason.FAILED, detail=f"customer not reachable: {exc}")
            return
        self._add_leg(customer)
        stored.follow(customer)
        answered = await _answer_or_end(customer, agent)
        await ringback.stop()
        if answered:
            await bridge(setup.engine, agent, customer, time_limit=setup.max_duration)
        else:
            await asyncio.gather(agent.hangup(), customer.hangup())

    def _add_leg(self, leg: CallLeg) -> None:
        self._legs.append(leg)
        if self._stopped:  # hung up while this leg was being placed
            self._setup.tasks.spawn(leg.hangup(detail=self._stopped), name=f"hangup {leg.id}")

    def _register(self, sid: str) -> None:
        if self._setup.live is not None:
            self._setup.live.add(sid, self)

    async def _end(self) -> None:
        """Every leg has ended (or is ending): wait until their last events are stored."""
        legs = (self._agent, self._customer)
        await asyncio.gather(*(leg.settled() for leg in legs if leg is not None))
        if self._setup.live is not None:
            for leg in legs:
                if leg is not None:
                    self._setup.live.remove(leg.sid)


async def _answer_or_end(customer: CallLeg, agent: CallLeg) -> bool:
    """Whether the customer answered before either leg ended."""
    answered = asyncio.ensure_future(customer.wait_answered())
    agent_gone = asyncio.ensure_future(agent.wait_ended())
    try:
        await asyncio.wait({answered, agent_gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        agent_gone.cancel()
        if not answered.done():
            answered.cancel()
    return answered.done() and not answered.cancelled() and answered.exception() is None


async def _never() -> None:
    """Nobody gives up on the agent's phones before their ring time is over (a hang-up
    through the API ends their legs)."""
    await asyncio.Event().wait()
