"""The status-callback parameters of a call event, as the outbound-call API defines them.

``Called``, ``ParentCallSid``, ``CallStatus``, ``Direction``, ``CallSid``,
``CallbackSource=call-progress-event``, ``Timestamp`` (when the event happened, RFC 2822
in UTC as Twilio sends it: ``Sat, 05 Dec 2026 14:30:01 +0000``) and ``SequenceNumber``
(the callback's number among the call's callbacks, from 0, in the order they were queued:
only subscribed events have one; the store sets it, see :data:`SEQUENCE_NUMBER`) on every
event; ``CallDuration``, ``CallOutcome``
(completed, busy, no-answer, failed or canceled), ``SipResponseCode`` and (if the call
was recorded) ``RecordingURL`` on ``completed``.  The seed's table spells two of them
``callSid`` and ``CallDurartion`` (sic): both spellings are sent, so a receiver written
against either reads its own; ``apikey=<secretKey>`` when the call was
created with a secret key. ``ParentCallSid`` is the A leg's sid: for an A leg, its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from callbridge.store.records import Callback, CallRecord
from callbridge.vocabulary import DEFAULT_EVENTS as DEFAULT_EVENTS
from callbridge.vocabulary import FINAL_STATUSES, CallStatus
from callbridge.vocabulary import CallbackEvent as CallbackEvent
from callbridge.vocabulary import CallOutcome as CallOutcome

CALLBACK_SOURCE = "call-progress-event"
# The parameter the store numbers each callback of a call under (0, 1, ...), in the
# transaction that queues it.
SEQUENCE_NUMBER = "SequenceNumber"


def callback_timestamp(at: datetime) -> str:
    """``at`` as a callback's ``Timestamp``: RFC 2822 (RFC 1123) in UTC, ``+0000``."""
    return format_datetime(at.astimezone(UTC))


def callback_for(call: CallRecord, event: CallbackEvent) -> Callback | None:
    """Where ``event`` of ``call`` is to be sent, or ``None`` if it is not subscribed."""
    if not call.status_callback:
        return None
    subscribed = {e.strip().lower() for e in call.status_callback_events}
    if event.value not in subscribed:
        return None
    return Callback(url=call.status_callback, method=call.status_callback_method)


def status_callback_params(
    call: CallRecord, event: CallbackEvent, *, at: datetime, outcome: CallOutcome | None = None
) -> dict[str, str]:
    """The parameters of ``event``, which happened ``at``; ``outcome`` is given with
    ``completed`` (else it follows the call's status).  ``SequenceNumber`` is not among
    them: the store adds it when it queues the callback."""
    params = {
        "Called": call.to,
        "ParentCallSid": call.parent_sid or call.sid,
        "CallStatus": event.value,
        "Direction": call.direction.capitalize(),
        "CallSid": call.sid,
        "callSid": call.sid,
        "CallbackSource": CALLBACK_SOURCE,
        "Timestamp": callback_timestamp(at),
    }
    if event is CallbackEvent.COMPLETED:
        params["CallDuration"] = params["CallDurartion"] = str(call.duration or 0)
        ending = outcome or CallOutcome(
            outcome=call.status if call.status in FINAL_STATUSES else CallStatus.FAILED,
            sip_code=call.sip_code or (200 if call.answered_at else 500),
        )
        params["CallOutcome"] = ending.outcome.value
        params["SipResponseCode"] = str(ending.sip_code)
        if call.recording_url:
            params["RecordingURL"] = call.recording_url
    if call.external_id is not None:
        params["ExternalId"] = call.external_id
    if call.secret_key:
        params["apikey"] = call.secret_key
    return params
