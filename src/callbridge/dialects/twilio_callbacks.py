"""Twilio's wording of a call's status callbacks and document fetches, for calls placed
through the Twilio-compatible API (an :class:`~callbridge.calls.api_dialect.ApiDialect`).

Every request carries ``CallSid``, ``AccountSid`` (the API key's name), ``From``, ``To``,
``Caller``, ``Called``, ``CallStatus`` (Twilio's values), ``Direction`` (``outbound-api``,
``outbound-dial`` for a ``<Dial>`` leg) and ``ApiVersion=2010-04-01``, and
``ParentCallSid`` on a ``<Dial>`` leg.  A status callback adds ``Timestamp`` (RFC 2822),
``SequenceNumber`` (from 0), ``CallbackSource=call-progress-events`` and, when the call
ended, ``CallDuration``, ``Duration`` (minutes, rounded up), ``SipResponseCode`` and the
recording's ``RecordingUrl``.  Webhooks and document fetches are signed with
``X-Twilio-Signature`` (:mod:`callbridge.webhooks.twilio_signature`).  Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from callbridge.dialects.twilio_resource import rfc2822, twilio_direction
from callbridge.store.records import CallRecord
from callbridge.vocabulary import FINAL_STATUSES
from callbridge.webhooks.params import CallbackEvent, CallOutcome
from callbridge.webhooks.twilio_signature import (
    TWILIO_API_VERSION,
    TWILIO_SIGNATURE_HEADER,
    AuthTokens,
    twilio_signature,
)

CALLBACK_SOURCE = "call-progress-events"
# CallStatus of each event's callback (completed: how the call ended).
_EVENT_STATUS = {
    CallbackEvent.INITIATED: "initiated",
    CallbackEvent.RINGING: "ringing",
    CallbackEvent.ANSWERED: "in-progress",
}


class TwilioCallDialect:
    """The wording of the calls of one account (``account_sid``: the API key's name)."""

    def __init__(self, *, account_sid: str, tokens: AuthTokens) -> None:
        self.account_sid = account_sid
        self._tokens = tokens

    def document_headers(self, url: str, params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """``X-Twilio-Signature`` with the account's auth token (none when unknown)."""
        token = self._tokens.token_of(self.account_sid)
        if token is None:
            return ()
        return ((TWILIO_SIGNATURE_HEADER, twilio_signature(token=token, url=url, params=params)),)

    def document_params(self, call: CallRecord) -> dict[str, str]:
        params = {
            "CallSid": call.sid,
            "AccountSid": self.account_sid,
            "From": call.from_,
            "To": call.to,
            "Caller": call.from_,
            "Called": call.to,
            "CallStatus": str(call.status),
            "Direction": twilio_direction(call),
            "ApiVersion": TWILIO_API_VERSION,
        }
        if call.parent_sid:
            params["ParentCallSid"] = call.parent_sid
        return params

    def callback_params(
        self,
        call: CallRecord,
        event: CallbackEvent,
        *,
        outcome: CallOutcome | None,
        at: datetime,
        sequence: int,
    ) -> dict[str, str]:
        params = self.document_params(call)
        params["CallStatus"] = _EVENT_STATUS.get(event) or _final_status(call, outcome)
        params["Timestamp"] = rfc2822(at) or ""
        params["SequenceNumber"] = str(sequence)
        params["CallbackSource"] = CALLBACK_SOURCE
        if event is CallbackEvent.COMPLETED:
            seconds = call.duration or 0
            params["CallDuration"] = str(seconds)
            params["Duration"] = str(math.ceil(seconds / 60))
            code = outcome.sip_code if outcome is not None else call.sip_code
            if code is not None:
                params["SipResponseCode"] = str(code)
            if call.recording_url:
                params["RecordingUrl"] = call.recording_url
        return params


def _final_status(call: CallRecord, outcome: CallOutcome | None) -> str:
    """An answered call is ``completed`` however it ended, as at Twilio."""
    if call.status in FINAL_STATUSES:
        return str(call.status)
    return outcome.outcome if outcome is not None else "failed"
