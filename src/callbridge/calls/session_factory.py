"""SessionFactory: builds the :class:`CallSession` of a tracked call — its runner (the
documents it fetches, signed with its key's secret), its dialler (with its key's
destination policy) and the bookkeeping of each ``<Dial>`` leg — the same for outbound
and inbound calls."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from callbridge.callflow.limits import RunnerLimits
from callbridge.callflow.ports import (
    AudioLoader,
    Dialer,
    DialResult,
    LegPort,
    Queueing,
    VoicemailBox,
)
from callbridge.callflow.runner import CallflowRunner, Translate
from callbridge.callflow.verbs import Dial, DialTarget
from callbridge.calls.api_dialect import ApiDialect
from callbridge.calls.destination_policy import DestinationPolicy, DestinationRefused
from callbridge.calls.dialer import DialScreen, EngineDialer, Originator
from callbridge.calls.documents import HttpDocumentFetcher
from callbridge.calls.live import LiveCalls
from callbridge.calls.new_call import outbound_call
from callbridge.calls.recordings import CallRecordings
from callbridge.calls.request import StatusCallback
from callbridge.calls.session import APPLICATION_ERROR_EVENT, CallSession
from callbridge.calls.tracker import CallTracker
from callbridge.calls.voicemail.call_box import CallMailbox, DepositService
from callbridge.engine.leg import CallLeg
from callbridge.engine.tasks import TaskOwner
from callbridge.httpclient.port import HttpRequests
from callbridge.store.clock import Clock
from callbridge.store.records import CallRecord, RecordingRecord
from callbridge.store.repository import CallRepository
from callbridge.vocabulary import CallStatus

log = logging.getLogger(__name__)

DIAL_REFUSED_EVENT = "dial_refused"
API_VERSION = "v2"


MemberAnswered = Callable[[str], Awaitable[None]]  # told the extension of the member


class QueueingFor(Protocol):
    """The ``<Enqueue>`` port of one call's leg (calls.queues.enqueue.QueueVerb), if queues
    exist; ``answered`` is told the member who answers (or the peer the queue's overflow
    plan reaches), ``overflowed`` how the overflow plan ended the call (seed-004's
    ``HungUp`` type)."""

    def __call__(
        self,
        leg: CallLeg,
        answered: MemberAnswered | None = None,
        overflowed: Callable[[str], None] | None = None,
    ) -> Queueing: ...


# Builds a watched call's <Enqueue> port from the watch's two callbacks (as QueueingFor's).
QueueingWith = Callable[[MemberAnswered, Callable[[str], None]], Queueing]


class CallWatch(Protocol):
    """Watches what a call's program does (an inbound number's notify posts:
    callbridge.calls.inbound.notified): each Dial B leg, its queues, its voicemail."""

    async def dialled(self, leg: CallLeg, target: DialTarget) -> None: ...

    def queueing(self, make: QueueingWith) -> Queueing: ...

    def voicemail(self, box: VoicemailBox) -> VoicemailBox: ...


class SigningSecrets(Protocol):
    """The signing secret of an API key (by id): it signs every request made to that key's
    applications (documents and status callbacks); ``None`` for an unknown key."""

    async def signing_secret(self, api_key_id: str) -> str | None: ...


def call_params(call: CallRecord, *, account: str | None = None) -> dict[str, str]:
    """The parameters every application request carries (Twilio's names, which the seed's
    platform follows); ``account`` is the ``AccountSid`` (default: the call's key id)."""
    params = {
        "CallSid": call.sid,
        "AccountSid": account if account is not None else call.api_key_id or "",
        "From": call.from_,
        "To": call.to,
        "Called": call.to,
        "Caller": call.from_,
        "CallStatus": str(call.status),  # a plain str: the HTTP worker marshals it
        "Direction": call.direction,
        "ApiVersion": API_VERSION,
    }
    if call.parent_sid:
        params["ParentCallSid"] = call.parent_sid
    if call.external_id is not None:
        params["ExternalId"] = call.external_id
    return params


@dataclass(frozen=True, kw_only=True)
class SessionSpec:
    """Who a session runs for: ``api_key_id`` (its policy and secret), ``account`` (its
    ``AccountSid``), the caller ID its ``<Dial>`` shows, where its legs' callbacks go, and
    ``screened``: whether its ``<Dial>`` obeys the key's destination policy (an operator's
    own routing does not)."""

    api_key_id: str | None
    caller_id: str
    status_callback: StatusCallback | None
    account: str | None = None
    answered_first: bool = True
    record: bool = False
    screened: bool = True
    dialect: ApiDialect | None = None  # the API's own wording (Twilio's), else ours
    mailbox: str | None = None  # the number's: where a <Voicemail> naming none goes
    # The leg must stay alone (a callback leg before its bridge): its <Dial> fails, noted
    # on the call with this message, and it has no <Enqueue> or <Voicemail>.
    dial_refusal: str | None = None
    watch: CallWatch | None = None  # told what the program does (notify posts)


class _RefusedDial:
    """The dialler of a leg that must stay alone: every ``<Dial>`` fails, and the call's
    log says why."""

    def __init__(self, tracker: CallTracker, message: str) -> None:
        self._tracker = tracker
        self._message = message

    async def dial(self, leg: LegPort, dial: Dial) -> DialResult:
        log.warning("call %s: %s", self._tracker.sid, self._message)
        await self._tracker.note(APPLICATION_ERROR_EVENT, {"message": self._message})
        return DialResult(status=CallStatus.FAILED, duration=0.0, answered_target=None)


class SessionFactory:
    def __init__(
        self,
        *,
        engine: Originator,
        repository: CallRepository,
        clock: Clock,
        http: HttpRequests,
        audio: AudioLoader,
        translate: Translate,
        runner_limits: RunnerLimits,
        recordings_dir: Path,
        public_url: str,
        node: str,
        policy: DestinationPolicy,
        live: LiveCalls,
        tasks: TaskOwner,
        secrets: SigningSecrets | None = None,
        queues: QueueingFor | None = None,
        voicemail: DepositService | None = None,
    ) -> None:
        self._engine = engine
        self._queues = queues
        self._voicemail = voicemail
        self._repository = repository
        self._clock = clock
        self._http = http
        self._audio = audio
        self._translate = translate
        self._runner_limits = runner_limits
        self._recordings_dir = recordings_dir
        self._public_url = public_url
        self._node = node
        self._policy = policy
        self._live = live
        self._tasks = tasks
        self._secrets = secrets

    async def session(self, tracker: CallTracker, spec: SessionSpec) -> CallSession:
        return self._session(tracker, spec, await self._secret(spec.api_key_id))

    def _session(self, tracker: CallTracker, spec: SessionSpec, secret: str | None) -> CallSession:
        recordings = self._recordings_of(tracker)

        def make_runner(leg: CallLeg, *, keep_leg: bool) -> CallflowRunner:
            dialect = spec.dialect
            alone = spec.dial_refusal is not None

            def document_params() -> dict[str, str]:
                if dialect is not None:
                    return dialect.document_params(tracker.call)
                return call_params(tracker.call, account=spec.account)

            fetcher = HttpDocumentFetcher(
                client=self._http,
                call_params=document_params,
                signing_secret=secret,
                sign=None if dialect is None else dialect.document_headers,
            )
            return CallflowRunner(
                leg=leg,
                fetcher=fetcher,
                dialer=make_dialer(leg),
                recorder=recordings,
                audio=self._audio,
                translate=self._translate,
                limits=self._runner_limits,
                hang_up_when_done=not keep_leg,
                queues=None if alone else queueing(leg),
                note=tracker.note,
                voicemail=None if alone else mailbox(),
            )

        def queueing(leg: CallLeg) -> Queueing | None:
            make, watch = self._queues, spec.watch
            if make is None:
                return None
            if watch is None:
                return make(leg)
            return watch.queueing(lambda answered, overflowed: make(leg, answered, overflowed))

        def mailbox() -> VoicemailBox | None:
            if self._voicemail is None:
                return None
            box = CallMailbox(
                service=self._voicemail,
                caller=tracker.call.from_,
                number=tracker.call.to,
                mailbox=spec.mailbox,
            )
            return box if spec.watch is None else spec.watch.voicemail(box)

        async def note_refused(refused: DestinationRefused) -> None:
            log.warning("call %s: <Dial> refused: %s", tracker.sid, refused.message)
            await tracker.note(
                DIAL_REFUSED_EVENT,
                {"to": refused.destination, "rule": refused.rule, "message": refused.message},
            )

        def make_dialer(leg: CallLeg) -> Dialer:
            if spec.dial_refusal is not None:
                return _RefusedDial(tracker, spec.dial_refusal)
            screen = DialScreen(policy=self._policy, api_key_id=spec.api_key_id, note=note_refused)
            return EngineDialer(
                engine=self._engine,
                caller=leg,
                caller_id=spec.caller_id,
                track_child=lambda child, target: self._track_child(spec, tracker, child, target),
                screen=screen if spec.screened else None,
            )

        return CallSession(
            tracker=tracker,
            recordings=recordings,
            make_runner=make_runner,
            answered_first=spec.answered_first,
            record=spec.record,
        )

    async def _secret(self, api_key_id: str | None) -> str | None:
        if api_key_id is None or self._secrets is None:
            return None
        return await self._secrets.signing_secret(api_key_id)

    def _recordings_of(self, tracker: CallTracker) -> CallRecordings:
        async def add(path: Path, duration: float) -> RecordingRecord:
            return await self._repository.add_recording(
                tracker.sid, path=str(path), duration=duration
            )

        return CallRecordings(
            directory=self._recordings_dir,
            call_sid=tracker.sid,
            public_url=self._public_url,
            add=add,
        )

    async def _track_child(
        self, spec: SessionSpec, parent: CallTracker, leg: CallLeg, target: DialTarget
    ) -> None:
        """A Dial B leg: its own CallSid, ``ParentCallSid`` = the A leg, the same callback;
        a session that runs no program: it stores the leg's events, and the call API can
        hang it up (not redirect it)."""
        if spec.watch is not None:
            await spec.watch.dialled(leg, target)
        tracker = await CallTracker.create(
            repository=self._repository,
            clock=self._clock,
            call=outbound_call(
                to=target.address,
                from_=leg.caller.user or parent.call.to,
                node=self._node,
                api_key_id=spec.api_key_id,
                status_callback=spec.status_callback,
                parent=parent.call,
            ),
            dialect=spec.dialect,
        )
        child = self._session(tracker, spec, secret=None)
        child.attach(leg)
        self._live.add(tracker.sid, child)
        self._tasks.spawn(self._follow(child), name=f"child {tracker.sid}")

    async def _follow(self, child: CallSession) -> None:
        try:
            await child.follow()
        finally:
            self._live.remove(child.sid)


def secrets_of(mapping: Mapping[str, str]) -> SigningSecrets:
    """Signing secrets held in memory (tests; keys known at start-up)."""

    class _Fixed:
        async def signing_secret(self, api_key_id: str) -> str | None:
            return mapping.get(api_key_id)

    return _Fixed()
