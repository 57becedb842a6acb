"""While a leg still rings (an inbound call the program has not answered yet), the caller
may give up at any moment: work done for it then (a document fetch) is dropped at once,
instead of holding the call until the fetch's timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from callbridge.callflow.ports import LegPort
from callbridge.engine.events import LegEndedError, LegState

T = TypeVar("T")


async def unless_caller_leaves(leg: LegPort, work: Awaitable[T]) -> T:
    """``work``'s result; raises :class:`LegEndedError` (``work`` cancelled) when the
    unanswered leg ends first.  An answered (or ended) leg just awaits ``work``."""
    if leg.ended is not None or leg.state is LegState.ANSWERED:
        return await work
    task: asyncio.Future[T] = asyncio.ensure_future(work)
    gone: asyncio.Future[Any] = asyncio.ensure_future(leg.wait_ended())
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        gone.cancel()
        await asyncio.gather(task, gone, return_exceptions=True)
    if task.done() and not task.cancelled():
        return task.result()
    ended = leg.ended
    assert ended is not None
    raise LegEndedError(ended)
