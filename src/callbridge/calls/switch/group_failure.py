"""How a group of legs that nobody answered failed, as one end: the end the call
vocabulary ranks first (:func:`callbridge.vocabulary.unanswered_rank`, the order that also
decides what a caller nobody answered gets, :func:`callbridge.vocabulary.unanswered`):
busy beats declined beats rang out beats cancelled beats offline beats failed beats
unreachable; among equals the best final response (RFC 3261 §16.7: a 6xx, else the lowest
class), then the first leg's end.

One rule for every group the switch rings: the phones of one user (each its own leg), a
Dial group, a line's group, a queue's members.  Nothing is ranked here: the order lives in
the vocabulary alone, so the end saved on a line's, a user's or an originate leg is the
one whose reason the caller was told.
"""

from __future__ import annotations

from collections.abc import Sequence

from callbridge.engine.events import Ended
from callbridge.vocabulary import CallStatus, TargetEnd, dial_status, unanswered_rank


def group_failure(ends: Sequence[Ended]) -> Ended | None:
    """The end that speaks for the group (None for no end at all)."""
    if not ends:
        return None
    return min(ends, key=lambda end: unanswered_rank(target_end(end)))


def target_end(ended: Ended) -> TargetEnd:
    """How a target's leg ended, as the vocabulary ranks it."""
    return TargetEnd(reason=ended.reason, sip_code=ended.sip_code)


def group_status(ends: Sequence[Ended]) -> CallStatus:
    """The group's Dial status, from the end that speaks for it: busy if a leg was busy or
    declined, else no-answer if one rang out (or was cancelled), else failed."""
    failure = group_failure(ends)
    status = CallStatus.FAILED if failure is None else dial_status(failure.reason)
    return CallStatus.FAILED if status is CallStatus.COMPLETED else status
