"""SharedLights: phones' message-waiting lights follow changes made on any node.

Nodes sharing one database each hold their own phones' subscriptions; a message left, read
or deleted on another node changes counts this node is not told of.  Every
:data:`CHECK_SECONDS` this reads, in one query, the counts of the mailboxes of the users
with a subscription on this node (none: no query), and hands them to the engine's message
waiting, which NOTIFYs only the subscriptions whose last NOTIFY said otherwise — a change
made on this node has been NOTIFYed at once, and is not NOTIFYed again.  So a light
follows another node's change within about :data:`CHECK_SECONDS`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0


class WatchedCounts(Protocol):
    """The engine's message waiting (``MessageWaiting``)."""

    def watched_users(self) -> Sequence[str]: ...

    def counts_now(self, user: str, new: int, old: int) -> None: ...


class UserCounts(Protocol):
    """The voicemail store's counts (``Voicemail``)."""

    async def counts_of(self, users: Iterable[str]) -> Mapping[str, tuple[int, int]]: ...


class SharedLights:
    def __init__(
        self, *, lights: WatchedCounts, counts: UserCounts, every: float = CHECK_SECONDS
    ) -> None:
        self._lights = lights
        self._counts = counts
        self._every = every

    async def check(self) -> None:
        """One look: NOTIFY whose counts differ from what their phones were last told."""
        users = self._lights.watched_users()
        if not users:
            return
        found = await self._counts.counts_of(users)
        for user in users:
            new, old = found.get(user, (0, 0))
            self._lights.counts_now(user, new, old)

    async def run(self) -> None:
        """Check until cancelled."""
        failing = False
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.check()
            except Exception as exc:  # the database may be briefly away
                if not failing:
                    log.warning("message waiting: counts not checked (%s)", exc)
                failing = True
            else:
                failing = False
