"""The shapes of the API's requests and replies, for its OpenAPI description only.

The routes read their bodies themselves (names case-insensitive, form or JSON, every
refusal named), so these models validate nothing: they describe, for ``/docs`` and for
client generators, what :mod:`callbridge.dialects` reads and writes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callbridge.calls.callback_state import CallbackStatus
from callbridge.vocabulary import CallStatus

HttpMethod = Literal["GET", "POST"]


class _Doc(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class Problem(_Doc):
    id: str = Field(description="stable identifier clients branch on, e.g. invalid_request")
    message: str
    fields: dict[str, str] = Field(description="a message per refused request field")


class ErrorBody(_Doc):
    error: Problem


class Warning(_Doc):
    field: str
    message: str = Field(description="why the field had no effect")


class Health(_Doc):
    status: Literal["ok"]
    legs: int


class ApiKey(_Doc):
    """The authenticated key (never the key itself)."""

    id: str
    name: str
    scopes: list[str]
    callsPerSecond: float | None
    maxConcurrent: int | None
    signingSecret: str = Field(description="the secret of X-Callbridge-Signature")
    createdAt: str


class PlaceCall(_Doc):
    """seed-001's fields; as a form or JSON, names case-insensitive."""

    to: str = Field(description="number, extension or SIP URI to dial")
    from_: str | None = Field(None, alias="from", description="caller ID (required without url)")
    url: str | None = Field(None, description="voice application run when `to` answers")
    Method: HttpMethod = "POST"
    sendDigits: str | None = Field(None, description="DTMF after answer; w = 0.5 s, W = 1 s")
    statusCallback: str | None = None
    statusCallbackEvent: str | None = Field(
        None, description="initiated ringing answered completed (space separated or repeated)"
    )
    statusCallbackMethod: HttpMethod = "POST"
    secretKey: str | None = Field(None, description="sent back as apikey in status callbacks")
    optional: str | None = Field(None, description="appended to the status callback URL")
    timeout: float = Field(60, ge=5, le=600, description="seconds to ring")
    record: bool = False
    callerName: str | None = None


class Call(_Doc):
    CallSid: str
    callId: str = Field(description="seed-004's call_id: SHA-256 of the CallSid, lowercase hex")
    ParentCallSid: str | None
    status: CallStatus
    direction: Literal["outbound", "inbound"]
    from_: str = Field(alias="from")
    to: str
    url: str | None
    Method: HttpMethod
    statusCallback: str | None
    statusCallbackMethod: HttpMethod
    statusCallbackEvent: list[str]
    optional: str | None
    createdAt: str
    answeredAt: str | None
    endedAt: str | None
    duration: int | None
    hangupCause: str | None
    hangupBy: str | None
    sipCode: int | None
    recordingUrl: str | None
    link: str
    warnings: list[Warning] | None = Field(None, description="only on creation, when any")


class CallEvent(_Doc):
    seq: int
    name: str
    at: str
    data: dict[str, Any]


class Delivery(_Doc):
    id: int
    seq: int
    event: str | None
    url: str
    method: HttpMethod
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    nextAttemptAt: str | None
    lastStatusCode: int | None
    lastError: str | None
    deliveredAt: str | None


class Recording(_Doc):
    id: int
    duration: float | None
    createdAt: str
    link: str


class CallDetail(Call):
    children: list[Call]
    recordings: list[Recording]
    events: list[CallEvent]
    webhooks: list[Delivery]


class CallPage(_Doc):
    calls: list[Call]
    nextCursor: str | None
    next: str | None


class UpdateCall(_Doc):
    """Either Status (hang up) or Url (redirect)."""

    Status: Literal["completed", "canceled"] | None = None
    Url: str | None = None
    Method: HttpMethod | None = None


class Announce(_Doc):
    text: str | None = None
    voice: str | None = None
    url: str | None = Field(None, description="audio in any format <Play> reads")


class Leg(_Doc):
    to: str
    from_: str = Field(alias="from", description="the caller ID this leg sees")
    caller_name: str | None = None
    trunk: str | None = None
    timeout: float = Field(60, ge=5, le=600)
    headers: dict[str, str] | None = Field(None, description="X-... and a few standard ones")
    announce: str | Announce | None = None
    voice: str | None = None
    status_callback: str | None = None
    status_callback_event: str | list[str] | None = None
    status_callback_method: HttpMethod = "POST"
    secret_key: str | None = None
    optional: str | None = None
    url: str | None = Field(
        None, description="an application run on this leg alone once it answers, before the bridge"
    )
    method: HttpMethod = "POST"
    senddigits: str | None = Field(
        None, description="DTMF sent once it answers (before the bridge); w waits 0.5 s, W 1 s"
    )
    record: bool = Field(False, description="record what this leg says until it ends")


class PlaceCallback(_Doc):
    """seed-000's two legs."""

    leg_A: Leg
    leg_B: Leg
    mode: Literal["sequential", "simultaneous"] = "sequential"
    first: Literal["A", "B"] = "A"
    failure_announce: str | Announce | None = None


class PlacedCallback(_Doc):
    id: str
    status: Literal["queued"]
    mode: str
    first: str
    leg_A: Call
    leg_B: Call
    link: str
    warnings: list[Warning] | None = None


class CallbackDetail(_Doc):
    id: str
    status: CallbackStatus
    mode: str
    first: str
    endedBy: str | None
    reason: str | None
    createdAt: str
    bridgedAt: str | None
    endedAt: str | None
    bridgedSeconds: int | None
    leg_A: CallDetail
    leg_B: CallDetail
    link: str


class CallbackStart(_Doc):
    """Bitrix24's voximplant.callback.start (form, JSON or query string)."""

    FROM_LINE: str
    TO_NUMBER: str
    TEXT_TO_PRONOUNCE: str
    VOICE: str | None = None


class BitrixTime(_Doc):
    start: float
    finish: float
    duration: float
    processing: float
    date_start: str
    date_finish: str


class BitrixReply(_Doc):
    result: Any
    time: BitrixTime


class BitrixError(_Doc):
    error: str
    error_description: str
