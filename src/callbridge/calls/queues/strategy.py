"""Which members to ring next (pure): a strategy's order over the members who are free.

Members not yet rung for this caller come first: a member who did not answer is tried
again only after the others (then the round starts over).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from callbridge.calls.queues.settings import Strategy


@dataclass(frozen=True, kw_only=True)
class MemberRecord:
    """A member's queue calls: how many it answered, and when it answered the last (seconds
    on one clock for every member of a pick: the store's wall clock, or this process's)."""

    answered: int = 0
    last_answered: float | None = None


def pick(
    strategy: Strategy,
    *,
    members: Sequence[str],
    free: Collection[str],
    tried: Collection[str],
    records: Mapping[str, MemberRecord],
    last_rung: str | None = None,
    rng: random.Random | None = None,
) -> tuple[str, ...]:
    """The members to ring at once now: every free one for ``ringall``, else one; empty
    when nobody is free.  ``tried`` are the members already rung for this caller;
    ``last_rung`` is where round robin stopped."""
    candidates = [m for m in members if m in free]
    if not candidates:
        return ()
    if strategy is Strategy.RINGALL:
        return tuple(candidates)
    fresh = [m for m in candidates if m not in tried] or candidates
    return (_first(strategy, fresh, members, records, last_rung, rng or random.Random()),)


def _first(
    strategy: Strategy,
    fresh: list[str],
    members: Sequence[str],
    records: Mapping[str, MemberRecord],
    last_rung: str | None,
    rng: random.Random,
) -> str:
    record = MemberRecord()
    if strategy is Strategy.LINEAR:
        return fresh[0]
    if strategy is Strategy.RANDOM:
        return rng.choice(fresh)
    if strategy is Strategy.FEWESTCALLS:
        return min(fresh, key=lambda m: records.get(m, record).answered)
    if strategy is Strategy.LEASTRECENT:
        return min(fresh, key=lambda m: _answered(records.get(m, record)))
    # ROUNDROBIN: the first fresh member after the one rung last, wrapping around.
    start = members.index(last_rung) + 1 if last_rung in members else 0
    rotated = [*members[start:], *members[:start]]
    return next(m for m in rotated if m in fresh)


def _answered(record: MemberRecord) -> float:
    return float("-inf") if record.last_answered is None else record.last_answered
