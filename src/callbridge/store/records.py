"""Frozen values the repositories take and return (never ORM rows)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callbridge.store.errors import InvalidCursor
from callbridge.vocabulary import CallStatus


@dataclass(frozen=True, kw_only=True)
class NewCall:
    sid: str
    direction: str  # "inbound" / "outbound"
    from_: str
    to: str
    node: str
    status: CallStatus = CallStatus.QUEUED
    api_key_id: str | None = None
    parent_sid: str | None = None
    url: str | None = None
    method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: tuple[str, ...] = ("completed",)
    secret_key: str | None = None
    optional: str | None = None
    external_id: str | None = None  # seed-002's, of an originated call


@dataclass(frozen=True, kw_only=True)
class CallRecord:
    sid: str
    api_key_id: str | None
    parent_sid: str | None
    direction: str
    from_: str
    to: str
    status: CallStatus
    url: str | None
    method: str
    status_callback: str | None
    status_callback_method: str
    status_callback_events: tuple[str, ...]
    secret_key: str | None
    optional: str | None
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration: int | None
    hangup_cause: str | None
    hangup_by: str | None
    sip_code: int | None
    recording_url: str | None
    node: str
    external_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class OrphanedCall:
    """A call a previous run of its node left live, now ended in the store; ``sip_dialog``
    is what was stored of its answered leg's SIP dialog (to be sent a BYE), if anything."""

    call: CallRecord
    sip_dialog: Mapping[str, Any] | None


@dataclass(frozen=True, kw_only=True)
class CallEnding:
    """How a call ended; given to ``update_status`` with the final status."""

    cause: str
    by: str  # "local" / "remote"
    sip_code: int | None = None


@dataclass(frozen=True, kw_only=True)
class NewEvent:
    name: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Callback:
    """Where an event's webhook goes."""

    url: str
    method: str = "POST"


@dataclass(frozen=True, kw_only=True)
class EventWrite:
    """An event to append to a call and the webhook it owes (``callback`` None: none).

    ``sequence_param``: the parameter the store adds to ``params``, in the transaction that
    queues the webhook, with its number among the call's numbered webhooks (0, 1, ...)."""

    event: NewEvent
    params: Mapping[str, str] = field(default_factory=dict)
    callback: Callback | None = None
    sequence_param: str | None = None


# Builds the event of a status change from the call as the change leaves it (its callback
# parameters show the new status, duration...).
EventFor = Callable[[CallRecord], EventWrite]


@dataclass(frozen=True, kw_only=True)
class RecordedEvent:
    seq: int
    delivery_id: int | None


@dataclass(frozen=True, kw_only=True)
class CallEventRecord:
    call_sid: str
    seq: int
    name: str
    at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class DeliveryRecord:
    id: int
    call_sid: str
    seq: int
    url: str
    method: str
    params: Mapping[str, str]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    last_status_code: int | None
    delivered_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class RecordingRecord:
    id: int
    call_sid: str
    path: str
    duration: float | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class CallDetail:
    call: CallRecord
    events: tuple[CallEventRecord, ...]
    deliveries: tuple[DeliveryRecord, ...]
    recordings: tuple[RecordingRecord, ...]


@dataclass(frozen=True, kw_only=True)
class CallFilters:
    api_key_id: str | None = None
    status: str | None = None  # a CallStatus, or a callback event name (matches none)
    direction: str | None = None
    parent_sid: str | None = None
    from_: str | None = None
    to: str | None = None
    external_id: str | None = None
    call_id: str | None = None  # seed-004's (callbridge.store.call_ids)
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Cursor:
    """Position after the last call of a page (newest first: created_at, then sid)."""

    created_at: datetime
    sid: str

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.sid}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            at, sid = raw.split("|", 1)
            created_at = datetime.fromisoformat(at)
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidCursor(token) from exc
        if created_at.tzinfo is None or not sid:
            raise InvalidCursor(token)
        return cls(created_at=created_at, sid=sid)


@dataclass(frozen=True, kw_only=True)
class CallPage:
    calls: tuple[CallRecord, ...]
    next_cursor: Cursor | None


@dataclass(frozen=True, kw_only=True)
class ApiKeyRecord:
    id: str
    name: str
    signing_secret: str
    scopes: tuple[str, ...]
    calls_per_second: float | None
    max_concurrent: int | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class CreatedApiKey:
    """A new key: ``key`` is shown once and never stored (only its sha256 is)."""

    record: ApiKeyRecord
    key: str
