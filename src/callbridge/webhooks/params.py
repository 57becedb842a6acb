"""The status-callback parameters of a call event, as the outbound-call API defines them.

``Called``, ``ParentCallSid``, ``CallStatus``, ``Direction``, ``CallSid`` and
``CallbackSource=call-progress-event`` on every event; ``CallDuration``, ``CallOutcome``
(completed, busy, no-answer, failed or canceled), ``SipResponseCode`` and (if the call
was recorded) ``RecordingURL`` on ``completed``.  The seed's table spells two of them
``callSid`` and ``CallDurartion`` (sic): both spellings are sent, so a receiver written
against either reads its own; ``apikey=<secretKey>`` when the call was
created with a secret key. ``ParentCallSid`` is the A leg's sid: for an A leg, its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callbridge.store.records import Callback, CallRecord

CALLBACK_SOURCE = "call-progress-event"


class CallbackEvent(StrEnum):
    INITIATED = "initiated"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"


DEFAULT_EVENTS = (CallbackEvent.COMPLETED,)


def callback_for(call: CallRecord, event: CallbackEvent) -> Callback | None:
    """Where ``event`` of ``call`` is to be sent, or ``None`` if it is not subscribed."""
    if not call.status_callback:
        return None
    subscribed = {e.strip().lower() for e in call.status_callback_events}
    if event.value not in subscribed:
        return None
    return Callback(url=call.status_callback, method=call.status_callback_method)


@dataclass(frozen=True, kw_only=True)
class CallOutcome:
    """How a call ended, as its completed callback tells it: ``outcome`` is one of
    :data:`OUTCOMES` (an answered call that broke is ``failed``, not ``completed``) and
    ``sip_code`` the SIP status that ended it (200 for an answered call ended by a BYE)."""

    outcome: str
    sip_code: int

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown call outcome {self.outcome!r}")


OUTCOMES = ("completed", "busy", "no-answer", "failed", "canceled")


def status_callback_params(
    call: CallRecord, event: CallbackEvent, *, outcome: CallOutcome | None = None
) -> dict[str, str]:
    """``outcome`` is given with ``completed`` (else it follows the call's status)."""
    params = {
        "Called": call.to,
        "ParentCallSid": call.parent_sid or call.sid,
        "CallStatus": event.value,
        "Direction": call.direction.capitalize(),
        "CallSid": call.sid,
        "callSid": call.sid,
        "CallbackSource": CALLBACK_SOURCE,
    }
    if event is CallbackEvent.COMPLETED:
        params["CallDuration"] = params["CallDurartion"] = str(call.duration or 0)
        ending = outcome or CallOutcome(
            outcome=call.status if call.status in OUTCOMES else "failed",
            sip_code=call.sip_code or (200 if call.answered_at else 500),
        )
        params["CallOutcome"] = ending.outcome
        params["SipResponseCode"] = str(ending.sip_code)
        if call.recording_url:
            params["RecordingURL"] = call.recording_url
    if call.secret_key:
        params["apikey"] = call.secret_key
    return params
