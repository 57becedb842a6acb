"""What the callback service answers about a two-leg callback, and how its state is read
back from the store.

A callback is its two calls: the A leg (whose CallSid is the callback's id, and every
status callback's ``ParentCallSid``) and the B leg (a child of A).  The A leg's event log
holds the callback's own events: ``callback`` (mode, first leg, B's CallSid) when it is
placed, ``bridged`` and, last, ``callback-ended`` (the outcome).  A callback that a crash
cut short has no ``callback-ended``: its state follows from its legs.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from callbridge.calls.request import CallbackMode, LegName
from callbridge.store.records import CallDetail, CallEventRecord, CallRecord
from callbridge.vocabulary import CallStatus

CALLBACK_EVENT = "callback"
BRIDGED_EVENT = "bridged"
ENDED_EVENT = "callback-ended"


class CallbackStatus(StrEnum):
    """A two-leg callback's status (its legs each have their own :class:`CallStatus`)."""

    QUEUED = "queued"  # no leg dialled yet
    IN_PROGRESS = "in-progress"  # legs ringing or hearing their announcements
    BRIDGED = "bridged"
    COMPLETED = "completed"  # was bridged, has ended
    FAILED = "failed"  # ended without a bridge
    CANCELED = "canceled"  # hung up through the API before the bridge


@dataclass(frozen=True, kw_only=True)
class PlacedCallback:
    """A callback just accepted: both legs are stored (``queued``) and dialling starts."""

    id: str
    mode: CallbackMode
    first: LegName
    leg_a: CallRecord
    leg_b: CallRecord


@dataclass(frozen=True, kw_only=True)
class CallbackDetail:
    """A callback with both legs (their events and webhook deliveries).

    ``status``: ``queued`` (no leg dialled yet), ``in-progress`` (legs ringing or hearing
    their announcements), ``bridged``, ``completed`` (was bridged, has ended), ``failed``
    (ended without a bridge: ``ended_by`` is the leg that did not connect, ``reason`` why)
    or ``canceled`` (hung up through the API before the bridge)."""

    id: str
    mode: str
    first: str
    status: CallbackStatus
    ended_by: str | None
    reason: str | None
    created_at: datetime
    bridged_at: datetime | None
    ended_at: datetime | None
    bridged_seconds: float | None
    leg_a: CallDetail
    leg_b: CallDetail


def placement_data(*, mode: CallbackMode, first: LegName, leg_b_sid: str) -> dict[str, str]:
    """The data of the A leg's ``callback`` event."""
    return {"mode": mode.value, "first": first.value, "leg_B": leg_b_sid}


def placement_of(leg_a: CallDetail) -> Mapping[str, Any] | None:
    """The ``callback`` event's data, or ``None`` when the call is no callback's A leg."""
    event = _event(leg_a.events, CALLBACK_EVENT)
    if event is None or not isinstance(event.data.get("leg_B"), str):
        return None
    return event.data


def callback_detail(leg_a: CallDetail, leg_b: CallDetail, *, running: bool) -> CallbackDetail:
    """The callback whose A leg is ``leg_a`` (which :func:`placement_of` accepted).

    ``running``: the callback is still being run here, so it has not ended until its
    outcome is stored, even when both legs have (it is writing their last events)."""
    placed = placement_of(leg_a) or {}
    bridged = _event(leg_a.events, BRIDGED_EVENT)
    ended = _event(leg_a.events, ENDED_EVENT)
    outcome = ended.data if ended is not None else {}
    legs = (leg_a.call, leg_b.call)
    legs_ended = all(call.ended_at is not None for call in legs)
    all_ended = ended is not None or (legs_ended and not running)
    ended_at = max((c.ended_at for c in legs if c.ended_at), default=None) if all_ended else None
    seconds = outcome.get("bridged_seconds")
    if seconds is None and bridged is not None and ended_at is not None:
        seconds = round((_first_end(legs) or ended_at).timestamp() - bridged.at.timestamp(), 1)
    return CallbackDetail(
        id=leg_a.call.sid,
        mode=str(placed.get("mode", CallbackMode.SEQUENTIAL.value)),
        first=str(placed.get("first", LegName.A.value)),
        status=_status(legs, bridged=bridged is not None, ended=all_ended, outcome=outcome),
        ended_by=outcome.get("leg"),
        reason=outcome.get("reason") or (_crash_cause(legs) if all_ended else None),
        created_at=leg_a.call.created_at,
        bridged_at=None if bridged is None else bridged.at,
        ended_at=ended_at,
        bridged_seconds=None if bridged is None else float(seconds or 0.0),
        leg_a=leg_a,
        leg_b=leg_b,
    )


def _status(
    legs: tuple[CallRecord, CallRecord],
    *,
    bridged: bool,
    ended: bool,
    outcome: Mapping[str, Any],
) -> CallbackStatus:
    if ended:
        if bridged:
            return CallbackStatus.COMPLETED
        if outcome.get("reason") == "stopped":
            return CallbackStatus.CANCELED
        return CallbackStatus.FAILED
    if bridged:
        return CallbackStatus.BRIDGED
    if all(call.status == CallStatus.QUEUED for call in legs):
        return CallbackStatus.QUEUED
    return CallbackStatus.IN_PROGRESS


def _event(events: tuple[CallEventRecord, ...], name: str) -> CallEventRecord | None:
    return next((event for event in events if event.name == name), None)


def _first_end(legs: tuple[CallRecord, CallRecord]) -> datetime | None:
    return min((c.ended_at for c in legs if c.ended_at), default=None)


def _crash_cause(legs: tuple[CallRecord, CallRecord]) -> str | None:
    """Why a callback without an outcome ended: its A leg's hangup cause."""
    return legs[0].hangup_cause


@dataclass(frozen=True, kw_only=True)
class CallbackOutcome:
    """How a callback ended: ``leg`` is the leg that ended it (hung up first, or could not
    be connected) and ``reason`` why (an ``EndReason`` value, or ``stopped`` when it was
    hung up through the API)."""

    connected: bool
    leg: LegName | None
    reason: str
    bridged_seconds: float = 0.0

    def as_data(self) -> dict[str, object]:
        return {
            "connected": self.connected,
            "leg": None if self.leg is None else self.leg.value,
            "reason": self.reason,
            "bridged_seconds": self.bridged_seconds,
        }
