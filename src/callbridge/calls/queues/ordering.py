"""What a strategy orders the free members by: for ``fewestcalls`` and ``leastrecent``, the
members' records in the queue's statistics (durable: the same on every node sharing the
store, and after a restart), read once per pick; when the store cannot be read, this
node's own view (the board's records), so a caller is never lost for it."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from callbridge.calls.queues.settings import Strategy
from callbridge.calls.queues.statistics import QueueStatistics
from callbridge.calls.queues.strategy import MemberRecord

log = logging.getLogger(__name__)

BY_RECORDS = frozenset({Strategy.FEWESTCALLS, Strategy.LEASTRECENT})


async def member_records(
    strategy: Strategy,
    *,
    queue_id: str,
    candidates: Collection[str],
    statistics: QueueStatistics,
    local: Mapping[str, MemberRecord],
) -> Mapping[str, MemberRecord]:
    """The records ``strategy`` orders ``candidates`` (the free members) by; none are read
    when it orders by none, or there is nobody to order."""
    if strategy not in BY_RECORDS or len(candidates) < 2:
        return {}
    try:
        return await statistics.members(queue_id)
    except Exception as error:  # the store is down: this node's counts, the call goes on
        log.warning(
            "queue %s: cannot read the members' statistics (%s: %s); ordering by this node's",
            queue_id,
            type(error).__name__,
            error,
        )
        return local
