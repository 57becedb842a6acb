"""OriginateService: seed-002's three steps.

type=user: the agent's phones ring (every registered contact of the user at once, each its
own leg, through the switch's ringer: the first to answer is the agent), showing
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
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from callbridge.callflow.errors import CallflowError
from callbridge.callflow.verbs import DialGroup, DialTarget
from callbridge.calls.errors import CallServiceError
from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.context import (
    ContextCalls,
    ContextFlow,
    Translate,
    call_status,
    context_call,
)
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
from callbridge.calls.switch.ringer import GroupRinger, Originator, RingingGroup, Rung
from callbridge.engine.events import Ended
from callbridge.engine.leg import CallLeg
from callbridge.engine.originate_checks import InvalidOriginate, check_originate
from callbridge.engine.routing import RoutingError
from callbridge.engine.tasks import TaskOwner
from callbridge.media.plane import MediaPortsExhausted
from callbridge.vocabulary import EndReason

log = logging.getLogger(__name__)

INVALID_PROJECT = "Invalid Project. Check if pbx project exists"
INVALID_USER = "Invalid User. Check if pbx user exists"
INVALID_QUEUE = "Invalid Queue. Check if pbx queue exists"
INVALID_CONTEXT = "Invalid Context. Check if pbx context exists"
INVALID_TRUNK = "Invalid Trunk. Check if pbx trunk exists"
_LINK = re.compile(r"https?://[^\s<>\"]{1,1000}")


class OriginateEngine(Originator, Protocol):
    """The engine as originate uses it: it places calls and connects their media."""


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
    contexts: Mapping[tuple[int | None, str], ContextFlow] = field(default_factory=dict)


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
        contexts: ContextCalls | None = None,
        translate: Translate | None = None,
        base_url: str = "",
        times: OriginateTimes = OriginateTimes(),
        ledger: OriginateLedger | None = None,
    ) -> None:
        """``contexts`` (the call service) and ``translate`` (the voice XML parser) run
        type=context; without them a context is refused."""
        self._engine = engine
        self._presence = presence
        self._directory = directory
        self._queues = queues
        self._contexts = contexts
        self._translate = translate
        self._base_url = base_url
        self._times = times
        self.ledger = OriginateLedger() if ledger is None else ledger
        self._tasks = TaskOwner(name="originate")

    async def close(self) -> None:
        await self._tasks.close()

    async def find(self, external_id: str) -> OriginatedCall | None:
        """The newest call originated with ``external_id``, as it stands now."""
        call = self.ledger.find(external_id)
        if call is None or call.call_sid is None or self._contexts is None:
            return call
        status = await call_status(self._contexts, call.call_sid)
        for step in _CONTEXT_STEPS.get(status or "", ()):
            self.ledger.advance(call, step, status or "")
            call = self.ledger.find(external_id) or call
        return call

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
        if request.type is OriginateType.QUEUE:
            return await self._ring_queue(request, trunk)
        if request.type is not OriginateType.USER:
            return await self._run_context(client, request, trunk)
        phones = await self._ring_user(request, headers)
        call = self.ledger.add(request)
        agent: asyncio.Future[Rung] = asyncio.get_running_loop().create_future()
        self._tasks.spawn(
            self._connect(call, phones, agent, trunk), name=f"originate {request.destination}"
        )
        if request.wait:
            await self._agent_answer(request, agent)
        return originated_message(request)

    async def _ring_user(self, request: OriginateRequest, headers: dict[str, str]) -> RingingGroup:
        """The agent's phones ringing (each its own leg), or OriginateRefused why not."""
        extension = request.destination
        project = self._directory.users.get(extension, -1)
        if project == -1 or (project is not None and project != request.project_id):
            raise OriginateRefused(INVALID_USER)
        state = self._presence.state(extension)
        if state is not PresenceState.ONLINE:
            raise OriginateRefused(f"User {extension} is {state} and cannot take a call now")
        ringer = GroupRinger(
            engine=self._engine,
            caller_id=request.caller_id,
            caller_name=request.caller_id_name,
            headers=headers,
        )
        try:
            check_originate(
                caller_id=request.caller_id, caller_name=request.caller_id_name, headers=headers
            )
            group = DialGroup(
                targets=(DialTarget(kind="user", address=extension),),
                ring_timeout=self._times.agent_ring,
            )
            phones = await ringer.place(group)
        except (InvalidOriginate, CallflowError) as exc:  # a name no INVITE can carry
            raise OriginateRefused(f"Cannot call user {extension}: {exc}") from exc
        except MediaPortsExhausted as exc:
            raise OriginateRefused("The server is too busy to call now. Try again later") from exc
        if not phones.legs:  # offline since
            why = phones.unroutable[-1] if phones.unroutable else "no phone"
            raise OriginateRefused(f"Cannot call user {extension}: {why}")
        return phones

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

    async def _run_context(
        self, client: OriginateClient, request: OriginateRequest, trunk: str | None
    ) -> str:
        contexts = self._directory.contexts
        flow = contexts.get((request.project_id, request.destination)) or contexts.get(
            (None, request.destination)
        )
        if flow is None or self._contexts is None or self._translate is None:
            raise OriginateRefused(INVALID_CONTEXT)
        if trunk is not None and trunk != self._directory.default_trunk:
            raise OriginateRefused(f"{INVALID_TRUNK}: a context dials through the default trunk")
        try:
            asked = context_call(
                flow,
                customer=request.caller_id,
                shown_number=request.outbound_number,
                variables=request.vars,
                translate=self._translate,
                base_url=self._base_url,
                ring_timeout=self._times.customer_ring,
                api_key_id=client.api_key_id,
                external_id=request.external_id,
            )
        except CallflowError as exc:  # the context's voice_xml, filled in, is not a document
            raise OriginateRefused(f"Invalid Context document: {str(exc)[:200]}") from exc
        try:
            record = await self._contexts.place_call(asked)
        except (CallServiceError, RoutingError) as exc:
            raise OriginateRefused(f"Cannot call {request.caller_id}: {exc}") from exc
        self.ledger.add(request, status=OriginateStatus.CUSTOMER_RINGING, call_sid=record.sid)
        return originated_message(request)

    async def _agent_answer(self, request: OriginateRequest, agent: asyncio.Future[Rung]) -> None:
        """async=0: returns once the agent answered; OriginateRefused otherwise."""
        rung = await asyncio.shield(agent)
        if rung.leg is not None:
            return
        raise OriginateRefused(_agent_failure(request.destination, rung.failure))

    async def _connect(
        self,
        call: OriginatedCall,
        phones: RingingGroup,
        agent: asyncio.Future[Rung],
        trunk: str | None,
    ) -> None:
        """The first of the agent's phones to answer is the agent (``agent`` says who, or
        how they all failed); the customer is dialled then."""
        try:
            rung = await phones.outcome(give_up=_never)
        except BaseException:
            agent.cancel()
            raise
        agent.set_result(rung)
        if rung.leg is None:
            detail = _agent_failure(call.request.destination, rung.failure)
            self.ledger.advance(call, OriginateStatus.AGENT_NOT_ANSWERED, detail)
            return
        await self._customer(call, rung.leg, trunk)

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
        except (RoutingError, MediaPortsExhausted) as exc:
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


_CONTEXT_STEPS: dict[str, tuple[OriginateStatus, ...]] = {
    "in-progress": (OriginateStatus.IN_PROGRESS,),
    "completed": (OriginateStatus.IN_PROGRESS, OriginateStatus.COMPLETED),
    "busy": (OriginateStatus.CUSTOMER_NOT_ANSWERED,),
    "no-answer": (OriginateStatus.CUSTOMER_NOT_ANSWERED,),
    "canceled": (OriginateStatus.CUSTOMER_NOT_ANSWERED,),
    "failed": (OriginateStatus.FAILED,),
}


async def _never() -> None:
    """Nobody gives up on the agent's phones before their ring time is over."""
    await asyncio.Event().wait()


def _agent_failure(extension: str, ended: Ended | None) -> str:
    if ended is None:
        return f"User {extension} could not be reached"
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
