"""Two-leg callbacks as the callback API's JSON (``/voice/call/callback``).

The legs are shown under the request's names, ``leg_A`` and ``leg_B``, each as the
outbound call API shows a call (``CallSid``, ``status``, ``hangupCause``, ``duration``,
and in the detail its events and webhook deliveries); the rest is camelCase.  Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime

from callbridge.calls.callback_state import CallbackDetail, CallbackStatus, PlacedCallback
from callbridge.dialects.call_resource import JsonObject, call_detail_json, call_json

CALLBACK_PREFIX = "/voice/call/callback"


def callback_link(callback_id: str) -> str:
    return f"{CALLBACK_PREFIX}/{callback_id}"


def placed_callback_json(placed: PlacedCallback) -> JsonObject:
    """What ``POST /voice/call/callback`` answers: the callback's id and each leg's."""
    return {
        "id": placed.id,
        "status": CallbackStatus.QUEUED.value,
        "mode": placed.mode.value,
        "first": placed.first.value,
        "leg_A": call_json(placed.leg_a),
        "leg_B": call_json(placed.leg_b),
        "link": callback_link(placed.id),
    }


def callback_detail_json(detail: CallbackDetail) -> JsonObject:
    """``GET /voice/call/callback/{id}``: the callback's state and both legs in full."""
    return {
        "id": detail.id,
        "status": str(detail.status),
        "mode": detail.mode,
        "first": detail.first,
        "endedBy": detail.ended_by,
        "reason": detail.reason,
        "createdAt": _time(detail.created_at),
        "bridgedAt": _time(detail.bridged_at),
        "endedAt": _time(detail.ended_at),
        "bridgedSeconds": detail.bridged_seconds,
        "leg_A": call_detail_json(detail.leg_a),
        "leg_B": call_detail_json(detail.leg_b),
        "link": callback_link(detail.id),
    }


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
