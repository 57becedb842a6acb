"""CallTracker: turns one leg's events into the call's stored status, event log and
status callbacks, strictly in the order the leg produced them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callbridge.calls.api_dialect import ApiDialect
from callbridge.engine.events import (
    Answered,
    EarlyMedia,
    Ended,
    EndReason,
    LegEvent,
    Ringing,
    status_for_reason,
)
from callbridge.store.clock import Clock
from callbridge.store.records import CallEnding, CallRecord, EventWrite, NewCall, NewEvent
from callbridge.store.repository import CallRepository
from callbridge.webhooks.params import (
    CallbackEvent,
    CallOutcome,
    callback_for,
    status_callback_params,
)

log = logging.getLogger(__name__)

# The call's final status (Twilio-style, which the seed's platform follows) per end reason.
FINAL_STATUS = {
    EndReason.HUNG_UP: "completed",
    EndReason.BUSY: "busy",
    EndReason.NO_ANSWER: "no-answer",
    EndReason.DECLINED: "busy",
    EndReason.CANCELLED: "canceled",
    EndReason.OFFLINE: "failed",
    EndReason.UNREACHABLE: "failed",
    EndReason.FAILED: "failed",
    EndReason.RTP_TIMEOUT: "failed",  # only answered legs time out (then: completed)
    EndReason.SESSION_EXPIRED: "failed",
}


# Reasons that are failures even after an answer (an application error, a lost peer).
FAILURES = frozenset({EndReason.FAILED, EndReason.UNREACHABLE, EndReason.OFFLINE})
RESTART_SIP_CODE = 500


def final_status(ended: Ended, *, answered: bool) -> str:
    """An answered call that ended is ``completed`` whatever ended it."""
    return "completed" if answered else FINAL_STATUS[ended.reason]


def call_outcome(ended: Ended, *, answered: bool) -> CallOutcome:
    """The completed callback's ``CallOutcome`` and ``SipResponseCode``: an answered call
    that broke (its document invalid, its peer gone) is ``failed``, not ``completed``."""
    outcome = "failed" if ended.reason in FAILURES else final_status(ended, answered=answered)
    if ended.sip_code is not None:
        code = ended.sip_code
    elif answered and outcome == "completed":
        code = 200
    else:
        code = status_for_reason(ended.reason)
    return CallOutcome(outcome=outcome, sip_code=code)


def status_event(
    call: CallRecord,
    kind: CallbackEvent,
    name: str,
    data: Mapping[str, Any],
    at: datetime,
    *,
    outcome: CallOutcome | None = None,
    dialect: ApiDialect | None = None,
    sequence: int = 0,
) -> EventWrite:
    """The event ``name`` of ``call`` (as the change leaves it) and the callback it owes,
    worded by ``dialect`` when the call has one (``sequence``: the callbacks sent before)."""
    if dialect is None:
        params = status_callback_params(call, kind, outcome=outcome)
    else:
        params = dialect.callback_params(call, kind, outcome=outcome, at=at, sequence=sequence)
    return EventWrite(
        event=NewEvent(name=name, at=at, data={**data, "status": kind.value}),
        params=params,
        callback=callback_for(call, kind),
    )


class CallTracker:
    """Owns the writes of one call: each leg event becomes, in one transaction, the call's
    new status, an event row and (when subscribed) the status callback it owes (the
    outbox)."""

    def __init__(
        self,
        *,
        repository: CallRepository,
        clock: Clock,
        call: CallRecord,
        dialect: ApiDialect | None = None,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._call = call
        self._dialect = dialect
        self._sent = 0 if callback_for(call, CallbackEvent.INITIATED) is None else 1
        self._answered = False
        self._lock = asyncio.Lock()

    @classmethod
    async def create(
        cls,
        *,
        repository: CallRepository,
        clock: Clock,
        call: NewCall,
        dialect: ApiDialect | None = None,
    ) -> CallTracker:
        """Store a new call with its initiated event (and callback) in one transaction."""
        at = clock.now()
        record = await repository.create_call(
            call,
            then=lambda created: status_event(
                created, CallbackEvent.INITIATED, "initiated", {}, at, dialect=dialect
            ),
        )
        return cls(repository=repository, clock=clock, call=record, dialect=dialect)

    @property
    def call(self) -> CallRecord:
        return self._call

    @property
    def sid(self) -> str:
        return self._call.sid

    async def initiated(self) -> None:
        await self._emit(CallbackEvent.INITIATED, "initiated", {})

    async def on_leg_event(self, event: LegEvent) -> None:
        """Apply one leg event (trying and repeated progress events change nothing)."""
        if isinstance(event, Ringing | EarlyMedia) and self._call.status == "queued":
            await self._change("ringing", CallbackEvent.RINGING, "ringing", {})
        elif isinstance(event, Answered) and not self._answered:
            self._answered = True
            dialog = event.dialog.to_json() if event.dialog is not None else None
            await self._change(
                "in-progress", CallbackEvent.ANSWERED, "answered", {}, sip_dialog=dialog
            )
        elif isinstance(event, Ended):
            await self.ended(event)

    async def ended(self, event: Ended, *, cause: str | None = None) -> None:
        if self._call.ended_at is not None:
            return
        ending = CallEnding(
            cause=cause or event.detail or event.reason.value,
            by=event.by.value,
            sip_code=event.sip_code,
        )
        outcome = call_outcome(event, answered=self._answered)
        data: dict[str, Any] = {
            "reason": event.reason.value,
            "by": event.by.value,
            "sip_code": event.sip_code,
            "outcome": outcome.outcome,
        }
        if event.detail or cause:
            data["cause"] = ending.cause
        status = final_status(event, answered=self._answered)
        await self._change(
            status, CallbackEvent.COMPLETED, "completed", data, ending=ending, outcome=outcome
        )

    async def completed_after_restart(self) -> None:
        """The call was already closed in the store (the server stopped during it): owe only
        its completed event."""
        outcome = CallOutcome(outcome="failed", sip_code=RESTART_SIP_CODE)
        data = {
            "reason": "failed",
            "by": "local",
            "cause": self._call.hangup_cause,
            "outcome": outcome.outcome,
        }
        await self._emit(CallbackEvent.COMPLETED, "completed", data, outcome=outcome)

    async def note(self, name: str, data: Mapping[str, Any]) -> None:
        """Log an application event on the call (``error``, ``dial``, ``recording``...)."""
        async with self._lock:
            event = NewEvent(name=name, at=self._clock.now(), data=dict(data))
            await self._repository.record_event_with_delivery(self.sid, event, {}, None)

    async def recorded(self, url: str) -> None:
        """The call's own recording (``record=true``) is stored at ``url``."""
        async with self._lock:
            await self._repository.set_recording_url(self.sid, url)
            self._call = (await self._repository.get_call(self.sid)).call

    async def _change(
        self,
        status: str,
        kind: CallbackEvent,
        name: str,
        data: Mapping[str, Any],
        *,
        ending: CallEnding | None = None,
        sip_dialog: Mapping[str, Any] | None = None,
        outcome: CallOutcome | None = None,
    ) -> None:
        """The new status with its event and callback, in one transaction."""
        async with self._lock:
            at = self._clock.now()
            self._call = await self._repository.update_status(
                self.sid,
                status,
                at=at,
                ending=ending,
                sip_dialog=sip_dialog,
                then=lambda call: self._event(call, kind, name, data, at, outcome=outcome),
            )

    def _event(
        self,
        call: CallRecord,
        kind: CallbackEvent,
        name: str,
        data: Mapping[str, Any],
        at: datetime,
        *,
        outcome: CallOutcome | None = None,
    ) -> EventWrite:
        sequence = self._sent
        if callback_for(call, kind) is not None:
            self._sent += 1
        return status_event(
            call, kind, name, data, at, outcome=outcome, dialect=self._dialect, sequence=sequence
        )

    async def _emit(
        self,
        kind: CallbackEvent,
        name: str,
        data: Mapping[str, Any],
        *,
        outcome: CallOutcome | None = None,
    ) -> None:
        async with self._lock:
            write = self._event(self._call, kind, name, data, self._clock.now(), outcome=outcome)
            await self._repository.record_event_with_delivery(
                self.sid, write.event, write.params, write.callback
            )
