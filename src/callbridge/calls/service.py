"""CallbridgeCalls: the call service behind the HTTP APIs — places outbound calls, keeps
the live ones, answers questions about stored ones, and closes what a crash left open."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from callbridge.callflow.limits import RunnerLimits
from callbridge.callflow.ports import AudioLoader
from callbridge.callflow.runner import Translate
from callbridge.callflow.verbs import Program
from callbridge.calls.admission import Admission
from callbridge.calls.destination_policy import DestinationPolicy
from callbridge.calls.dialer import Originator
from callbridge.calls.errors import (
    CallNotFound,
    CallNotLive,
    CallNotRedirectable,
)
from callbridge.calls.inbound.numbers import InboundNumber
from callbridge.calls.inbound.sessions import InboundControl, InboundSessions
from callbridge.calls.live import LiveCall, LiveCalls
from callbridge.calls.new_call import outbound_call
from callbridge.calls.outbound import OutboundCall
from callbridge.calls.request import OutboundCallRequest, caller_id_user
from callbridge.calls.session_factory import (
    QueueingFor,
    SessionFactory,
    SessionSpec,
    SigningSecrets,
)
from callbridge.calls.tracker import CallTracker
from callbridge.calls.voicemail.call_box import DepositService
from callbridge.engine.engine import IncomingCall
from callbridge.engine.events import DialogSnapshot
from callbridge.engine.tasks import TaskOwner
from callbridge.httpclient.port import HttpRequests
from callbridge.log_context import bind_call
from callbridge.store import errors as store_errors
from callbridge.store.clock import Clock
from callbridge.store.records import (
    CallDetail,
    CallFilters,
    CallPage,
    CallRecord,
    Cursor,
    NewCall,
)
from callbridge.store.repository import CallRepository

log = logging.getLogger(__name__)

RESTART_CAUSE = "server restarted during the call"


class CallEngine(Originator, Protocol):
    """The engine as the call service uses it: it places calls, and ends the dialogs a
    previous run left up."""

    async def end_stale_dialog(self, snapshot: DialogSnapshot) -> int: ...


@dataclass(frozen=True, kw_only=True)
class CallServiceSettings:
    node: str
    public_url: str
    recordings_dir: Path
    translate: Translate
    runner_limits: RunnerLimits = field(default_factory=RunnerLimits)


class CallbridgeCalls:
    """Implements :class:`callbridge.calls.ports.CallService`."""

    def __init__(
        self,
        *,
        engine: CallEngine,
        repository: CallRepository,
        clock: Clock,
        http: HttpRequests,
        audio: AudioLoader,
        limiter: Admission,
        settings: CallServiceSettings,
        live: LiveCalls | None = None,
        policy: DestinationPolicy | None = None,
        secrets: SigningSecrets | None = None,
        queues: QueueingFor | None = None,
        voicemail: DepositService | None = None,
        control: InboundControl | None = None,
    ) -> None:
        """``queues`` serves the ``<Enqueue>`` of each call's program (and numbers routed
        to a queue); ``control`` runs the calls to numbers under call control (seed-004).
        ``live`` is shared with the callback service, so the call API reaches every call it
        lists (its own registry without it); ``policy`` holds where each API key's calls may
        go (default: the built-in denied prefixes, no SIP URIs; calls without a key are
        not checked); ``secrets`` sign the documents fetched for a key's calls."""
        self._engine = engine
        self._repository = repository
        self._clock = clock
        self._http = http
        self._audio = audio
        self._limiter = limiter
        self._settings = settings
        self._policy = DestinationPolicy() if policy is None else policy
        self._live: dict[str, LiveCall] = {}
        self.live = live if live is not None else LiveCalls()
        self._owns_live = live is None
        self._tasks = TaskOwner(name="calls")
        self._sessions = SessionFactory(
            engine=engine,
            repository=repository,
            clock=clock,
            http=http,
            audio=audio,
            translate=settings.translate,
            runner_limits=settings.runner_limits,
            recordings_dir=settings.recordings_dir,
            public_url=settings.public_url,
            node=settings.node,
            policy=self._policy,
            live=self.live,
            tasks=self._tasks,
            secrets=secrets,
            queues=queues,
            voicemail=voicemail,
        )
        self._inbound = InboundSessions(
            repository=repository,
            clock=clock,
            node=settings.node,
            limiter=limiter,
            sessions=self._sessions,
            live=_Registered(self._live, self.live),
            control=control,
            secrets=secrets,
        )

    @property
    def sessions(self) -> SessionFactory:
        """Builds its calls' sessions; the callback service builds its legs' with it."""
        return self._sessions

    # --- lifecycle ---

    async def start(self) -> None:
        """Close the calls this node left live when it stopped (crash or kill): each gets its
        completed event, so a restart loses no callback."""
        orphans = await self._repository.close_orphaned_calls(self._settings.node, RESTART_CAUSE)
        for orphan in orphans:
            tracker = CallTracker(repository=self._repository, clock=self._clock, call=orphan.call)
            await tracker.completed_after_restart()
            if orphan.sip_dialog is not None:
                self._tasks.spawn(
                    self._end_stale_dialog(tracker, orphan.sip_dialog),
                    name=f"bye {orphan.call.sid}",
                )
        if orphans:
            log.warning("closed %d call(s) left open by a previous run", len(orphans))

    async def _end_stale_dialog(self, tracker: CallTracker, stored: Mapping[str, Any]) -> None:
        """BYE the far end of a call the previous run left up, and note it on the call."""
        try:
            snapshot = DialogSnapshot.from_json(stored)
        except ValueError as exc:
            log.error("call %s: its stored SIP dialog is unusable: %s", tracker.sid, exc)
            return
        status = await self._engine.end_stale_dialog(snapshot)
        await tracker.note("dialog_ended", {"sip_code": status, "after": "restart"})

    async def close(self) -> None:
        for call in list(self._live.values()):
            await call.hang_up()
        await self._tasks.close()
        if self._owns_live:
            await self.live.close()

    # --- CallService ---

    async def place_call(self, request: OutboundCallRequest) -> CallRecord:
        self._check_destinations(request)
        permit = self._limiter.admit(request.api_key_id)
        try:
            tracker = await CallTracker.create(
                repository=self._repository,
                clock=self._clock,
                call=self._new_call(request),
                dialect=request.dialect,
            )
        except BaseException:
            permit.release()
            raise
        try:
            call = await self._outbound_call(request, tracker)
        except BaseException:
            permit.release()
            raise
        self._live[tracker.sid] = call
        self.live.add(tracker.sid, call)
        self._tasks.spawn(self._run(call, permit.release), name=f"call {tracker.sid}")
        # Answer once the INVITE is out: the call's task sends it in its first step, and
        # a reply written first would put the INVITE behind every other ready callback.
        await call.dialled()
        return tracker.call

    async def get_call(self, sid: str, *, api_key_id: str | None) -> CallDetail:
        try:
            detail = await self._repository.get_call(sid)
        except store_errors.CallNotFound as exc:
            raise CallNotFound(sid) from exc
        if api_key_id is not None and detail.call.api_key_id != api_key_id:
            raise CallNotFound(sid)
        return detail

    async def list_calls(
        self, filters: CallFilters, *, cursor: Cursor | None, limit: int
    ) -> CallPage:
        return await self._repository.list_calls(filters, limit=limit, after=cursor)

    async def hang_up(self, sid: str, *, api_key_id: str | None) -> CallRecord:
        call = await self._live_call(sid, api_key_id)
        await call.hang_up()
        return (await self._repository.get_call(sid)).call

    async def redirect(
        self, sid: str, url: str, method: str, *, api_key_id: str | None
    ) -> CallRecord:
        call = await self._live_call(sid, api_key_id)
        if not call.redirect(url, method):
            raise CallNotRedirectable(sid)
        return (await self._repository.get_call(sid)).call

    async def run_program(
        self, sid: str, program: Program, *, api_key_id: str | None
    ) -> CallRecord:
        call = await self._live_call(sid, api_key_id)
        if not call.run_program(program):
            raise CallNotRedirectable(sid)
        return (await self._repository.get_call(sid)).call

    async def recording_path(self, recording_id: int, *, api_key_id: str | None) -> str:
        try:
            recording = await self._repository.get_recording(recording_id)
        except store_errors.RecordingNotFound as exc:
            raise CallNotFound(f"recording {recording_id}") from exc
        await self.get_call(recording.call_sid, api_key_id=api_key_id)
        return recording.path

    async def receive(self, call: IncomingCall, number: InboundNumber) -> None:
        """Run an inbound call to ``number`` (from a trunk) until it has ended
        (:class:`callbridge.calls.inbound.sessions.InboundSessions`)."""
        await self._inbound.receive(call, number)

    # --- inside ---

    def _check_destinations(self, request: OutboundCallRequest) -> None:
        """``to`` is called showing ``from``; without ``url`` ``from`` is called too.
        Raises :class:`DestinationRefused`."""
        key = request.api_key_id
        self._policy.check_destination(key, request.to)
        if request.url is None and request.program is None:
            self._policy.check_destination(key, request.from_)
        self._policy.check_caller_id(key, request.from_)

    async def _live_call(self, sid: str, api_key_id: str | None) -> LiveCall:
        await self.get_call(sid, api_key_id=api_key_id)
        call = self.live.get(sid)
        if call is None:
            raise CallNotLive(sid)
        return call

    async def _run(self, call: OutboundCall, release: Callable[[], None]) -> None:
        bind_call(call.sid)  # on every log line of the call's task and of its legs' tasks
        try:
            await call.run()
        finally:
            self._live.pop(call.sid, None)
            self.live.remove(call.sid)
            release()

    def _new_call(
        self, request: OutboundCallRequest, *, parent: CallRecord | None = None
    ) -> NewCall:
        return outbound_call(
            to=request.to,
            from_=request.from_,
            node=self._settings.node,
            api_key_id=request.api_key_id,
            status_callback=request.status_callback,
            parent=parent,
            url=request.url,
            method=request.method,
            external_id=request.external_id,
        )

    async def _outbound_call(
        self, request: OutboundCallRequest, tracker: CallTracker
    ) -> OutboundCall:
        spec = SessionSpec(
            api_key_id=request.api_key_id,
            caller_id=caller_id_user(request.to),
            status_callback=request.status_callback,
            record=request.record,
            dialect=request.dialect,
        )
        session = await self._sessions.session(tracker, spec)
        return OutboundCall(engine=self._engine, request=request, session=session)


@dataclass(frozen=True)
class _Registered:
    """An inbound call is live in both of the service's registries while it runs."""

    own: dict[str, LiveCall]
    shared: LiveCalls

    def add(self, sid: str, call: LiveCall) -> None:
        self.own[sid] = call
        self.shared.add(sid, call)

    def remove(self, sid: str) -> None:
        self.own.pop(sid, None)
        self.shared.remove(sid)
