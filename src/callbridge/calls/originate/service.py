"""OriginateService: seed-002's three steps.

type=user: the agent's phones ring (every registered contact of the user at once), showing
the customer's ``caller_id_name``/``caller_id`` and, with ``vars.BACKEND_LINK``, a
``Call-Info: <link>;purpose=info`` and an ``X-Backend-Link`` header; when one answers the
agent hears ringback while the customer's number is dialled through ``outbound_trunk`` (or
the default trunk) showing ``outbound_number``; when the customer answers both are bridged.
type=queue: the queue's members (through the queues port) instead of the agent.

``async=1`` answers once the agent's phones are rung; ``async=0`` once the agent answered
(or with the error that says why not).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.ledger import OriginatedCall, OriginateLedger, OriginateStatus
from callbridge.calls.originate.request import (
    OriginateRefused,
    OriginateRequest,
    OriginateType,
    originated_message,
)
from callbridge.calls.presence import PresenceState
from callbridge.calls.switch.bridge import bridge
from callbridge.calls.switch.ringback import Ringback
from callbridge.engine.events import Ended, LegEndedError
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import RoutingError
from callbridge.engine.tasks import TaskOwner
from callbridge.vocabulary import EndReason

log = logging.getLogger(__name__)

INVALID_PROJECT = "Invalid Project. Check if pbx project exists"
INVALID_USER = "Invalid User. Check if pbx user exists"
INVALID_QUEUE = "Invalid Queue. Check if pbx queue exists"
INVALID_CONTEXT = "Invalid Context. Check if pbx context exists"
INVALID_TRUNK = "Invalid Trunk. Check if pbx trunk exists"
_LINK = re.compile(r"https?://[^\s<>\"]{1,1000}")


class OriginateEngine(Protocol):
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

    def bridge(self, a: CallLeg, b: CallLeg) -> None: ...


class PresenceReader(Protocol):
    def state(self, extension: str) -> PresenceState: ...


class QueueRinger(Protocol):
    """The queues (branch ``queues``) as type=queue uses them."""

    def exists(self, queue_id: str) -> bool: ...

    async def ring_members(
        self, queue_id: str, *, caller_id: str, display_name: str | None
    ) -> CallLeg | None: ...


@dataclass(frozen=True, kw_only=True)
class PbxDirectory:
    """What the configuration says exists: ``users`` maps an extension to its project
    (None: every project)."""

    projects: frozenset[int]
    users: Mapping[str, int | None]
    trunks: frozenset[str]
    default_trunk: str | None
    contexts: Collection[tuple[int | None, str]] = ()


@dataclass(frozen=True, kw_only=True)
class OriginateTimes:
    agent_ring: float = 30.0
    customer_ring: float = 60.0
    max_duration: float | None = None


class OriginateService:
    def __init__(
        self,
        *,
        engine: OriginateEngine,
        presence: PresenceReader,
        directory: PbxDirectory,
        queues: QueueRinger | None = None,
        times: OriginateTimes = OriginateTimes(),
        ledger: OriginateLedger | None = None,
    ) -> None:
        self._engine = engine
        self._presence = presence
        self._directory = directory
        self._queues = queues
        self._times = times
        self.ledger = OriginateLedger() if ledger is None else ledger
        self._tasks = TaskOwner(name="originate")

    async def close(self) -> None:
        await self._tasks.close()

    def find(self, external_id: str) -> OriginatedCall | None:
        """The newest call originated with ``external_id``, as it stands now."""
        return self.ledger.find(external_id)

    async def originate(self, client: OriginateClient, request: OriginateRequest) -> str:
        """Start the call; the success message, or OriginateRefused saying why not."""
        directory = self._directory
        if request.project_id not in directory.projects or not client.may_use(request.project_id):
            raise OriginateRefused(INVALID_PROJECT)
        trunk = request.outbound_trunk
        if trunk is None and directory.default_trunk is None:
            raise OriginateRefused(f"{INVALID_TRUNK}: no outbound_trunk and no default trunk")
        if trunk is not None and trunk not in directory.trunks:
            raise OriginateRefused(INVALID_TRUNK)
        headers = _link_headers(request)
        if request.type is OriginateType.USER:
            agent = await self._ring_user(request, headers)
        elif request.type is OriginateType.QUEUE:
            return await self._ring_queue(request, trunk)
        else:
            if (request.project_id, request.destination) not in directory.contexts and (
                None,
                request.destination,
            ) not in directory.contexts:
                raise OriginateRefused(INVALID_CONTEXT)
            raise OriginateRefused("Contexts are not available on this server yet")
        call = self.ledger.add(request)
        self._tasks.spawn(self._connect(call, agent, trunk), name=f"originate {agent.id}")
        if request.wait:
            await self._agent_answer(request, agent)
        return originated_message(request)

    async def _ring_user(self, request: OriginateRequest, headers: dict[str, str]) -> CallLeg:
        extension = request.destination
        project = self._directory.users.get(extension, -1)
        if project == -1 or (project is not None and project != request.project_id):
            raise OriginateRefused(INVALID_USER)
        state = self._presence.state(extension)
        if state is not PresenceState.ONLINE:
            raise OriginateRefused(f"User {extension} is {state} and cannot take a call now")
        try:
            return await self._engine.originate(
                extension,
                caller_id=request.caller_id,
                caller_name=request.caller_id_name,
                ring_timeout=self._times.agent_ring,
                headers=headers,
            )
        except RoutingError as exc:  # offline since, or a name no INVITE can carry
            raise OriginateRefused(f"Cannot call user {extension}: {exc}") from exc

    async def _ring_queue(self, request: OriginateRequest, trunk: str | None) -> str:
        queues = self._queues
        if queues is None or not queues.exists(request.destination):
            raise OriginateRefused(INVALID_QUEUE)
        call = self.ledger.add(request)

        async def run() -> None:
            member = await queues.ring_members(
                request.destination,
                caller_id=request.caller_id,
                display_name=request.caller_id_name,
            )
            if member is None:
                self.ledger.advance(call, OriginateStatus.AGENT_NOT_ANSWERED, "no member answered")
                return
            await self._customer(call, member, trunk)

        task = self._tasks.spawn(run(), name=f"originate queue {request.destination}")
        if request.wait:
            await asyncio.wait({task})
            found = self.ledger.find(request.external_id)
            if found is not None and found.status is OriginateStatus.AGENT_NOT_ANSWERED:
                raise OriginateRefused(f"No member of queue {request.destination} answered")
        return originated_message(request)

    async def _agent_answer(self, request: OriginateRequest, agent: CallLeg) -> None:
        """async=0: returns once the agent answered; OriginateRefused otherwise."""
        with contextlib.suppress(LegEndedError):
            await agent.wait_answered()
        ended = agent.ended
        if ended is None:
            return
        raise OriginateRefused(_agent_failure(request.destination, ended))

    async def _connect(self, call: OriginatedCall, agent: CallLeg, trunk: str | None) -> None:
        try:
            await agent.wait_answered()
        except LegEndedError:
            ended = agent.ended
            detail = _agent_failure(call.request.destination, ended) if ended else ""
            self.ledger.advance(call, OriginateStatus.AGENT_NOT_ANSWERED, detail)
            return
        await self._customer(call, agent, trunk)

    async def _customer(self, call: OriginatedCall, agent: CallLeg, trunk: str | None) -> None:
        """The agent answered: dial the customer with ringback to the agent, then bridge."""
        request = call.request
        self.ledger.advance(call, OriginateStatus.CUSTOMER_RINGING)
        ringback = Ringback(leg=agent, tasks=self._tasks)
        ringback.start()
        try:
            customer = await self._engine.originate(
                request.caller_id,
                caller_id=request.outbound_number or agent.callee.user,
                ring_timeout=self._times.customer_ring,
                trunk=trunk,
            )
        except RoutingError as exc:
            await ringback.stop()
            self.ledger.advance(call, OriginateStatus.FAILED, str(exc))
            await agent.hangup(EndReason.FAILED, detail=f"customer not reachable: {exc}")
            return
        answered = await _answer_or_end(customer, agent)
        await ringback.stop()
        if not answered:
            ended = customer.ended
            why = ended.reason.value if ended else "the agent hung up"
            self.ledger.advance(call, OriginateStatus.CUSTOMER_NOT_ANSWERED, why)
            await asyncio.gather(agent.hangup(), customer.hangup())
            return
        self.ledger.advance(call, OriginateStatus.IN_PROGRESS)
        await bridge(self._engine, agent, customer, time_limit=self._times.max_duration)
        self.ledger.advance(call, OriginateStatus.COMPLETED)


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


def _agent_failure(extension: str, ended: Ended) -> str:
    reasons = {
        EndReason.DECLINED: "rejected the call",
        EndReason.BUSY: "is busy",
        EndReason.NO_ANSWER: "did not answer in time",
        EndReason.OFFLINE: "is offline",
        EndReason.UNREACHABLE: "could not be reached",
    }
    return f"User {extension} {reasons.get(ended.reason, f'did not answer ({ended.reason.value})')}"


def _link_headers(request: OriginateRequest) -> dict[str, str]:
    link = request.backend_link
    if link is None:
        return {}
    if not _LINK.fullmatch(link):
        raise OriginateRefused("Invalid vars[BACKEND_LINK]. It must be an http(s) URL")
    return {"Call-Info": f"<{link}>;purpose=info", "X-Backend-Link": link}
