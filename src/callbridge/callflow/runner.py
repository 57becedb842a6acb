"""CallflowRunner: executes a program's verbs on one call leg, following action documents."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from callbridge.callflow.errors import FetchError, InvalidProgram, InvalidVerb
from callbridge.callflow.failure import fail_call
from callbridge.callflow.limits import ProgramAbort, ProgramBudget, RunnerLimits
from callbridge.callflow.outcome import Completed, Failed, HungUp, Outcome, Redirected
from callbridge.callflow.pauses import Sleep, send_digits, sleep_unless_ended
from callbridge.callflow.ports import (
    AudioLoader,
    Dialer,
    DocumentFetcher,
    LegPort,
    Queueing,
    RecordingStore,
    VoicemailBox,
)
from callbridge.callflow.recording import record_message
from callbridge.callflow.ringing import unless_caller_leaves
from callbridge.callflow.verbs import (
    MAX_GATHER_DIGITS,
    MAX_LOOP,
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Leave,
    Pause,
    Play,
    Program,
    Prompt,
    Record,
    Redirect,
    Reject,
    Say,
    SendDigits,
    Verb,
    Voicemail,
)
from callbridge.callflow.wait_documents import Note, WaitDocuments
from callbridge.engine.events import EndReason, LegEndedError, LegState
from callbridge.vocabulary import Unanswered, unanswered_dial

log = logging.getLogger(__name__)

UNANSWERED_HANGUP = 603  # <Hangup/> before the call is answered: Decline

Translate = Callable[[bytes, str], Program]
Clock = Callable[[], float]
DEFAULT_LIMITS = RunnerLimits()
_Step = Program | Outcome | None  # a new document, the end, or on to the next verb


class CallflowRunner:
    """Runs programs on one leg.  :meth:`run` never raises for application or call problems:
    it returns an :data:`Outcome`."""

    def __init__(
        self,
        *,
        leg: LegPort,
        fetcher: DocumentFetcher,
        dialer: Dialer,
        recorder: RecordingStore,
        audio: AudioLoader,
        translate: Translate,
        limits: RunnerLimits = DEFAULT_LIMITS,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        hang_up_when_done: bool = True,
        queues: Queueing | None = None,
        voicemail: VoicemailBox | None = None,
        note: Note | None = None,
    ) -> None:
        """``hang_up_when_done``: a program that runs out of verbs hangs the leg up (a
        call's application); ``False`` leaves it up for its owner (a callback leg's
        application, run before the bridge).  ``<Hangup/>`` ends the leg either way.
        ``queues`` serves ``<Enqueue>`` (without it the verb is an application error);
        ``note`` logs an event on the call's timeline (a wait document's trouble)."""
        self._hang_up_when_done = hang_up_when_done
        self._note = note
        self._leg = leg
        self._queues = queues
        self._voicemail = voicemail
        self._fetcher = fetcher
        self._dialer = dialer
        self._recorder = recorder
        self._audio = audio
        self._translate = translate
        self._limits = limits
        self._sleep, self._clock = sleep, clock
        self._budget = ProgramBudget(limits=limits, clock=clock)
        self._progress = False
        self._task: asyncio.Task[Any] | None = None
        self._redirect: Redirected | None = None
        # The last Dial nobody answered, while the leg is unanswered: how it ends if the
        # program ends (or hangs up) without answering.
        self._unanswered_dial: Unanswered | None = None

    # --- entry points ---

    async def run(self, program: Program) -> Outcome:
        """Execute ``program`` (and the documents it leads to) until the call or program ends."""
        task = asyncio.current_task()
        if task is None or self._task is not None:
            raise RuntimeError("CallflowRunner.run needs a task and runs one program at a time")
        self._task, self._redirect = task, None
        try:
            return await self._guarded(program)
        except asyncio.CancelledError:
            if self._redirect is None or task.uncancel() > 0:
                raise
            return self._redirect
        finally:
            self._task = None

    async def run_url(self, url: str, method: str = "POST") -> Outcome:
        """Fetch the application document at ``url`` and run it."""
        return await self.run(Program(verbs=(Redirect(url=url, method=method),), base_url=url))

    async def follow(self, redirected: Redirected) -> Outcome:
        """Run what interrupted the last program: an inline document or a URL's."""
        if redirected.program is not None:
            return await self.run(redirected.program)
        return await self.run_url(redirected.url, redirected.method)

    def replace(self, program: Program) -> bool:
        """As :meth:`redirect`, with an inline document instead of a URL."""
        return self._interrupt(Redirected(url=program.base_url, method="POST", program=program))

    def redirect(self, url: str, method: str = "POST") -> bool:
        """Interrupt the running program; :meth:`run` returns :class:`Redirected`.
        False when nothing is running (or a redirect is already pending)."""
        return self._interrupt(Redirected(url=url, method=method))

    def _interrupt(self, redirected: Redirected) -> bool:
        if self._task is None or self._redirect is not None:
            return False
        self._redirect = redirected
        self._task.cancel()
        return True

    # --- the document loop ---

    async def _guarded(self, program: Program) -> Outcome:
        try:
            return await self._run_documents(program)
        except LegEndedError as error:
            return HungUp(ended=error.ended)
        except ProgramAbort as abort:
            return await self._fail(abort.reason)
        except Exception as error:
            log.exception("callflow on leg %s crashed", self._leg.id)
            return await self._fail(f"internal error: {error!r}")

    async def _run_documents(self, program: Program) -> Outcome:
        step: Program | Outcome = program
        while isinstance(step, Program):
            step = await self._run_program(step)
        return step

    async def _run_program(self, program: Program) -> Program | Outcome:
        for verb in program.verbs:
            self._budget.count_verb()
            ended = self._leg.ended
            if ended is not None:
                return HungUp(ended=ended)
            step = await self._execute(verb)
            if step is not None:
                return step
        return await self._end_of_program()

    async def _load(self, url: str, method: str, params: Mapping[str, str]) -> Program:
        """Fetch and translate the next document (counting documents that played nothing)."""
        progress, self._progress = self._progress, False
        self._budget.count_document(progress=progress)
        try:
            async with asyncio.timeout(self._limits.fetch_timeout):
                body = await unless_caller_leaves(
                    self._leg, self._fetcher.fetch(url, method, params)
                )
        except (FetchError, TimeoutError) as error:
            raise ProgramAbort(
                f"cannot fetch {method} {url}: {str(error) or 'timed out'}"
            ) from error
        try:
            return self._translate(body, url)
        except InvalidProgram as error:
            raise ProgramAbort(f"invalid document from {url}: {error}") from error

    async def _report(self, action: str, method: str, params: Mapping[str, str]) -> _Step:
        """Post a verb's results to its action; continue with the answer while the call lasts."""
        ended = self._leg.ended
        if ended is None:
            return await self._load(action, method, params)
        try:
            await self._load(action, method, params)
        except ProgramAbort as abort:
            log.warning("leg %s: action after hangup failed: %s", self._leg.id, abort.reason)
        return HungUp(ended=ended)

    async def _end_of_program(self) -> Outcome:
        ended = self._leg.ended
        if ended is not None:
            return HungUp(ended=ended)
        if self._hang_up_when_done:
            await self._hang_up_unanswered(default=None)
        return Completed()

    async def _fail(self, reason: str) -> Failed:
        return await fail_call(
            self._leg, reason, announcement_timeout=self._limits.announcement_timeout
        )

    # --- verbs ---

    async def _execute(self, verb: Verb) -> _Step:
        match verb:
            case Redirect(url=url, method=method):
                return await self._load(url, method, {})
            case Hangup():
                await self._hang_up()
                return Completed()
            case Reject():
                return await self._reject(verb)
            case Voicemail():
                return await self._leave_voicemail(verb)
            case Leave():
                log.info(
                    "leg %s: <Leave/> outside a queue's wait document: nothing to do", self._leg.id
                )
                return None
        if not (isinstance(verb, Pause) and verb.length == 0):
            self._progress = True
        # A leg still ringing (an inbound call) is answered when it first needs media; a
        # Dial leaves that to its target's answer (the dialler answers then), an Enqueue
        # to the queue (which does not answer a caller it cannot take).
        if self._leg.state is not LegState.ANSWERED and not isinstance(verb, Dial | Enqueue):
            await self._leg.answer()
        return await self._execute_media(verb)

    async def _hang_up(self) -> None:
        """``<Hangup/>``: BYE once answered; before that, a final 603 Decline."""
        await self._hang_up_unanswered(default=UNANSWERED_HANGUP)

    async def _hang_up_unanswered(self, *, default: int | None) -> None:
        """BYE once answered; before that, the final response a Dial nobody answered
        calls for (486, 603, 480, 5xx: :func:`~callbridge.vocabulary.unanswered_dial`),
        or ``default`` (``None``: the leg's own for a hang-up)."""
        dial = self._unanswered_dial
        if self._leg.state is LegState.ANSWERED:
            await self._leg.hangup()
        elif dial is not None:
            detail = f"no Dial target answered ({dial.reason.value})"
            await self._leg.hangup(dial.reason, dial.sip_code, detail=detail)
        elif default is not None:
            await self._leg.hangup(EndReason.HUNG_UP, default)
        else:
            await self._leg.hangup()

    async def _execute_media(self, verb: Verb) -> _Step:
        match verb:
            case Say() | Play() | Pause():
                await self._prompt(verb)
                return None
            case SendDigits(digits=digits):
                await send_digits(self._leg, digits, sleep=self._sleep)
                return None
            case Gather():
                return await self._gather(verb)
            case Record():
                return await self._record(verb)
            case Dial():
                return await self._dial(verb)
            case Enqueue():
                return await self._enqueue(verb)
        raise ProgramAbort(f"unknown verb {verb!r}")

    async def _leave_voicemail(self, verb: Voicemail) -> Outcome:
        """The deposit answers the leg itself; the call ends after it."""
        if self._voicemail is None:
            raise ProgramAbort("Voicemail is not configured on this server")
        self._progress = True
        try:
            await self._voicemail.deposit(self._leg, verb)
        except InvalidVerb as error:
            raise ProgramAbort(str(error)) from error
        ended = self._leg.ended
        if ended is None:
            ended = await self._leg.hangup()
        return HungUp(ended=ended)

    async def _reject(self, verb: Reject) -> Outcome:
        if self._leg.state is LegState.ANSWERED:
            await self._leg.hangup()
        elif verb.reason == "busy":
            await self._leg.hangup(EndReason.BUSY, 486)
        else:
            await self._leg.hangup(EndReason.DECLINED, 603)
        return Completed()

    async def _prompt(self, prompt: Prompt) -> None:
        if isinstance(prompt, Pause):
            await sleep_unless_ended(self._leg, prompt.length, sleep=self._sleep)
            return
        for _ in range(prompt.loop or MAX_LOOP):
            if not await self._speak_or_play(prompt):
                return  # interrupted, or the leg ended

    async def _speak_or_play(self, prompt: Say | Play) -> bool:
        if isinstance(prompt, Say):
            # CallLeg has no language parameter: a language stands in for a missing voice.
            return await self._leg.say(prompt.text, prompt.voice or prompt.language)
        try:
            source = await self._audio.load(prompt.url)
        except FetchError as error:
            raise ProgramAbort(f"cannot load audio {prompt.url}: {error}") from error
        return await self._leg.play(source)

    async def _gather(self, gather: Gather) -> _Step:
        self._leg.flush_digits()  # keys pressed before the Gather do not count
        for prompt in gather.prompts:
            await self._prompt(prompt)
        digits = await self._leg.collect_digits(
            max_digits=gather.num_digits or MAX_GATHER_DIGITS,
            timeout=gather.timeout,
            finish_on_key=gather.finish_on_key,
        )
        ended = self._leg.ended
        if ended is not None:
            return HungUp(ended=ended)
        if not digits or gather.action is None:
            return None  # no input: fall through to the next verb
        return await self._load(gather.action, gather.method, {"Digits": digits})

    async def _record(self, record: Record) -> _Step:
        stored, key = await record_message(
            self._leg, record, recorder=self._recorder, audio=self._audio
        )
        if record.action is None:
            ended = self._leg.ended
            return None if ended is None else HungUp(ended=ended)
        params = {"RecordingUrl": stored.url, "RecordingDuration": str(round(stored.duration))}
        if key:
            params["Digits"] = key
        return await self._report(record.action, record.method, params)

    async def _dial(self, dial: Dial) -> _Step:
        result = await self._dialer.dial(self._leg, dial)
        self._unanswered_dial = None
        if result.answered_target is None and self._leg.state is not LegState.ANSWERED:
            self._unanswered_dial = unanswered_dial(result.target_ends)
        if dial.action is None:
            ended = self._leg.ended
            return None if ended is None else HungUp(ended=ended)
        params = {
            "DialCallStatus": str(result.status),  # plain str: marshalled to the HTTP worker
            "DialCallDuration": str(round(result.duration)),
        }
        if result.recording_url is not None:
            params["RecordingUrl"] = result.recording_url
        return await self._report(dial.action, dial.method, params)

    async def _enqueue(self, enqueue: Enqueue) -> _Step:
        if self._queues is None:
            raise ProgramAbort("Enqueue is not supported (no queue service)")
        try:
            result = await self._queues.enqueue(self._leg, enqueue, wait=self._wait(enqueue))
        except LookupError as error:
            raise ProgramAbort(f"Enqueue: unknown queue {enqueue.queue!r}") from error
        if enqueue.action is None:
            ended = self._leg.ended
            return None if ended is None else HungUp(ended=ended)
        params = {"QueueResult": result.result, "QueueTime": str(round(result.queue_time))}
        return await self._report(enqueue.action, enqueue.method, params)

    def _wait(self, enqueue: Enqueue) -> WaitDocuments | None:
        if enqueue.wait_url is None:
            return None
        return WaitDocuments(
            leg=self._leg,
            fetcher=self._fetcher,
            translate=self._translate,
            audio=self._audio,
            url=enqueue.wait_url,
            method=enqueue.wait_method,
            note=self._note,
            fetch_timeout=self._limits.fetch_timeout,
            sleep=self._sleep,
            clock=self._clock,
        )
