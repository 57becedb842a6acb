"""CallTracker: turns one leg's events into the call's stored status, event log and
status callbacks, strictly in the order the leg produced them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callbridge.calls.api_dialect import ApiDialect
from callbridge.calls.cdr import record_call_end
from callbridge.engine.events import Answered, EarlyMedia, Ended, LegEvent, Ringing
from callbridge.store.clock import Clock
from callbridge.store.records import CallEnding, CallRecord, EventWrite, NewCall, NewEvent
from callbridge.store.repository import CallRepository
from callbridge.vocabulary import (
    CallbackEvent,
    CallOutcome,
    CallStatus,
    EndReason,
    Party,
    call_outcome,
    change_status,
    final_status,
)
from callbridge.webhooks.params import SEQUENCE_NUMBER, callback_for, status_callback_params

log = logging.getLogger(__name__)

RESTART_SIP_CODE = 500


def status_event(
    call: CallRecord,
    kind: CallbackEvent,
    data: Mapping[str, Any],
    at: datetime,
    *,
    outcome: CallOutcome | None = None,
    dialect: ApiDialect | None = None,
    sequence: int = 0,
) -> EventWrite:
    """The event ``kind`` of ``call`` (as the change leaves it) and the callback it owes,
    worded by ``dialect`` when the call has one (the store numbers it: ``sequence_param``)."""
    if dialect is None:
        params = status_callback_params(call, kind, at=at, outcome=outcome)
    else:
        params = dialect.callback_params(call, kind, outcome=outcome, at=at, sequence=sequence)
    return EventWrite(
        event=NewEvent(name=kind.value, at=at, data={**data, "status": kind.value}),
        params=params,
        callback=callback_for(call, kind),
        sequence_param=SEQUENCE_NUMBER,
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
        self._answered = call.answered_at is not None
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
                created, CallbackEvent.INITIATED, {}, at, dialect=dialect
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
        await self._emit(CallbackEvent.INITIATED, {})

    async def on_leg_event(self, event: LegEvent) -> None:
        """Apply one leg event (trying and repeated progress events change nothing)."""
        if isinstance(event, Ringing | EarlyMedia) and self._call.status == CallStatus.QUEUED:
            await self._change(CallStatus.RINGING, CallbackEvent.RINGING, {})
        elif isinstance(event, Answered) and not self._answered:
            self._answered = True
            dialog = event.dialog.to_json() if event.dialog is not None else None
            await self._change(
                CallStatus.IN_PROGRESS, CallbackEvent.ANSWERED, {}, sip_dialog=dialog
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
        outcome = call_outcome(event.reason, sip_code=event.sip_code, answered=self._answered)
        data: dict[str, Any] = {
            "reason": event.reason.value,
            "by": event.by.value,
            "sip_code": event.sip_code,
            "outcome": outcome.outcome.value,
        }
        if event.detail or cause:
            data["cause"] = ending.cause
        status = final_status(event.reason, answered=self._answered)
        await self._change(status, CallbackEvent.COMPLETED, data, ending=ending, outcome=outcome)
        record_call_end(self._call, outcome)  # the CDR line and the count by outcome

    async def completed_after_restart(self) -> None:
        """The call was already closed in the store (the server stopped during it): owe only
        its completed event."""
        outcome = CallOutcome(outcome=CallStatus.FAILED, sip_code=RESTART_SIP_CODE)
        data = {
            "reason": EndReason.FAILED.value,
            "by": Party.LOCAL.value,
            "cause": self._call.hangup_cause,
            "outcome": outcome.outcome.value,
        }
        await self._emit(CallbackEvent.COMPLETED, data, outcome=outcome)

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
        status: CallStatus,
        kind: CallbackEvent,
        data: Mapping[str, Any],
        *,
        ending: CallEnding | None = None,
        sip_dialog: Mapping[str, Any] | None = None,
        outcome: CallOutcome | None = None,
    ) -> None:
        """The new status with its event and callback, in one transaction
        (:class:`InvalidStatusChange` if the call may not move to ``status``)."""
        async with self._lock:
            change_status(self._call.status, status)
            at = self._clock.now()
            self._call = await self._repository.update_status(
                self.sid,
                status,
                at=at,
                ending=ending,
                sip_dialog=sip_dialog,
                then=lambda call: self._event(call, kind, data, at, outcome=outcome),
            )

    def _event(
        self,
        call: CallRecord,
        kind: CallbackEvent,
        data: Mapping[str, Any],
        at: datetime,
        *,
        outcome: CallOutcome | None = None,
    ) -> EventWrite:
        return status_event(call, kind, data, at, outcome=outcome, dialect=self._dialect)

    async def _emit(
        self,
        kind: CallbackEvent,
        data: Mapping[str, Any],
        *,
        outcome: CallOutcome | None = None,
    ) -> None:
        async with self._lock:
            write = self._event(self._call, kind, data, self._clock.now(), outcome=outcome)
            await self._repository.record_event_with_delivery(
                self.sid,
                write.event,
                write.params,
                write.callback,
                sequence_param=write.sequence_param,
            )
