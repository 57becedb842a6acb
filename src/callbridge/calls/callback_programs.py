"""CallbackLegPrograms: what a two-leg callback's leg runs on its own once it answers,
before the bridge (seed-000's per-leg ``senddigits`` and ``url``), and where its
``record=true`` recording goes.

A leg's program runs on that leg alone: the other leg (answered, waiting) hears ringback,
so a whisper to the agent is heard by the agent only.  The program's documents are fetched
like any call's (the leg's ``CallSid``, ``ParentCallSid`` = the callback's id, signed with
the key's secret).  When the program runs out of verbs the leg stays up and is bridged; a
``<Hangup/>`` or ``<Reject/>`` ends the leg (the agent declined: the callback is not
connected); an application error is announced to the leg, which is then hung up as
``failed``.  ``<Dial>`` has no place before the bridge: it is refused (``DialCallStatus``
``failed``) and noted on the leg.
"""

from __future__ import annotations

import logging
from pathlib import Path

from callbridge.callflow.outcome import Failed, Outcome
from callbridge.callflow.ports import AudioLoader, DialResult, LegPort, RecordingStore
from callbridge.callflow.runner import CallflowRunner, RunnerLimits, Translate
from callbridge.callflow.verbs import Dial, Program
from callbridge.calls.documents import HttpDocumentFetcher
from callbridge.calls.recordings import CallRecordings
from callbridge.calls.session_factory import SigningSecrets, call_params
from callbridge.calls.tracker import CallTracker
from callbridge.engine.leg import CallLeg
from callbridge.httpclient.port import HttpRequests
from callbridge.store.records import RecordingRecord
from callbridge.store.repository import CallRepository
from callbridge.vocabulary import CallStatus

log = logging.getLogger(__name__)

APPLICATION_ERROR_EVENT = "error"
NO_DIAL_MESSAGE = (
    "<Dial> is not available in a callback leg's application (it runs before the bridge)"
)


class _NoDialBeforeBridge:
    """The dialler of a leg's program: every ``<Dial>`` fails, and the leg's log says why."""

    def __init__(self, tracker: CallTracker) -> None:
        self._tracker = tracker

    async def dial(self, leg: LegPort, dial: Dial) -> DialResult:
        log.warning("callback leg %s: %s", self._tracker.sid, NO_DIAL_MESSAGE)
        await self._tracker.note(APPLICATION_ERROR_EVENT, {"message": NO_DIAL_MESSAGE})
        return DialResult(status=CallStatus.FAILED, duration=0.0, answered_target=None)


class CallbackLegPrograms:
    """Implements :class:`callbridge.calls.callback_leg.LegPrograms`."""

    def __init__(
        self,
        *,
        http: HttpRequests,
        audio: AudioLoader,
        translate: Translate,
        limits: RunnerLimits,
        repository: CallRepository,
        recordings_dir: Path,
        public_url: str,
        secrets: SigningSecrets | None = None,
        fetch_timeout: float = 10.0,
    ) -> None:
        self._http = http
        self._audio = audio
        self._translate = translate
        self._limits = limits
        self._repository = repository
        self._recordings_dir = recordings_dir
        self._public_url = public_url
        self._secrets = secrets
        self._fetch_timeout = fetch_timeout

    def recordings(self, tracker: CallTracker) -> RecordingStore:
        """Where the leg's recordings go (one store per leg: it numbers their files)."""

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

    async def run(
        self, leg: CallLeg, tracker: CallTracker, program: Program, *, recordings: RecordingStore
    ) -> Outcome:
        """Run ``program`` on the answered ``leg``; the leg is left up when it ends."""
        secret = None
        key = tracker.call.api_key_id
        if key is not None and self._secrets is not None:
            secret = await self._secrets.signing_secret(key)
        fetcher = HttpDocumentFetcher(
            client=self._http,
            call_params=lambda: call_params(tracker.call),
            timeout=self._fetch_timeout,
            signing_secret=secret,
        )
        runner = CallflowRunner(
            leg=leg,
            fetcher=fetcher,
            dialer=_NoDialBeforeBridge(tracker),
            recorder=recordings,
            audio=self._audio,
            translate=self._translate,
            limits=self._limits,
            hang_up_when_done=False,
        )
        outcome = await runner.run(program)
        if isinstance(outcome, Failed):
            await tracker.note(APPLICATION_ERROR_EVENT, {"message": outcome.error})
        return outcome
