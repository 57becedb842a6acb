"""CallQueue: one queue's callers, served in order.

A caller joins (answered, hearing :mod:`.hold`) unless no member is logged in (then it
overflows at once: "join when empty" is no).  The first caller not being served yet gets
the free members the strategy picks (:mod:`.strategy`), rung through the switch's
ringer; the first to answer is bridged to the caller, and rests ``wrapup`` seconds once
the call ends.  Several callers are served at once while free members remain.  After
``max_wait`` seconds, or once no member is logged in any more, the caller overflows.
With a wait (``<Enqueue waitUrl>``'s documents) the caller hears it instead of the
music, and its ``<Leave/>`` takes the caller out of the queue.  What became of each
caller is counted in the queue's :mod:`.statistics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from callbridge.callflow.verbs import DialGroup, DialTarget
from callbridge.calls.queues.hold import hold_or_wait, left_queue, stop_hold
from callbridge.calls.queues.members import MemberBoard
from callbridge.calls.queues.ordering import member_records
from callbridge.calls.queues.ports import HoldMusic, WaitAudio
from callbridge.calls.queues.result import QueueResult
from callbridge.calls.queues.settings import QueueSettings
from callbridge.calls.queues.snapshot import QueueSnapshot, queue_snapshot
from callbridge.calls.queues.statistics import (
    MemoryStatistics,
    Outcome,
    QueueEvent,
    QueueStatistics,
)
from callbridge.calls.queues.strategy import pick
from callbridge.calls.queues.wait_params import wait_params
from callbridge.calls.switch.bridge import bridge
from callbridge.calls.switch.ringer import GiveUp, GroupRinger, Originator
from callbridge.engine.events import LegEndedError, LegState
from callbridge.engine.leg import CallLeg
from callbridge.engine.originate_checks import usable_caller_id, usable_display_name
from callbridge.store.queue_statistics import QueueTotals

log = logging.getLogger(__name__)

POLL = 0.5  # seconds between looks at presence (registrations, wrap-up ends) while waiting

Answered = Callable[[str], Awaitable[None]]  # told the extension of the member who answered


@dataclass(eq=False, kw_only=True)
class _Waiter:
    leg: CallLeg
    joined: float
    answered: Answered | None = None
    tried: set[str] = field(default_factory=set)
    serving: bool = False


class CallQueue:
    def __init__(
        self,
        *,
        settings: QueueSettings,
        board: MemberBoard,
        engine: Originator,
        music: HoldMusic | None = None,
        statistics: QueueStatistics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._board = board
        self._engine = engine
        self._music = music
        self._statistics = statistics or MemoryStatistics()
        self._rng = rng or random.Random()
        self._waiting: list[_Waiter] = []
        self._changed = asyncio.Event()
        self._last_rung: str | None = None

    # --- a caller waits ---

    async def wait_in(
        self, leg: CallLeg, *, answered: Answered | None = None, wait: WaitAudio | None = None
    ) -> QueueResult:
        """``answered`` is told the member's extension when one answers, before the
        bridge (the result comes once the bridged call ended); ``wait`` plays instead of
        the music (the music takes over if it fails)."""
        loop = asyncio.get_running_loop()
        joined = loop.time()
        if not self._board.logged_in(self.settings.members):
            return await self._overflow(joined, "no member is logged in")
        try:
            if leg.state is not LegState.ANSWERED:
                await leg.answer()
        except LegEndedError:
            await self._count(Outcome.ABANDONED)
            return QueueResult(answered_by=None, overflow_plan=None, waited=0.0)
        waiter = _Waiter(leg=leg, joined=joined, answered=answered)
        self._waiting.append(waiter)
        music = leg.tasks.spawn(
            hold_or_wait(
                leg,
                wait=wait,
                params=lambda: self._wait_params(waiter),
                music=self._music,
                every=self.settings.announce_position_every,
                position=lambda: self._position(waiter),
            ),
            name=f"queue hold {leg.id}",
        )
        try:
            return await self._serve(waiter, music)
        finally:
            await stop_hold(leg, music)
            self._leave(waiter)

    async def _serve(self, waiter: _Waiter, music: asyncio.Task[bool]) -> QueueResult:
        loop = asyncio.get_running_loop()
        deadline = waiter.joined + self.settings.max_wait
        while True:
            waited = loop.time() - waiter.joined
            if waiter.leg.ended is not None:
                await self._count(Outcome.ABANDONED)
                return QueueResult(answered_by=None, overflow_plan=None, waited=waited)
            if left_queue(music):
                log.info("queue %s: %s left after %.1f s", self.settings.id, waiter.leg.id, waited)
                await self._count(Outcome.LEFT)
                return QueueResult(answered_by=None, overflow_plan=None, waited=waited, left=True)
            if loop.time() >= deadline:
                return await self._overflow(waiter.joined, "max_wait reached")
            if not self._board.logged_in(self.settings.members):
                return await self._overflow(waiter.joined, "no member is logged in any more")
            if self._turn(waiter):
                free = self._board.free(self.settings.members)
                targets = await self._pick(free=free, tried=waiter.tried)
                if targets:
                    result = await self._attempt(waiter, targets, deadline, music)
                    if result is not None:
                        return result
                    continue
            await _either(self._changed.wait(), music, min(POLL, max(0.0, deadline - loop.time())))

    def _turn(self, waiter: _Waiter) -> bool:
        """Every caller ahead is being served (members ring for it)."""
        for ahead in self._waiting:
            if ahead is waiter:
                return True
            if not ahead.serving:
                return False
        return False

    async def _pick(self, *, free: set[str], tried: set[str]) -> tuple[str, ...]:
        """The members to ring now, of the ``free`` ones (:mod:`.strategy`, ordered by
        the statistics' records: :mod:`.ordering`)."""
        strategy, members = self.settings.strategy, self.settings.members
        records = await member_records(
            strategy,
            queue_id=self.settings.id,
            candidates=free,
            statistics=self._statistics,
            local=self._board.records,
        )
        return pick(
            strategy,
            members=members,
            free=self._board.free(free),  # who is still free after the read
            tried=tried,
            records=records,
            last_rung=self._last_rung,
            rng=self._rng,
        )

    async def _attempt(
        self, waiter: _Waiter, targets: tuple[str, ...], deadline: float, music: asyncio.Task[bool]
    ) -> QueueResult | None:
        """Ring ``targets`` for the caller; bridged (the result once the call ended) or
        ``None`` when nobody answered."""
        leg = waiter.leg
        waiter.serving = True
        waiter.tried.update(targets)
        self._last_rung = targets[-1]
        self._board.ringing(targets, on=True)
        try:
            rung = await self._ring(targets, caller=leg, deadline=deadline, music=music)
            if rung is not None:  # busy before it stops ringing: nobody else picks it
                self._board.call_started(rung[0])
        finally:
            self._board.ringing(targets, on=False)
            waiter.serving = False
            self._notify()
        if rung is None:
            return None
        member, callee = rung
        waited = asyncio.get_running_loop().time() - waiter.joined
        self._leave(waiter)
        await stop_hold(leg, music)
        await self._count(Outcome.ANSWERED, waited=waited, member=member)
        log.info("queue %s: %s answered %s after %.1f s", self.settings.id, member, leg.id, waited)
        try:
            if waiter.answered is not None:
                await waiter.answered(member)
            await bridge(self._engine, leg, callee)
        finally:
            self._board.call_ended(member, wrapup=self.settings.wrapup)
            self._notify()
        return QueueResult(answered_by=member, overflow_plan=None, waited=waited)

    async def _ring(
        self,
        targets: tuple[str, ...],
        *,
        caller: CallLeg | None,
        deadline: float | None,
        caller_id: str | None = None,
        display_name: str | None = None,
        music: asyncio.Task[bool] | None = None,
        stop: GiveUp | None = None,
    ) -> tuple[str, CallLeg] | None:
        """Until a target answers, ``deadline``, or the caller hangs up or leaves (its
        ``music`` ends); without a caller, until ``stop`` returns (the targets' ringing is
        cancelled then)."""
        loop = asyncio.get_running_loop()
        if caller is not None:
            caller_id = caller.caller.user
            display_name = caller.caller.display_name
        ringer = GroupRinger(
            engine=self._engine,
            caller_id=usable_caller_id(caller_id or ""),
            caller_name=usable_display_name(display_name),
        )
        group = DialGroup(
            targets=tuple(DialTarget(kind="user", address=m) for m in targets),
            ring_timeout=self.settings.member_timeout,
        )

        async def give_up() -> None:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            if caller is None:
                if stop is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop(), left)
                    return
                await asyncio.sleep(left) if left is not None else await asyncio.Event().wait()
                return
            await _either(caller.wait_ended(), music, left)

        rung = await ringer.ring((group,), give_up=give_up)
        if rung.leg is None or rung.target is None:
            return None
        return rung.target.address, rung.leg

    # --- members rung for a call placed from outside (OriginateCall type=queue) ---

    async def ring_members(
        self, *, caller_id: str, display_name: str | None, until: GiveUp | None = None
    ) -> CallLeg | None:
        """Members in the strategy's order (each once; ringall: all at once, once) until
        one answers: its answered leg (the member is busy until it ends, then rests); or
        ``None`` once none did, or ``until`` returned (who still rings gets a CANCEL)."""
        tried: set[str] = set()
        stopped = False

        async def stop() -> None:
            nonlocal stopped
            if until is not None:
                await until()
                stopped = True
            else:
                await asyncio.Event().wait()

        while not stopped:
            targets = await self._pick(
                free=self._board.free(self.settings.members) - tried, tried=tried
            )
            if not targets:
                return None
            tried.update(targets)
            self._last_rung = targets[-1]
            self._board.ringing(targets, on=True)
            try:
                rung = await self._ring(
                    targets,
                    caller=None,
                    deadline=None,
                    caller_id=caller_id,
                    display_name=display_name,
                    stop=stop,
                )
                if rung is not None:
                    self._board.call_started(rung[0])
            finally:
                self._board.ringing(targets, on=False)
                self._notify()
            if rung is not None:
                member, leg = rung
                self._watch_member_call(member, leg)  # busy until it ends, then rests
                try:
                    await self._count(Outcome.ANSWERED, member=member)
                except asyncio.CancelledError:
                    await leg.hangup(detail="the ringing was cancelled")  # nobody takes it
                    raise
                return leg
        return None

    def _watch_member_call(self, member: str, leg: CallLeg) -> None:
        """The member rests once its answered leg ends."""

        def on_event(_event: object) -> None:
            if leg.ended is not None:
                unsubscribe()
                self._board.call_ended(member, wrapup=self.settings.wrapup)
                self._notify()

        unsubscribe = leg.subscribe(on_event)

    # --- bookkeeping ---

    async def _overflow(self, joined: float, why: str) -> QueueResult:
        await self._count(Outcome.OVERFLOWED)
        waited = asyncio.get_running_loop().time() - joined
        log.info("queue %s: overflow after %.1f s (%s)", self.settings.id, waited, why)
        return QueueResult(
            answered_by=None, overflow_plan=self.settings.overflow, waited=waited, overflowed=True
        )

    async def _count(
        self, outcome: Outcome, *, waited: float | None = None, member: str | None = None
    ) -> None:
        """Counted in the statistics; a store that fails is logged, the call goes on."""
        event = QueueEvent(queue_id=self.settings.id, outcome=outcome, waited=waited, member=member)
        try:
            await self._statistics.add(event)
        except Exception:
            log.exception("queue %s: cannot count a caller %s", self.settings.id, outcome)

    def _wait_params(self, waiter: _Waiter) -> dict[str, str]:
        now = asyncio.get_running_loop().time()
        return wait_params(
            queue_id=self.settings.id,
            position=self._position(waiter),
            waited=now - waiter.joined,
            waiting=[now - w.joined for w in self._waiting],
        )

    def _position(self, waiter: _Waiter) -> int:
        try:
            return self._waiting.index(waiter) + 1
        except ValueError:
            return 1

    def _leave(self, waiter: _Waiter) -> None:
        if waiter in self._waiting:
            self._waiting.remove(waiter)
            self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def totals(self) -> QueueTotals:
        return await self._statistics.totals(self.settings.id)

    def snapshot(self, totals: QueueTotals) -> QueueSnapshot:
        """The live state, with ``totals`` (:meth:`totals`)."""
        now = asyncio.get_running_loop().time()
        return queue_snapshot(
            self.settings,
            waiting=((w.leg.caller.user, now - w.joined) for w in self._waiting),
            state=self._board.state,
            totals=totals,
        )


async def _either(
    awaitable: Awaitable[object], music: asyncio.Task[bool] | None, timeout: float | None
) -> None:
    """Until ``awaitable`` is done, ``music`` ended (the caller left or hung up) or
    ``timeout`` seconds passed."""
    waiting = asyncio.ensure_future(awaitable)
    watched: set[asyncio.Future[Any]] = {waiting}
    if music is not None and not music.done():  # done: seen by the caller's loop already
        watched.add(music)
    try:
        await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
