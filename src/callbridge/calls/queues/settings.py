"""One queue's settings, as ``[[queues]]`` configures them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Strategy(StrEnum):
    """How members are rung (:mod:`.strategy`)."""

    RINGALL = "ringall"  # every free member at once
    ROUNDROBIN = "roundrobin"  # one at a time, starting after the last one rung (remembered)
    LEASTRECENT = "leastrecent"  # the free member who answered a call of the queue longest ago
    FEWESTCALLS = "fewestcalls"  # the free member who answered the fewest queue calls
    RANDOM = "random"
    LINEAR = "linear"  # one at a time, in the configured order


@dataclass(frozen=True, kw_only=True)
class QueueSettings:
    id: str
    members: tuple[str, ...]
    strategy: Strategy = Strategy.RINGALL
    project: int | None = None
    member_timeout: float = 15.0
    wrapup: float = 5.0
    max_wait: float = 300.0
    overflow: str | None = None  # seed-004 XML, run by whoever put the caller in the queue
    announce_position_every: float = 30.0  # 0: never

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError(f"queue {self.id!r} needs members")
        if self.member_timeout <= 0 or self.max_wait <= 0 or self.wrapup < 0:
            raise ValueError(f"queue {self.id!r}: timeouts must be positive")
