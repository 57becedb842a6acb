"""What became of a caller in a queue (a value)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class QueueResult:
    """``answered_by``: the member the caller talked to (the bridged call has ended);
    else ``overflow_plan`` (the queue's seed-004 XML, ``None`` when it has none) for the
    caller to run, unless the caller hung up or ``left`` (``<Leave/>`` in its wait
    document).  ``waited``: seconds in the queue."""

    answered_by: str | None
    overflow_plan: str | None
    waited: float
    overflowed: bool = False
    left: bool = False
