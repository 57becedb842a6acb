"""QueuedTimeline: a call's control events written in order by a task of their own, so a
database write never stands between the control answer and the targets' INVITEs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from callbridge.calls.control.outcome import Timeline

log = logging.getLogger(__name__)


class QueuedTimeline:
    """:meth:`note` returns at once; :meth:`run` writes the notes in order until
    :meth:`close` (after which it writes what is left, then returns)."""

    def __init__(self, inner: Timeline) -> None:
        self._inner = inner
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

    async def note(self, name: str, data: Mapping[str, Any]) -> None:
        self._queue.put_nowait((name, dict(data)))

    def close(self) -> None:
        self._queue.put_nowait(None)

    async def run(self) -> None:
        while (item := await self._queue.get()) is not None:
            name, data = item
            await self._inner.note(name, data)
