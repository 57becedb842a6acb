"""OriginateService: seed-002's three steps.

type=user: the agent's phones ring (every registered contact of the user at once, each its
own leg, through the switch's ringer: the first to answer is the agent), showing
the customer's ``caller_id_name``/``caller_id`` and, with ``vars.BACKEND_LINK``, a
``Call-Info: <link>;purpose=info`` and an ``X-Backend-Link`` header; when one answers the
agent hears ringback while the customer's number is dialled through ``outbound_trunk`` (or
the default trunk) showing ``outbound_number``; when the customer answers both are bridged.
type=queue: the queue's members (through the queues port) instead of the agent.

Each leg is a stored call (:mod:`callbridge.calls.originate.legs`): the agent leg, and the
customer leg as its child; what became of them answers ``GET ?external_id=``.

``async=1`` answers once the agent's phones are rung; ``async=0`` once the agent answered
(or with the error that says why not).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from callbridge.callflow.errors import CallflowError
from callbridge.callflow.verbs import DialGroup, DialTarget
from callbridge.calls.admission import Admission, Permit
from callbridge.calls.errors import CallLimitReached, CallServiceError, ServerOverloaded
from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.context import ContextCalls, ContextFlow, Translate, context_call
from callbridge.calls.originate.legs import CallStore, OriginateRecords, StoredLeg
from callbridge.calls.originate.origination import LiveRegistry, Origination, OriginationSetup
from callbridge.calls.originate.request import (
    OriginateRefused,
    OriginateRequest,
    OriginateType,
    originated_message,
)
from callbridge.calls.originate.state import OriginatedCall, agent_failure
from callbridge.calls.presence import PresenceState
from callbridge.calls.switch.ringer import GroupRinger, Originator, RingingGroup, Rung
from callbridge.engine.leg import CallLeg
from callbridge.engine.originate_checks import InvalidOriginate, check_originate
from callbridge.engine.routing import RoutingError
from callbridge.engine.tasks import TaskOwner
from callbridge.media.plane import MediaPortsExhausted
from callbridge.vocabulary import EndReason

log = logging.getLogger(__name__)
T = TypeVar("T")

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
        self,
        queue_id: str,
        *,
        caller_id: str,
        display_name: str | None,
        until: Callable[[], Awaitable[object]] | None = None,
    ) -> CallLeg | None: ...


@dataclass(frozen=True, kw_only=True)
class PbxDirectory:
    """What the configuration says exists: ``users`` maps an extension, ``queues`` a
    queue's id, to its project (None: every project)."""

    projects: frozenset[int]
    users: Mapping[str, int | None]
    trunks: frozenset[str]
    default_trunk: str | None
    contexts: Mapping[tuple[int | None, str], ContextFlow] = field(default_factory=dict)
    queues: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class OriginateTimes:
    """How long a bridged origination may last (ring timeouts are the client's)."""

    max_duration: float | None = None


class OriginateService:
    def __init__(
        self,
        *,
        engine: OriginateEngine,
        presence: PresenceReader,
        directory: PbxDirectory,
        store: CallStore,
        queues: QueueRinger | None = None,
        contexts: ContextCalls | None = None,
        translate: Translate | None = None,
        base_url: str = "",
        times: OriginateTimes = OriginateTimes(),
        admission: Admission | None = None,
        live: LiveRegistry | None = None,
    ) -> None:
        """``store`` keeps each leg as a call; ``contexts`` (the call service) and
        ``translate`` (the voice XML parser) run type=context; without them a context is
        refused.  ``admission`` admits each type=user/queue origination as one call of the
        client's API key until it ended (the call service admits a context's); ``live``
        makes its legs live calls of the call API."""
        self._engine = engine
        self._presence = presence
        self._directory = directory
        self._queues = queues
        self._contexts = contexts
        self._translate = translate
        self._base_url = base_url
        self._times = times
        self._admission = admission
        self._tasks = TaskOwner(name="originate")
        self._records = OriginateRecords(store=store, tasks=self._tasks)
        self._setup = OriginationSetup(
            engine=engine,
            records=self._records,
            tasks=self._tasks,
            live=live,
            max_duration=times.max_duration,
        )

    async def close(self) -> None:
        await self._tasks.close()

    async def find(self, client: OriginateClient, external_id: str) -> OriginatedCall | None:
        """The newest call ``client`` originated with ``external_id``, as stored now."""
        return await self._records.find(client, external_id)

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
            return await self._ring_queue(client, request, trunk)
        if request.type is OriginateType.CONTEXT:
            return await self._run_context(client, request, trunk)
        self._check_user(request)
        permit = self._admit(client)
        try:
            stored = await self._records.agent(client, request, to=request.destination)
            phones = await self._ring_user(request, headers, client, stored)
        except BaseException:
            permit.release()
            raise
        origination = self._origination(client, request, stored, trunk)
        agent: asyncio.Future[Rung] = asyncio.get_running_loop().create_future()
        run = functools.partial(origination.run_user, phones, agent)
        self._spawn(run, permit, name=f"originate {stored.sid}")
        if request.wait:
            await self._agent_answer(request, agent)
        return originated_message(request)

    def _admit(self, client: OriginateClient) -> Permit:
        if self._admission is None:
            return _NoPermit()
        try:
            return self._admission.admit(client.api_key_id)
        except (CallLimitReached, ServerOverloaded) as exc:
            raise OriginateRefused(f"Cannot call now: {exc}") from exc

    def _origination(
        self,
        client: OriginateClient,
        request: OriginateRequest,
        agent: StoredLeg,
        trunk: str | None,
    ) -> Origination:
        return Origination(
            setup=self._setup, client=client, request=request, agent=agent, trunk=trunk
        )

    def _spawn(
        self, run: Callable[[], Awaitable[T]], permit: Permit, *, name: str
    ) -> asyncio.Task[T]:
        """Run an origination, holding its permit until it has ended."""

        async def holding() -> T:
            try:
                return await run()
            finally:
                permit.release()

        return self._tasks.spawn(holding(), name=name)

    def _check_user(self, request: OriginateRequest) -> None:
        extension = request.destination
        project = self._directory.users.get(extension, -1)
        if project == -1 or (project is not None and project != request.project_id):
            raise OriginateRefused(INVALID_USER)
        state = self._presence.state(extension)
        if state is not PresenceState.ONLINE:
            raise OriginateRefused(f"User {extension} is {state} and cannot take a call now")

    async def _ring_user(
        self,
        request: OriginateRequest,
        headers: dict[str, str],
        client: OriginateClient,
        stored: StoredLeg,
    ) -> RingingGroup:
        """The agent's phones ringing, each its own leg (the switch's ringer); if they
        cannot be rung, the stored leg fails too."""
        extension = request.destination
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
                ring_timeout=client.agent_ring_timeout,
            )
            phones = await ringer.place(group)
        except (InvalidOriginate, CallflowError) as exc:  # a name no INVITE can carry
            refused = OriginateRefused(f"Cannot call user {extension}: {exc}")
            reason = EndReason.FAILED
        except MediaPortsExhausted:
            refused = OriginateRefused("The server is too busy to call now. Try again later")
            reason = EndReason.FAILED
        else:
            if phones.legs:
                return phones
            why = phones.unroutable[-1] if phones.unroutable else "no phone"
            refused = OriginateRefused(f"Cannot call user {extension}: {why}")  # offline since
            reason = EndReason.OFFLINE
        await stored.not_connected(reason, refused.messages[0])
        raise refused

    async def _ring_queue(
        self, client: OriginateClient, request: OriginateRequest, trunk: str | None
    ) -> str:
        queues = self._queues
        queue = request.destination
        project = self._directory.queues.get(queue, -1)
        if project == -1 or (project is not None and project != request.project_id):
            raise OriginateRefused(INVALID_QUEUE)
        if queues is None or not queues.exists(queue):
            raise OriginateRefused(INVALID_QUEUE)
        permit = self._admit(client)
        try:
            stored = await self._records.agent(client, request, to=queue)
        except BaseException:
            permit.release()
            raise
        origination = self._origination(client, request, stored, trunk)
        ring = functools.partial(
            queues.ring_members,
            queue,
            caller_id=request.caller_id,
            display_name=request.caller_id_name,
        )
        run = functools.partial(origination.run_queue, ring)
        task = self._spawn(run, permit, name=f"originate {queue}")
        if request.wait:
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is None and not task.result():
                raise OriginateRefused(f"No member of queue {queue} answered")
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
                ring_timeout=client.customer_ring_timeout,
                api_key_id=client.api_key_id,
                external_id=request.external_id,
                status_callback=client.status_callback,
            )
        except CallflowError as exc:  # the context's voice_xml, filled in, is not a document
            raise OriginateRefused(f"Invalid Context document: {str(exc)[:200]}") from exc
        try:
            record = await self._contexts.place_call(asked)
        except (CallServiceError, RoutingError) as exc:
            raise OriginateRefused(f"Cannot call {request.caller_id}: {exc}") from exc
        await self._records.placed(record.sid, request)
        return originated_message(request)

    async def _agent_answer(self, request: OriginateRequest, agent: asyncio.Future[Rung]) -> None:
        """async=0: returns once the agent answered; OriginateRefused otherwise."""
        rung = await asyncio.shield(agent)
        if rung.leg is not None:
            return
        ended = rung.failure
        reason = EndReason.UNREACHABLE if ended is None else ended.reason
        raise OriginateRefused(agent_failure(request.destination, reason))


class _NoPermit:
    def release(self) -> None:
        pass


def _link_headers(request: OriginateRequest) -> dict[str, str]:
    link = request.backend_link
    if link is None:
        return {}
    if not _LINK.fullmatch(link):
        raise OriginateRefused("Invalid vars[BACKEND_LINK]. It must be an http(s) URL")
    return {"Call-Info": f"<{link}>;purpose=info", "X-Backend-Link": link}
