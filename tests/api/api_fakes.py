"""A small in-memory CallService for the API tests: it stores what it is asked and answers
from records the test adds."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import httpx

from callbridge.callflow.verbs import Program
from callbridge.calls.errors import CallLimitReached, CallNotFound, CallNotLive, ServerOverloaded
from callbridge.calls.request import OutboundCallRequest
from callbridge.store.records import (
    ApiKeyRecord,
    CallDetail,
    CallEventRecord,
    CallFilters,
    CallPage,
    CallRecord,
    Cursor,
    DeliveryRecord,
    RecordingRecord,
)

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
KEY = "cbk_test_key_0123456789abcdef"
OTHER_KEY = "cbk_other_key_0123456789abcdef"
UNSCOPED_KEY = "cbk_unscoped_0123456789abcdef"
MAX_BODY = 4096


class NoLegs:
    """The engine as ``/health`` sees it."""

    legs: dict[str, object] = {}
    refusing: str | None = None
    drain_retry_after: float | None = None

    def refusal(self) -> str | None:
        return self.refusing


@dataclass(frozen=True)
class Keys:
    main: ApiKeyRecord
    other: ApiKeyRecord


def form(pairs: list[tuple[str, str]]) -> dict[str, object]:
    """Keyword arguments of a request with a form body of ``pairs`` (names may repeat)."""
    return {
        "content": str(httpx.QueryParams(pairs)).encode(),
        "headers": {"content-type": "application/x-www-form-urlencoded"},
    }


def call_record(sid: str, *, api_key_id: str | None, **changes: object) -> CallRecord:
    values: dict[str, object] = {
        "sid": sid,
        "api_key_id": api_key_id,
        "parent_sid": None,
        "direction": "outbound",
        "from_": "15550001111",
        "to": "19499300360",
        "status": "queued",
        "url": None,
        "method": "POST",
        "status_callback": None,
        "status_callback_method": "POST",
        "status_callback_events": ("completed",),
        "secret_key": None,
        "optional": None,
        "created_at": T0,
        "answered_at": None,
        "ended_at": None,
        "duration": None,
        "hangup_cause": None,
        "hangup_by": None,
        "sip_code": None,
        "recording_url": None,
        "node": "test",
    }
    values.update(changes)
    return CallRecord(**values)  # type: ignore[arg-type]


@dataclass
class FakeCalls:
    """Implements ``CallService``; ``refuse`` makes ``place_call`` raise it."""

    placed: list[OutboundCallRequest] = field(default_factory=list)
    records: dict[str, CallRecord] = field(default_factory=dict)
    events: dict[str, tuple[CallEventRecord, ...]] = field(default_factory=dict)
    deliveries: dict[str, tuple[DeliveryRecord, ...]] = field(default_factory=dict)
    recordings: dict[int, RecordingRecord] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    hung_up: list[str] = field(default_factory=list)
    redirected: list[tuple[str, str, str]] = field(default_factory=list)
    programs: list[tuple[str, Program]] = field(default_factory=list)
    refuse: CallLimitReached | ServerOverloaded | None = None

    def add(self, record: CallRecord, *, live: bool = False) -> CallRecord:
        self.records[record.sid] = record
        if live:
            self.live.add(record.sid)
        return record

    async def place_call(self, request: OutboundCallRequest) -> CallRecord:
        if self.refuse is not None:
            raise self.refuse
        self.placed.append(request)
        callback = request.status_callback
        record = call_record(
            f"CA{len(self.placed):032d}",
            api_key_id=request.api_key_id,
            from_=request.from_,
            to=request.to,
            url=request.url,
            method=request.method,
            status_callback=callback.url if callback else None,
            status_callback_method=callback.method if callback else "POST",
            status_callback_events=tuple(e.value for e in callback.events)
            if callback
            else ("completed",),
            secret_key=callback.secret_key if callback else None,
            optional=callback.optional if callback else None,
            created_at=T0 + timedelta(seconds=len(self.placed)),
        )
        return self.add(record, live=True)

    async def get_call(self, sid: str, *, api_key_id: str | None) -> CallDetail:
        record = self._own(sid, api_key_id)
        recordings = tuple(r for r in self.recordings.values() if r.call_sid == sid)
        return CallDetail(
            call=record,
            events=self.events.get(sid, ()),
            deliveries=self.deliveries.get(sid, ()),
            recordings=recordings,
        )

    async def list_calls(
        self, filters: CallFilters, *, cursor: Cursor | None, limit: int
    ) -> CallPage:
        wanted = {
            "api_key_id": filters.api_key_id,
            "status": filters.status,
            "direction": filters.direction,
            "parent_sid": filters.parent_sid,
            "from_": filters.from_,
            "to": filters.to,
        }
        matches = [
            r
            for r in self.records.values()
            if all(v is None or getattr(r, k) == v for k, v in wanted.items())
        ]
        matches.sort(key=lambda r: (r.created_at, r.sid), reverse=True)
        if cursor is not None:
            matches = [
                r for r in matches if (r.created_at, r.sid) < (cursor.created_at, cursor.sid)
            ]
        page = tuple(matches[:limit])
        more = len(matches) > limit
        last = page[-1] if page else None
        next_cursor = Cursor(created_at=last.created_at, sid=last.sid) if more and last else None
        return CallPage(calls=page, next_cursor=next_cursor)

    async def hang_up(self, sid: str, *, api_key_id: str | None) -> CallRecord:
        self._live(sid, api_key_id)
        self.hung_up.append(sid)
        self.live.discard(sid)
        record = replace(self.records[sid], status="completed", hangup_by="local")
        return self.add(record)

    async def redirect(
        self, sid: str, url: str, method: str, *, api_key_id: str | None
    ) -> CallRecord:
        record = self._live(sid, api_key_id)
        self.redirected.append((sid, url, method))
        return record

    async def run_program(
        self, sid: str, program: Program, *, api_key_id: str | None
    ) -> CallRecord:
        record = self._live(sid, api_key_id)
        self.programs.append((sid, program))
        return record

    async def recording_path(self, recording_id: int, *, api_key_id: str | None) -> str:
        recording = self.recordings.get(recording_id)
        if recording is None:
            raise CallNotFound(f"recording {recording_id}")
        self._own(recording.call_sid, api_key_id)
        return recording.path

    def _own(self, sid: str, api_key_id: str | None) -> CallRecord:
        record = self.records.get(sid)
        if record is None or (api_key_id is not None and record.api_key_id != api_key_id):
            raise CallNotFound(sid)
        return record

    def _live(self, sid: str, api_key_id: str | None) -> CallRecord:
        record = self._own(sid, api_key_id)
        if sid not in self.live:
            raise CallNotLive(sid)
        return record
