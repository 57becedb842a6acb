"""TwoLegCallback: one two-leg callback (seed-000), from dialling until both legs' last
events are stored.

Sequential (the default): the first leg (A, or B when ``first`` says so) is called; once it
has answered and heard its announcement it hears ringback while the second is called;
when the second has answered and heard its own announcement, the two are bridged.
Simultaneous: both are called at once; whoever is ready first hears ringback until the
other is; then they are bridged.

Each leg is a :class:`CallSession` driven in steps: it follows and stores the leg's
events from when it is dialled; once the leg answers, before it is ready, its
``send_digits`` are sent, its announcement played and its ``url``'s application run on it
alone (``CallSession.run_and_keep_leg``: the leg stays up for the bridge, and its
``<Dial>`` is refused); then its ``record=true`` recording starts (the application's
``<Record>`` cannot end it).  The call API reaches each leg as a
:class:`CallbackLegCall`: hanging it up ends the callback; redirecting it redirects the
leg's own application while that runs.

Every failure ends cleanly: a leg that ends before the bridge (busy, no answer at its
ring timeout, unreachable, hung up) ends the other — an answered one hears the failure
announcement and is hung up, a ringing one is cancelled, one never dialled is closed as
``canceled``.  After the bridge, either side hanging up hangs up the other.  The A leg's
event log records ``bridged`` and, last, ``callback-ended`` with the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from callbridge.callflow.errors import FetchError
from callbridge.callflow.ports import AudioLoader
from callbridge.callflow.verbs import DialGroup, Program, Redirect, SendDigits
from callbridge.calls.callback_leg import CallbackLegCall, LegRun
from callbridge.calls.callback_state import CallbackOutcome
from callbridge.calls.dialer import Originator
from callbridge.calls.lines import line_failure
from callbridge.calls.request import (
    Announcement,
    CallbackMode,
    CallbackRequest,
    LegName,
    caller_id_user,
)
from callbridge.calls.session import CallSession
from callbridge.calls.switch.bridge import BridgeEnd, bridge
from callbridge.calls.switch.ringer import GroupRinger, Rung, phones_target
from callbridge.calls.switch.user_phones import phones_failure
from callbridge.engine.events import Ended, EndReason, LegEndedError, Party
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import RoutingError, UserOffline
from callbridge.engine.tasks import TaskOwner
from callbridge.media.plane import MediaPortsExhausted
from callbridge.media.tts import TtsError
from callbridge.vocabulary import CallStatus

log = logging.getLogger(__name__)

DEFAULT_FAILURE_TEXT = "Sorry, we could not connect your call. Goodbye."
FAILURE_ANNOUNCEMENT_TIMEOUT = 30.0
NOT_DIALLED = "not dialled: the other leg did not connect"
STOPPED = "stopped"


class _Gone(Exception):
    """A leg ended, could not be dialled, or the callback was stopped before the bridge."""

    def __init__(self, run: LegRun) -> None:
        super().__init__(f"leg {run.name.value} is gone")
        self.run = run


class TwoLegCallback:
    """Owned by the callback service; :meth:`run` returns the outcome once both legs have
    ended and their events are stored.  :meth:`hang_up` ends it while it runs."""

    def __init__(
        self,
        *,
        engine: Originator,
        request: CallbackRequest,
        leg_a: CallSession,
        leg_b: CallSession,
        audio: AudioLoader,
        failure_announcement: Announcement,
    ) -> None:
        """``leg_a`` and ``leg_b``: the legs' sessions, not run yet (their ``<Dial>``
        refused with ``callback_leg.NO_DIAL_MESSAGE``)."""
        self._engine = engine
        self._request = request
        self._audio = audio
        self._failure = request.failure_announce or failure_announcement
        # Every task of the callback (followers, ringback, progress watchers) is one of
        # these; :meth:`run` closes it once both legs have ended.
        self._tasks = TaskOwner(name=f"callback {leg_a.sid}")
        self._a = LegRun(name=LegName.A, spec=request.leg_a, session=leg_a, tasks=self._tasks)
        self._b = LegRun(name=LegName.B, spec=request.leg_b, session=leg_b, tasks=self._tasks)
        self._stopping = False
        self._stop_detail = ""  # why it was stopped (hang_up's detail)
        self._stopped = asyncio.Event()

    @property
    def sid(self) -> str:
        """The callback's id: its A leg's CallSid (every status callback's ParentCallSid)."""
        return self._a.tracker.sid

    async def run(self) -> CallbackOutcome:
        try:
            try:
                outcome = await self._connect()
            except _Gone as gone:
                outcome = await self._not_connected(gone.run)
        finally:
            await self._end_all()
        await self._a.tracker.note("callback-ended", outcome.as_data())
        return outcome

    async def hang_up(self, detail: str = "") -> None:
        """End both legs (ringing ones are cancelled); no failure announcement is played.
        A leg not dialled yet never will be.  ``detail`` is the cause the legs' completed
        events give."""
        if not self._stopping:
            self._stop_detail = detail
        self._stopping = True
        self._stopped.set()
        dialled = [run for run in self._runs() if run.leg is not None]
        await asyncio.gather(*(self._end(run) for run in dialled), return_exceptions=True)

    def leg_call(self, name: LegName) -> CallbackLegCall:
        """Leg ``name`` as a live call of the call API."""
        return CallbackLegCall(
            callback=self, session=self._a.session if name is LegName.A else self._b.session
        )

    # --- connecting ---

    async def _connect(self) -> CallbackOutcome:
        if self._request.mode is CallbackMode.SIMULTANEOUS:
            await self._dial(self._a)
            await self._dial(self._b)
            await self._unless_gone(self._both_ready(), self._a, self._b)
        else:
            first, second = self._runs()
            if self._request.first is LegName.B:
                first, second = second, first
            await self._dial(first)
            await self._ready(first)
            first.start_ringback()
            await self._dial(second)
            await self._unless_gone(self._ready(second), first, second)
        return await self._bridge()

    async def _dial(self, run: LegRun) -> None:
        if self._stopping:
            raise _Gone(run)
        spec = run.spec
        await run.tracker.initiated()
        if spec.line is not None:
            line = spec.line
            await self._ring(run, line.groups(), lambda rung: line_failure(line, rung))
            return
        user = None if spec.trunk else phones_target(self._engine, spec.to)
        if user is not None:  # a user with several phones: a leg per phone
            groups = (DialGroup(targets=(user,), ring_timeout=spec.ring_timeout),)
            await self._ring(run, groups, phones_failure, headers=dict(spec.headers) or None)
            return
        try:
            leg = await self._engine.originate(
                spec.to,
                caller_id=caller_id_user(spec.from_),
                caller_name=spec.caller_name,
                ring_timeout=spec.ring_timeout,
                headers=dict(spec.headers) or None,
                trunk=spec.trunk,
            )
        except (RoutingError, MediaPortsExhausted) as error:
            reason = EndReason.OFFLINE if isinstance(error, UserOffline) else EndReason.FAILED
            run.failure = Ended(reason, Party.LOCAL, None, str(error))
            await run.tracker.ended(run.failure)
            raise _Gone(run) from error
        self._start_following(run, leg)
        if self._stopping:
            raise _Gone(run)

    async def _ring(
        self,
        run: LegRun,
        groups: tuple[DialGroup, ...],
        failure: Callable[[Rung], Ended],
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Ring ``groups`` (a line's, or a user's phones); the leg is whoever answers.
        ``_Gone`` when nobody does, the callback is stopped, or the other leg ends."""
        ringer = GroupRinger(
            engine=self._engine,
            caller_id=caller_id_user(run.spec.from_),
            caller_name=run.spec.caller_name,
            headers=headers,
            on_leg=lambda leg, _target: run.watch_progress(leg),
        )
        other = self._other(run)
        try:
            rung = await ringer.ring(groups, give_up=lambda: self._line_gives_up(other))
        except MediaPortsExhausted as error:
            rung = Rung(status=CallStatus.FAILED)
            run.failure = Ended(EndReason.FAILED, Party.LOCAL, None, str(error))
        await asyncio.gather(*run.watchers)  # each target has answered or ended by now
        if rung.leg is None:
            run.failure = run.failure or failure(rung)
            await run.tracker.ended(run.failure)
            raise _Gone(other if other.ended is not None else run)
        self._start_following(run, rung.leg)
        if self._stopping:
            raise _Gone(run)

    async def _line_gives_up(self, other: LegRun) -> None:
        """Completes when the callback is stopped or ``other`` (if dialled) has ended."""
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(self._stopped.wait())]
        if other.leg is not None:
            waits.append(asyncio.ensure_future(other.leg.wait_ended()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def _start_following(self, run: LegRun, leg: CallLeg) -> None:
        run.session.attach(leg)
        run.follower = self._tasks.spawn(self._follow(run), name=f"events {run.tracker.sid}")

    async def _follow(self, run: LegRun) -> None:
        """The leg's session stores its events in order.  A failure is logged here and ends
        the follower, not the callback."""
        try:
            await run.session.follow()
        except Exception:
            log.exception("callback %s: events of leg %s not stored", self.sid, run.name)

    async def _ready(self, run: LegRun) -> None:
        """Wait until ``run`` has answered and heard its announcement; ``_Gone`` if it ends."""
        leg = run.live_leg()
        try:
            await leg.wait_answered()
        except LegEndedError:
            raise _Gone(run) from None
        # Not waiting for its events to be stored here: the database's latency would become
        # the bridge's (the events are stored in order all the same, and a crash still
        # closes the call with its completed event on restart).
        spec = run.spec
        if spec.send_digits:
            digits = SendDigits(digits=spec.send_digits)
            await run.session.run_and_keep_leg(Program(verbs=(digits,), base_url=""))
        if spec.announce is not None and leg.ended is None:
            await self._announce(run, spec.announce)
        if spec.url is not None and leg.ended is None and not self._stopping:
            fetch = Redirect(url=spec.url, method=spec.method)
            await run.session.run_and_keep_leg(Program(verbs=(fetch,), base_url=spec.url))
        if leg.ended is not None or self._stopping:
            raise _Gone(run)
        if spec.record:
            run.session.start_recording()
        run.ready = True

    async def _both_ready(self) -> None:
        """Simultaneous mode: each leg gets ready on its own; the first ready hears ringback."""

        async def prepare(run: LegRun, other: LegRun) -> None:
            await self._ready(run)
            if not other.ready:
                run.start_ringback()

        tasks = [
            asyncio.ensure_future(prepare(self._a, self._b)),
            asyncio.ensure_future(prepare(self._b, self._a)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _unless_gone(self, work: Coroutine[Any, Any, None], *watched: LegRun) -> None:
        """Run ``work``; raise ``_Gone`` as soon as one of ``watched`` ends first."""
        task = asyncio.ensure_future(work)
        ends = {asyncio.ensure_future(run.wait_ended()): run for run in watched}
        try:
            done, _ = await asyncio.wait({task, *ends}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in ends:
                future.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if task in done:
            task.result()
            return
        raise _Gone(next(run for future, run in ends.items() if future in done))

    async def _bridge(self) -> CallbackOutcome:
        for run in self._runs():
            await run.stop_ringback()
            if run.ended is not None or self._stopping:
                raise _Gone(run)
        sids = {"leg_A": self._a.tracker.sid, "leg_B": self._b.tracker.sid}

        async def note_bridged() -> None:
            await self._a.session.events_stored()  # "bridged" comes after A's "answered"
            await self._a.tracker.note("bridged", sids)

        bridged = await bridge(
            self._engine, self._a.live_leg(), self._b.live_leg(), on_bridged=note_bridged
        )
        if not bridged.connected:
            raise _Gone(self._a if self._a.ended is not None else self._b)
        first = self._a if bridged.end is BridgeEnd.CALLER_ENDED else self._b
        ended = first.ended
        reason = STOPPED if self._stopping or ended is None else ended.reason.value
        return CallbackOutcome(
            connected=True, leg=first.name, reason=reason, bridged_seconds=round(bridged.seconds, 1)
        )

    # --- failing and ending ---

    async def _not_connected(self, gone: LegRun) -> CallbackOutcome:
        other = self._b if gone is self._a else self._a
        await other.stop_ringback()
        ended = gone.ended
        if self._stopping or ended is None:
            return CallbackOutcome(connected=False, leg=gone.name, reason=STOPPED)
        if other.answered:
            try:
                async with asyncio.timeout(FAILURE_ANNOUNCEMENT_TIMEOUT):
                    await self._announce(other, self._failure)
            except TimeoutError:
                log.info("callback %s: failure announcement cut short", self.sid)
        return CallbackOutcome(connected=False, leg=gone.name, reason=ended.reason.value)

    async def _announce(self, run: LegRun, announcement: Announcement) -> None:
        """Speak or play ``announcement`` to the answered leg; a failure is noted, not fatal."""
        leg = run.live_leg()
        try:
            if announcement.text is not None:
                await leg.say(announcement.text, announcement.voice)
            elif announcement.url is not None:
                await leg.play(await self._audio.load(announcement.url))
        except LegEndedError:
            return
        except (FetchError, TtsError) as error:
            log.warning("callback %s: leg %s announcement: %s", self.sid, run.name, error)
            await run.tracker.note("error", {"message": f"announcement not played: {error}"})

    async def _end_all(self) -> None:
        """Every leg ended and its last event stored, whatever happened before; then no
        task of the callback is left."""
        try:
            for run in self._runs():
                await run.stop_ringback()
            await asyncio.gather(*(self._end(run) for run in self._runs()))
            for run in self._runs():
                if run.follower is not None:
                    await run.follower  # it logs its own failure
        finally:
            await self._tasks.close()

    async def _end(self, run: LegRun) -> None:
        if run.leg is None:
            cause = (self._stop_detail or STOPPED) if self._stopping else NOT_DIALLED
            await run.tracker.ended(Ended(EndReason.CANCELLED, Party.LOCAL, None, cause))
        elif run.leg.ended is None:
            await run.session.hang_up(self._stop_detail)  # a ringing leg is cancelled

    def _runs(self) -> tuple[LegRun, LegRun]:
        return self._a, self._b

    def _other(self, run: LegRun) -> LegRun:
        return self._b if run is self._a else self._a
