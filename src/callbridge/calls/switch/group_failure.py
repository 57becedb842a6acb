"""How a group of legs that nobody answered failed, as one end: the end the call
vocabulary ranks first (:func:`callbridge.vocabulary.unanswered_rank`, the order that also
decides what a caller nobody answered gets, :func:`callbridge.vocabulary.unanswered`):
busy beats declined beats rang out beats cancelled beats offline beats failed beats
unreachable; among equals the best final response (RFC 3261 §16.7: a 6xx, else the lowest
class), then the first target's end.

One rule for every group the switch rings: the phones of one user (each its own leg), a
Dial group, a line's group, a queue's members.  Nothing is ranked here: the order lives in
the vocabulary alone, so the end saved on a line's, a user's or an originate leg is the
one whose reason the caller was told.  A target that could not be dialled (an offline
user, no route) counts as the vocabulary counts it (:meth:`TargetEnd.not_dialled`), with
an end of its own (:func:`not_dialled`) that can speak for the group like a leg's.
"""

from __future__ import annotations

from collections.abc import Sequence

from callbridge.engine.events import Ended, Party
from callbridge.engine.routing import RoutingError, UserOffline
from callbridge.vocabulary import CallStatus, TargetEnd, dial_status, unanswered_rank


def group_failure(ends: Sequence[Ended]) -> Ended | None:
    """The end that speaks for the group (None for no end at all)."""
    if not ends:
        return None
    return min(ends, key=lambda end: unanswered_rank(target_end(end)))


def target_end(ended: Ended) -> TargetEnd:
    """How a target's leg ended, as the vocabulary ranks it."""
    return TargetEnd(reason=ended.reason, sip_code=ended.sip_code)


def not_dialled(error: RoutingError) -> Ended:
    """The end of a target that could not be dialled for ``error`` (it has no leg): its
    reason and final response as the vocabulary counts it (an offline user 480, no route
    404), ended here (``Party.LOCAL``), saying why."""
    end = TargetEnd.not_dialled(offline=isinstance(error, UserOffline))
    return Ended(end.reason, Party.LOCAL, end.sip_code, str(error))


def group_status(ends: Sequence[Ended]) -> CallStatus:
    """The group's Dial status, from the end that speaks for it: busy if a leg was busy or
    declined, else no-answer if one rang out (or was cancelled), else failed."""
    failure = group_failure(ends)
    status = CallStatus.FAILED if failure is None else dial_status(failure.reason)
    return CallStatus.FAILED if status is CallStatus.COMPLETED else status
