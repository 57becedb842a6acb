"""How a group of legs that nobody answered failed, as one end: busy beats declined beats
any other failure (RFC 3261 §16.7 in spirit: the answer most telling to the caller).

One rule for every group the switch rings: the phones of one user (each its own leg), a
Dial group, a line's group, a queue's members.
"""

from __future__ import annotations

from collections.abc import Sequence

from callbridge.engine.events import Ended, EndReason
from callbridge.vocabulary import CallStatus, dial_status

# Lower first; a reason not named ranks after all of these (ties: the first leg's end).
_RANK: dict[EndReason, int] = {
    EndReason.BUSY: 0,
    EndReason.DECLINED: 1,
    EndReason.NO_ANSWER: 2,
    EndReason.CANCELLED: 3,
}
_OTHER = len(_RANK)


def group_failure(ends: Sequence[Ended]) -> Ended | None:
    """The end that speaks for the group (None for no end at all)."""
    if not ends:
        return None
    return min(ends, key=lambda end: _RANK.get(end.reason, _OTHER))


def group_status(ends: Sequence[Ended]) -> CallStatus:
    """The group's Dial status: busy if a leg was busy or declined, else no-answer if one
    rang out (or was cancelled), else failed."""
    failure = group_failure(ends)
    status = CallStatus.FAILED if failure is None else dial_status(failure.reason)
    return CallStatus.FAILED if status is CallStatus.COMPLETED else status
