"""The stored calls of an origination: each leg is a call of the calls table, recorded by a
:class:`CallTracker` as every call is (status, events, status callbacks through the outbox,
the CDR line and outcome at its end).

type=user and type=queue: the agent leg is the parent (``to``: the user's extension or the
queue's id; ``from``: the customer's number), made before the agent's phones ring; the
customer leg is its child, made when the customer is dialled.  type=context: the call
service's call is the only leg.  Each carries the request's ``external_id`` and belongs to
the client's API key; the first leg's ``originate`` event says what was asked (type,
destination, project_id, caller_id), which ``GET ?external_id=`` reads back
(:mod:`callbridge.calls.originate.state`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from callbridge.calls.new_call import outbound_call
from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.request import OriginateRequest
from callbridge.calls.originate.state import (
    ORIGINATE_EVENT,
    OriginatedCall,
    originated_call,
    placement_of,
)
from callbridge.calls.tracker import CallTracker
from callbridge.engine.events import Ended, EndReason, Party
from callbridge.engine.leg import CallLeg
from callbridge.engine.tasks import TaskOwner
from callbridge.store import errors as store_errors
from callbridge.store.clock import Clock
from callbridge.store.records import CallFilters, NewEvent
from callbridge.store.repository import CallRepository

log = logging.getLogger(__name__)

MEMBER_EVENT = "member"  # type=queue: the member whose phone answered


def placement(request: OriginateRequest) -> dict[str, object]:
    """The ``originate`` event's data."""
    return {
        "type": str(request.type),
        "destination": request.destination,
        "project_id": request.project_id,
        "caller_id": request.caller_id,
    }


class StoredLeg:
    """One leg's call record, and the follower storing its SIP leg's events."""

    def __init__(self, *, tracker: CallTracker, tasks: TaskOwner) -> None:
        self.tracker = tracker
        self._tasks = tasks
        self._follower: asyncio.Task[None] | None = None

    @property
    def sid(self) -> str:
        return self.tracker.sid

    def follow(self, leg: CallLeg) -> None:
        """Store each of ``leg``'s events (those so far too) in order, until it ends."""
        if self._follower is None:
            self._follower = self._tasks.spawn(self._follow(leg), name=f"events {self.sid}")

    async def not_connected(self, reason: EndReason, detail: str) -> None:
        """The leg never had a SIP leg that could end it (not dialled, no member answered)."""
        await self.tracker.ended(Ended(reason, Party.LOCAL, None, detail))

    async def settled(self) -> None:
        """Returns once the followed leg's last event is stored."""
        if self._follower is not None:
            await asyncio.wait({self._follower})

    async def _follow(self, leg: CallLeg) -> None:
        try:
            async for event in leg.events():
                await self.tracker.on_leg_event(event)
        except Exception:  # the leg runs on; its record is closed at the next start
            log.exception("originated call %s: an event was not stored", self.sid)


@dataclass(frozen=True, kw_only=True)
class CallStore:
    """Where originated calls are kept (``node``: this server's, whose start closes what
    a crash left open)."""

    repository: CallRepository
    clock: Clock
    node: str


class OriginateRecords:
    """Makes, and reads back, the stored legs of originations."""

    def __init__(self, *, store: CallStore, tasks: TaskOwner) -> None:
        self._repository = store.repository
        self._clock = store.clock
        self._node = store.node
        self._tasks = tasks

    async def agent(
        self, client: OriginateClient, request: OriginateRequest, *, to: str
    ) -> StoredLeg:
        """The agent leg (``queued``, its ``initiated`` and ``originate`` events stored)."""
        tracker = await CallTracker.create(
            repository=self._repository,
            clock=self._clock,
            call=outbound_call(
                to=to,
                from_=request.caller_id,
                node=self._node,
                api_key_id=client.api_key_id,
                status_callback=client.status_callback,
                external_id=request.external_id,
            ),
        )
        await tracker.note(ORIGINATE_EVENT, placement(request))
        return StoredLeg(tracker=tracker, tasks=self._tasks)

    async def customer(
        self, client: OriginateClient, request: OriginateRequest, agent: StoredLeg, *, from_: str
    ) -> StoredLeg:
        """The customer leg, a child of the agent leg."""
        tracker = await CallTracker.create(
            repository=self._repository,
            clock=self._clock,
            call=outbound_call(
                to=request.caller_id,
                from_=from_,
                node=self._node,
                api_key_id=client.api_key_id,
                status_callback=client.status_callback,
                parent=agent.tracker.call,
                external_id=request.external_id,
            ),
        )
        return StoredLeg(tracker=tracker, tasks=self._tasks)

    async def placed(self, sid: str, request: OriginateRequest) -> None:
        """type=context: the call service's call ``sid`` is this origination."""
        event = NewEvent(name=ORIGINATE_EVENT, at=self._clock.now(), data=placement(request))
        await self._repository.record_event_with_delivery(sid, event, {}, None)

    async def find(self, client: OriginateClient, external_id: str) -> OriginatedCall | None:
        """The newest origination with ``external_id`` that ``client`` may see (its API
        key's calls, in a project it may use), as its stored calls stand now."""
        owned = CallFilters(external_id=external_id, api_key_id=client.api_key_id)
        newest = (await self._repository.list_calls(owned, limit=1)).calls
        if not newest:
            return None
        try:
            first = await self._repository.get_call(newest[0].parent_sid or newest[0].sid)
        except store_errors.CallNotFound:
            return None
        placed = placement_of(first)
        if placed is None or first.call.api_key_id != client.api_key_id:
            return None
        if not client.may_use(placed.project_id):
            return None
        children = CallFilters(parent_sid=first.call.sid, external_id=external_id)
        customer = (await self._repository.list_calls(children, limit=1)).calls
        return originated_call(first, placed, customer[0] if customer else None)
