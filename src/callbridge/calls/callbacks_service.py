"""CallbridgeCallbacks: the two-leg callback service behind ``POST /voice/call/callback``
(seed-000) — accepts callbacks, runs them, and answers what became of them.

Each leg is a call of its own (its CallSid, status, events and status callbacks); B is a
child of A, so every callback of either leg carries ``ParentCallSid`` = A's CallSid,
which is also the callback's id.  A callback is admitted as one call of its API key
(calls per second and concurrent calls) and holds that permit until both legs have
ended.  Calls a crash left open are closed by the call service's start-up, like any call.
Each leg runs as a call session built like any call's (its documents signed with its key's
secret, its recordings kept with the call's), whose ``<Dial>`` is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from callbridge.callflow.ports import AudioLoader
from callbridge.calls.admission import Admission
from callbridge.calls.callback import DEFAULT_FAILURE_TEXT, TwoLegCallback
from callbridge.calls.callback_leg import NO_DIAL_MESSAGE
from callbridge.calls.callback_state import (
    CALLBACK_EVENT,
    CallbackDetail,
    PlacedCallback,
    callback_detail,
    placement_data,
    placement_of,
)
from callbridge.calls.destination_policy import DestinationPolicy
from callbridge.calls.dialer import Originator
from callbridge.calls.errors import CallbackNotFound
from callbridge.calls.live import LiveCalls
from callbridge.calls.new_call import outbound_call
from callbridge.calls.request import (
    Announcement,
    CallbackRequest,
    LegName,
    LegSpec,
    caller_id_user,
)
from callbridge.calls.session import CallSession
from callbridge.calls.session_factory import SessionSpec
from callbridge.calls.tracker import CallTracker
from callbridge.engine.tasks import TaskOwner
from callbridge.log_context import bind_call
from callbridge.store import errors as store_errors
from callbridge.store.clock import Clock
from callbridge.store.records import CallDetail, CallRecord, NewCall
from callbridge.store.repository import CallRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CallbackSettings:
    """``failure_announcement`` is what an answered leg hears when the other leg cannot be
    connected, unless the request gives its own."""

    node: str
    failure_announcement: Announcement = field(
        default_factory=lambda: Announcement(text=DEFAULT_FAILURE_TEXT)
    )


class LegSessions(Protocol):
    """Builds the session of a tracked call (calls.session_factory.SessionFactory)."""

    async def session(self, tracker: CallTracker, spec: SessionSpec) -> CallSession: ...


class CallbridgeCallbacks:
    """Implements :class:`callbridge.calls.ports.CallbackService`."""

    def __init__(
        self,
        *,
        engine: Originator,
        repository: CallRepository,
        clock: Clock,
        audio: AudioLoader,
        limiter: Admission,
        settings: CallbackSettings,
        sessions: LegSessions,
        live: LiveCalls | None = None,
        policy: DestinationPolicy | None = None,
    ) -> None:
        """``sessions``: builds each leg's session (the call service's, so a leg's
        ``send_digits``, ``url`` and recording work as in any call); ``live``: the
        registry the call API hangs calls up through (shared with the call service), where
        both legs of each callback are live while it runs; ``policy``: where each API
        key's calls may go (see ``CallbridgeCalls``)."""
        self._sessions = sessions
        self._engine = engine
        self._repository = repository
        self._clock = clock
        self._audio = audio
        self._limiter = limiter
        self._settings = settings
        self._policy = DestinationPolicy() if policy is None else policy
        self._live: dict[str, TwoLegCallback] = {}
        self.live = live if live is not None else LiveCalls()
        self._owns_live = live is None
        self._tasks = TaskOwner(name="callbacks")

    async def close(self) -> None:
        for callback in list(self._live.values()):
            await callback.hang_up()
        await self._tasks.close()
        if self._owns_live:
            await self.live.close()

    async def place_callback(self, request: CallbackRequest) -> PlacedCallback:
        self._check_destinations(request)
        permit = self._limiter.admit(request.api_key_id)
        try:
            leg_a = await self._repository.create_call(self._new_leg(request, request.leg_a))
            leg_b = await self._repository.create_call(
                self._new_leg(request, request.leg_b, parent=leg_a)
            )
            tracker_a = self._tracker(leg_a)
            placed = placement_data(mode=request.mode, first=request.first, leg_b_sid=leg_b.sid)
            await tracker_a.note(CALLBACK_EVENT, placed)
            session_a = await self._session(request, request.leg_a, tracker_a)
            session_b = await self._session(request, request.leg_b, self._tracker(leg_b))
        except BaseException:
            permit.release()
            raise
        flow = TwoLegCallback(
            engine=self._engine,
            request=request,
            leg_a=session_a,
            leg_b=session_b,
            audio=self._audio,
            failure_announcement=self._settings.failure_announcement,
        )
        self._live[leg_a.sid] = flow
        self.live.add(leg_a.sid, flow.leg_call(LegName.A))
        self.live.add(leg_b.sid, flow.leg_call(LegName.B))
        run = self._run(flow, leg_b.sid, permit.release)
        self._tasks.spawn(run, name=f"callback {leg_a.sid}")
        return PlacedCallback(
            id=leg_a.sid, mode=request.mode, first=request.first, leg_a=leg_a, leg_b=leg_b
        )

    def _check_destinations(self, request: CallbackRequest) -> None:
        """Each leg's destination and caller ID, unless the leg rings a line (the
        operator's own configuration, which the dialect has checked the key may use); a
        line's number may be shown on the other leg.  Raises ``DestinationRefused``."""
        key = request.api_key_id
        lines = [leg.line for leg in (request.leg_a, request.leg_b) if leg.line is not None]
        line_numbers = {line.caller_id for line in lines}
        for leg in (request.leg_a, request.leg_b):
            self._policy.check_headers(key, leg.headers)
            if leg.line is not None:
                continue
            self._policy.check_destination(key, leg.to, trunk=leg.trunk)
            if leg.from_ not in line_numbers:
                self._policy.check_caller_id(key, leg.from_)

    async def get_callback(self, callback_id: str, *, api_key_id: str | None) -> CallbackDetail:
        # Whether it runs is read before the legs: read after, a callback that stored its
        # outcome between the two reads would look ended without one.
        running = callback_id in self._live
        leg_a = await self._own_call(callback_id, api_key_id)
        placed = placement_of(leg_a) if leg_a is not None else None
        if leg_a is None or placed is None:
            raise CallbackNotFound(callback_id)
        leg_b = await self._own_call(str(placed["leg_B"]), api_key_id)
        if leg_b is None:
            raise CallbackNotFound(callback_id)
        return callback_detail(leg_a, leg_b, running=running)

    async def _own_call(self, sid: str, api_key_id: str | None) -> CallDetail | None:
        try:
            detail = await self._repository.get_call(sid)
        except store_errors.CallNotFound:
            return None
        if api_key_id is not None and detail.call.api_key_id != api_key_id:
            return None
        return detail

    async def _run(self, flow: TwoLegCallback, leg_b_sid: str, release: Callable[[], None]) -> None:
        bind_call(flow.sid)  # leg A's sid names the callback on its tasks' log lines
        try:
            outcome = await flow.run()
            log.info("callback %s ended: %s", flow.sid, outcome)
        finally:
            self._live.pop(flow.sid, None)
            self.live.remove(flow.sid)
            self.live.remove(leg_b_sid)
            release()

    def _tracker(self, call: CallRecord) -> CallTracker:
        return CallTracker(repository=self._repository, clock=self._clock, call=call)

    async def _session(
        self, request: CallbackRequest, leg: LegSpec, tracker: CallTracker
    ) -> CallSession:
        """A leg's session: its own programs run on it alone, before the bridge."""
        spec = SessionSpec(
            api_key_id=request.api_key_id,
            caller_id=caller_id_user(leg.from_),
            status_callback=leg.status_callback,
            dial_refusal=NO_DIAL_MESSAGE,
        )
        return await self._sessions.session(tracker, spec)

    def _new_leg(
        self, request: CallbackRequest, leg: LegSpec, *, parent: CallRecord | None = None
    ) -> NewCall:
        return outbound_call(
            to=leg.to,
            from_=leg.from_,
            node=self._settings.node,
            api_key_id=request.api_key_id,
            status_callback=leg.status_callback,
            parent=parent,
        )
