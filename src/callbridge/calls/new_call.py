"""The store's record of a call about to be placed (one leg, outbound), from what the API
asked for, or of a call that arrived (inbound); every call is made here, so all carry the
same fields."""

from __future__ import annotations

import uuid
from dataclasses import replace

from callbridge.calls.request import StatusCallback
from callbridge.store.records import CallRecord, NewCall
from callbridge.webhooks.params import CallbackEvent


def new_call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def outbound_call(
    *,
    to: str,
    from_: str,
    node: str,
    api_key_id: str | None,
    status_callback: StatusCallback | None,
    parent: CallRecord | None = None,
    url: str | None = None,
    method: str = "POST",
    external_id: str | None = None,
) -> NewCall:
    """A new ``queued`` outbound call with a fresh CallSid (a child of ``parent``)."""
    callback = status_callback
    return NewCall(
        sid=new_call_sid(),
        direction="outbound",
        from_=from_,
        to=to,
        node=node,
        api_key_id=api_key_id,
        parent_sid=None if parent is None else parent.sid,
        url=url,
        method=method,
        status_callback=None if callback is None else callback.url,
        status_callback_method="POST" if callback is None else callback.method,
        status_callback_events=(CallbackEvent.COMPLETED.value,)
        if callback is None
        else tuple(event.value for event in callback.events),
        secret_key=None if callback is None else callback.secret_key,
        optional=None if callback is None else callback.optional,
        external_id=external_id,
    )


def inbound_call(
    *,
    to: str,
    from_: str,
    node: str,
    api_key_id: str | None,
    status_callback: StatusCallback | None,
    url: str | None = None,
    method: str = "POST",
) -> NewCall:
    """A new ``queued`` inbound call (a call from a trunk to a configured number)."""
    outbound = outbound_call(
        to=to,
        from_=from_,
        node=node,
        api_key_id=api_key_id,
        status_callback=status_callback,
        url=url,
        method=method,
    )
    return replace(outbound, direction="inbound")
