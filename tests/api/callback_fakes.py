"""An in-memory CallbackService for the API tests: it keeps what it is asked and answers
from callbacks the test adds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from api_fakes import T0, call_record

from callbridge.calls.callback_state import CallbackDetail, PlacedCallback
from callbridge.calls.errors import CallbackNotFound, CallLimitReached, ServerOverloaded
from callbridge.calls.request import CallbackRequest
from callbridge.store.records import CallDetail, CallRecord


def detail_of(call: CallRecord) -> CallDetail:
    return CallDetail(call=call, events=(), deliveries=(), recordings=())


@dataclass
class FakeCallbacks:
    """Implements ``CallbackService``; ``refuse`` makes ``place_callback`` raise it."""

    placed: list[CallbackRequest] = field(default_factory=list)
    details: dict[str, tuple[str | None, CallbackDetail]] = field(default_factory=dict)
    refuse: CallLimitReached | ServerOverloaded | None = None

    async def place_callback(self, request: CallbackRequest) -> PlacedCallback:
        if self.refuse is not None:
            raise self.refuse
        self.placed.append(request)
        n = len(self.placed)
        created = T0 + timedelta(seconds=n)
        leg_a = call_record(
            f"CA{n:031d}a",
            api_key_id=request.api_key_id,
            to=request.leg_a.to,
            from_=request.leg_a.from_,
            created_at=created,
        )
        leg_b = call_record(
            f"CA{n:031d}b",
            api_key_id=request.api_key_id,
            parent_sid=leg_a.sid,
            to=request.leg_b.to,
            from_=request.leg_b.from_,
            created_at=created,
        )
        return PlacedCallback(
            id=leg_a.sid, mode=request.mode, first=request.first, leg_a=leg_a, leg_b=leg_b
        )

    def add(self, detail: CallbackDetail, *, api_key_id: str | None) -> None:
        self.details[detail.id] = (api_key_id, detail)

    async def get_callback(self, callback_id: str, *, api_key_id: str | None) -> CallbackDetail:
        owner, detail = self.details.get(callback_id, (None, None))
        if detail is None or (api_key_id is not None and owner != api_key_id):
            raise CallbackNotFound(callback_id)
        return detail
