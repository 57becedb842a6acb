"""Test helper: create calls and record their status events the way the engine will."""

from __future__ import annotations

from collections.abc import Sequence

from callbridge.store.clock import SystemClock
from callbridge.store.records import CallEnding, NewCall, NewEvent
from callbridge.store.repository import CallRepository
from callbridge.vocabulary import CallStatus
from callbridge.webhooks.params import (
    SEQUENCE_NUMBER,
    CallbackEvent,
    callback_for,
    status_callback_params,
)

ALL_EVENTS = ("initiated", "ringing", "answered", "completed")
CLOCK = SystemClock()


async def new_call(
    calls: CallRepository,
    sid: str,
    *,
    callback_url: str,
    method: str = "POST",
    api_key_id: str | None = None,
    secret_key: str | None = None,
    optional: str | None = None,
    parent_sid: str | None = None,
    events: Sequence[str] = ALL_EVENTS,
) -> None:
    await calls.create_call(
        NewCall(
            sid=sid,
            direction="outbound",
            from_="15550001111",
            to="19499300360",
            node="node-a",
            api_key_id=api_key_id,
            parent_sid=parent_sid,
            status_callback=callback_url,
            status_callback_method=method,
            status_callback_events=tuple(events),
            secret_key=secret_key,
            optional=optional,
        )
    )


# The call's status once each event happened.
STATUS_AFTER = {
    CallbackEvent.INITIATED: CallStatus.QUEUED,
    CallbackEvent.RINGING: CallStatus.RINGING,
    CallbackEvent.ANSWERED: CallStatus.IN_PROGRESS,
    CallbackEvent.COMPLETED: CallStatus.COMPLETED,
}


async def emit(calls: CallRepository, sid: str, event: CallbackEvent) -> int | None:
    """Move the call to ``event`` and record it with its webhook; the delivery id."""
    now = CLOCK.now()
    ending = CallEnding(cause="hung_up", by="remote") if event is CallbackEvent.COMPLETED else None
    call = await calls.update_status(sid, STATUS_AFTER[event], at=now, ending=ending)
    recorded = await calls.record_event_with_delivery(
        sid,
        NewEvent(name=event.value, at=now),
        status_callback_params(call, event, at=now),
        callback_for(call, event),
        sequence_param=SEQUENCE_NUMBER,
    )
    return recorded.delivery_id


async def full_call(calls: CallRepository, sid: str) -> None:
    for event in CallbackEvent:
        await emit(calls, sid, event)
