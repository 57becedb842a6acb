"""A queue as ``GET /api/v2/queues/{id}`` shows it (values), and how one is made."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from callbridge.calls.queues.settings import QueueSettings
from callbridge.store.queue_statistics import QueueTotals


@dataclass(frozen=True, kw_only=True)
class WaitingCaller:
    position: int
    caller: str
    waited: float  # seconds so far


@dataclass(frozen=True, kw_only=True)
class MemberSnapshot:
    extension: str
    state: str  # online, ringing, busy, wrapup, offline
    answered: int  # calls of this queue the member answered (durable, over every node)


@dataclass(frozen=True, kw_only=True)
class QueueSnapshot:
    id: str
    project: int | None
    strategy: str
    waiting: tuple[WaitingCaller, ...]
    members: tuple[MemberSnapshot, ...]
    answered: int
    abandoned: int  # callers who hung up while waiting
    overflowed: int  # callers sent to the overflow plan (max_wait, or no member logged in)
    left: int  # callers whose wait document said <Leave/>
    average_wait: float | None  # seconds answered callers waited, on average


def queue_snapshot(
    settings: QueueSettings,
    *,
    waiting: Iterable[tuple[str, float]],
    state: Callable[[str], str],
    totals: QueueTotals,
) -> QueueSnapshot:
    """``waiting``: each waiting caller (in order) and the seconds it has waited;
    ``state``: a member's state now; ``totals``: what the store has counted."""
    return QueueSnapshot(
        id=settings.id,
        project=settings.project,
        strategy=str(settings.strategy),
        waiting=tuple(
            WaitingCaller(position=i + 1, caller=caller, waited=waited)
            for i, (caller, waited) in enumerate(waiting)
        ),
        members=tuple(
            MemberSnapshot(extension=m, state=state(m), answered=totals.members.get(m, 0))
            for m in settings.members
        ),
        answered=totals.answered,
        abandoned=totals.abandoned,
        overflowed=totals.overflowed,
        left=totals.left,
        average_wait=totals.average_wait,
    )
