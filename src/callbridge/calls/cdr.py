"""The call detail record: one log line per call at its end (logger ``callbridge.cdr``),
with CallSid, from, to, direction, outcome, SIP code, duration and cause, in the message
and (JSON logs) as the line's ``fields``; and the count of calls ended by outcome that
``/metrics`` reports (this process's calls)."""

from __future__ import annotations

import logging
from collections import Counter

from callbridge.log_format import FIELDS
from callbridge.store.records import CallRecord
from callbridge.webhooks.params import CallOutcome

log = logging.getLogger("callbridge.cdr")

# Calls ended in this process, by outcome (completed, busy, no-answer, failed, canceled).
CALLS_ENDED: Counter[str] = Counter()


def record_call_end(call: CallRecord, outcome: CallOutcome) -> None:
    """Count the ended ``call`` and write its CDR line."""
    CALLS_ENDED[outcome.outcome] += 1
    fields = {
        "call_sid": call.sid,
        "parent_call_sid": call.parent_sid,
        "from": call.from_,
        "to": call.to,
        "direction": call.direction,
        "outcome": outcome.outcome,
        "sip_code": outcome.sip_code,
        "duration": call.duration,
        "cause": call.hangup_cause,
    }
    log.info(
        "CDR call_sid=%s from=%s to=%s direction=%s outcome=%s sip_code=%s duration=%s cause=%s",
        call.sid,
        call.from_,
        call.to,
        call.direction,
        outcome.outcome,
        outcome.sip_code,
        call.duration,
        call.hangup_cause,
        extra={FIELDS: fields},
    )


__all__ = ["CALLS_ENDED", "record_call_end"]
