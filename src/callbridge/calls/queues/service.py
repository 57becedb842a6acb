"""Queues: every configured queue, as the rest of the server uses them (the contract of
``interfaces.md``: ``exists``, ``wait_in``, ``ring_members``; and their snapshots for the
API: live state from memory, statistics from ``statistics``)."""

from __future__ import annotations

import random
from collections.abc import Iterable

from callbridge.calls.queues.members import MemberBoard
from callbridge.calls.queues.ports import HoldMusic, MemberPresence, WaitAudio
from callbridge.calls.queues.queue import Answered, CallQueue
from callbridge.calls.queues.result import QueueResult
from callbridge.calls.queues.settings import QueueSettings
from callbridge.calls.queues.snapshot import QueueSnapshot
from callbridge.calls.queues.statistics import MemoryStatistics, QueueStatistics
from callbridge.calls.switch.ringer import GiveUp, Originator
from callbridge.engine.leg import CallLeg


class UnknownQueue(LookupError):
    """No queue has this id."""

    def __init__(self, queue_id: str) -> None:
        super().__init__(queue_id)
        self.queue_id = queue_id


class Queues:
    def __init__(
        self,
        *,
        queues: Iterable[QueueSettings],
        engine: Originator,
        presence: MemberPresence,
        music: HoldMusic | None = None,
        statistics: QueueStatistics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``presence`` says who is online, busy or resting; ``music`` is what waiting
        callers hear (without it: the ringback tone); ``statistics`` keeps what became of
        the callers (without it: in memory)."""
        self.board = MemberBoard(presence=presence)
        statistics = statistics or MemoryStatistics()
        self._queues: dict[str, CallQueue] = {}
        for settings in queues:
            if settings.id in self._queues:
                raise ValueError(f"queue {settings.id!r} is configured twice")
            self._queues[settings.id] = CallQueue(
                settings=settings,
                board=self.board,
                engine=engine,
                music=music,
                statistics=statistics,
                rng=rng,
            )

    def exists(self, queue_id: str) -> bool:
        return queue_id in self._queues

    def _queue(self, queue_id: str) -> CallQueue:
        queue = self._queues.get(queue_id)
        if queue is None:
            raise UnknownQueue(queue_id)
        return queue

    async def wait_in(
        self,
        leg: CallLeg,
        queue_id: str,
        *,
        answered: Answered | None = None,
        wait: WaitAudio | None = None,
    ) -> QueueResult:
        """The caller waits (answered, with music and position announcements, or
        ``wait``) until a member answers and their call has ended, or overflows
        (max_wait, no member logged in), or hangs up, or leaves (``wait``'s
        ``<Leave/>``); ``answered`` is told the member when one answers, before the
        bridge.  Raises :class:`UnknownQueue`."""
        return await self._queue(queue_id).wait_in(leg, answered=answered, wait=wait)

    async def ring_members(
        self,
        queue_id: str,
        *,
        caller_id: str,
        display_name: str | None,
        until: GiveUp | None = None,
    ) -> CallLeg | None:
        """Members rung by the strategy until one answers (their answered leg), none
        did, or ``until`` returned (their ringing cancelled).  Raises :class:`UnknownQueue`."""
        return await self._queue(queue_id).ring_members(
            caller_id=caller_id, display_name=display_name, until=until
        )

    async def snapshot(self, queue_id: str) -> QueueSnapshot:
        """Raises :class:`UnknownQueue`."""
        queue = self._queue(queue_id)
        return queue.snapshot(await queue.totals())

    async def snapshots(self) -> tuple[QueueSnapshot, ...]:
        return tuple([queue.snapshot(await queue.totals()) for queue in self._queues.values()])
