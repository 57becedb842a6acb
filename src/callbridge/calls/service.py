"""CallbridgeCalls: the call service behind the HTTP APIs — places outbound calls, keeps
the live ones, answers questions about stored ones, and closes what a crash left open."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from callbridge.callflow.ports import AudioLoader
from callbridge.callflow.runner import CallflowRunner, RunnerLimits, Translate
from callbridge.callflow.verbs import DialTarget, Program
from callbridge.calls.destination_policy import DestinationPolicy, DestinationRefused
from callbridge.calls.dialer import DialScreen, EngineDialer, Originator
from callbridge.calls.documents import HttpDocumentFetcher
from callbridge.calls.errors import CallNotFound, CallNotLive, CallNotRedirectable
from callbridge.calls.live import DialLeg, LiveCall, LiveCalls
from callbridge.calls.new_call import outbound_call
from callbridge.calls.outbound import OutboundCall
from callbridge.calls.recordings import CallRecordings
from callbridge.calls.request import OutboundCallRequest, caller_id_user
from callbridge.calls.tracker import CallTracker
from callbridge.engine.events import DialogSnapshot
from callbridge.engine.leg import CallLeg
from callbridge.engine.tasks import TaskOwner
from callbridge.httpclient.port import HttpRequests
from callbridge.store import errors as store_errors
from callbridge.store.clock import Clock
from callbridge.store.records import (
    CallDetail,
    CallFilters,
    CallPage,
    CallRecord,
    Cursor,
    NewCall,
    RecordingRecord,
)
from callbridge.store.repository import CallRepository

log = logging.getLogger(__name__)

RESTART_CAUSE = "server restarted during the call"
DIAL_REFUSED_EVENT = "dial_refused"
API_VERSION = "v2"


class Permit(Protocol):
    def release(self) -> None: ...


class CallEngine(Originator, Protocol):
    """The engine as the call service uses it: it places calls, and ends the dialogs a
    previous run left up."""

    async def end_stale_dialog(self, snapshot: DialogSnapshot) -> int: ...


class Admission(Protocol):
    """Admits a new call for an API key or raises ``CallLimitReached`` (a limit of the key)
    or ``ServerOverloaded``."""

    def admit(self, api_key_id: str | None) -> Permit: ...


@dataclass(frozen=True, kw_only=True)
class CallServiceSettings:
    node: str
    public_url: str
    recordings_dir: Path
    translate: Translate
    runner_limits: RunnerLimits = field(default_factory=RunnerLimits)


def call_params(call: CallRecord) -> dict[str, str]:
    """The parameters every application request carries (Twilio's names, which the seed's
    platform follows)."""
    params = {
        "CallSid": call.sid,
        "AccountSid": call.api_key_id or "",
        "From": call.from_,
        "To": call.to,
        "Called": call.to,
        "Caller": call.from_,
        "CallStatus": call.status,
        "Direction": call.direction,
        "ApiVersion": API_VERSION,
    }
    if call.parent_sid:
        params["ParentCallSid"] = call.parent_sid
    return params


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
    ) -> None:
        """``live`` is shared with the callback service, so the call API reaches every call
        it lists (its own registry without it); ``policy`` holds where each API key's calls
        may go (default: the built-in denied prefixes, no SIP URIs; calls without a key are
        not checked)."""
        self._engine = engine
        self._repository = repository
        self._clock = clock
        self._http = http
        self._audio = audio
        self._limiter = limiter
        self._settings = settings
        self._policy = DestinationPolicy() if policy is None else policy
        self._live: dict[str, OutboundCall] = {}
        self.live = live if live is not None else LiveCalls()
        self._owns_live = live is None
        self._tasks = TaskOwner(name="calls")

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
        call = self._outbound_call(request, tracker)
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
        )

    def _outbound_call(self, request: OutboundCallRequest, tracker: CallTracker) -> OutboundCall:
        recordings = self._recordings_of(tracker)

        def document_params() -> dict[str, str]:
            if request.dialect is not None:
                return request.dialect.document_params(tracker.call)
            return call_params(tracker.call)

        def make_runner(
            leg: CallLeg, dialer: EngineDialer, store: CallRecordings
        ) -> CallflowRunner:
            fetcher = HttpDocumentFetcher(
                client=self._http,
                call_params=document_params,
                sign=None if request.dialect is None else request.dialect.document_headers,
            )
            return CallflowRunner(
                leg=leg,
                fetcher=fetcher,
                dialer=dialer,
                recorder=store,
                audio=self._audio,
                translate=self._settings.translate,
                limits=self._settings.runner_limits,
            )

        async def note_refused(refused: DestinationRefused) -> None:
            log.warning("call %s: <Dial> refused: %s", tracker.sid, refused.message)
            await tracker.note(
                DIAL_REFUSED_EVENT,
                {"to": refused.destination, "rule": refused.rule, "message": refused.message},
            )

        def make_dialer(leg: CallLeg) -> EngineDialer:
            return EngineDialer(
                engine=self._engine,
                caller=leg,
                caller_id=caller_id_user(request.to),
                track_child=lambda child, target: self._track_child(
                    request, tracker, child, target
                ),
                screen=DialScreen(
                    policy=self._policy, api_key_id=request.api_key_id, note=note_refused
                ),
            )

        return OutboundCall(
            engine=self._engine,
            request=request,
            tracker=tracker,
            recordings=recordings,
            make_runner=make_runner,
            make_dialer=make_dialer,
        )

    def _recordings_of(self, tracker: CallTracker) -> CallRecordings:
        async def add(path: Path, duration: float) -> RecordingRecord:
            return await self._repository.add_recording(
                tracker.sid, path=str(path), duration=duration
            )

        return CallRecordings(
            directory=self._settings.recordings_dir,
            call_sid=tracker.sid,
            public_url=self._settings.public_url,
            add=add,
        )

    async def _track_child(
        self,
        request: OutboundCallRequest,
        parent: CallTracker,
        leg: CallLeg,
        target: DialTarget,
    ) -> None:
        """A Dial B leg: its own CallSid, ``ParentCallSid`` = the A leg, the same callback."""
        child_request = OutboundCallRequest(
            api_key_id=request.api_key_id,
            to=target.address,
            from_=leg.caller.user or request.to,
            status_callback=request.status_callback,
            dialect=request.dialect,
        )
        tracker = await CallTracker.create(
            repository=self._repository,
            clock=self._clock,
            call=self._new_call(child_request, parent=parent.call),
            dialect=request.dialect,
        )
        self.live.add(tracker.sid, DialLeg(leg))
        self._tasks.spawn(self._follow(leg, tracker), name=f"child {tracker.sid}")

    async def _follow(self, leg: CallLeg, tracker: CallTracker) -> None:
        try:
            async for event in leg.events():
                await tracker.on_leg_event(event)
        finally:
            self.live.remove(tracker.sid)
