"""A queue as ``GET /api/v2/queues/{id}`` shows it (values)."""

from __future__ import annotations

from dataclasses import dataclass


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
