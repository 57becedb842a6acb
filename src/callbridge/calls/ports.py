"""What the HTTP API needs from the call and callback services (ports, so the API tests use
fakes)."""

from __future__ import annotations

from typing import Protocol

from callbridge.callflow.verbs import Program
from callbridge.calls.callback_state import CallbackDetail, PlacedCallback
from callbridge.calls.request import CallbackRequest, OutboundCallRequest
from callbridge.store.records import CallDetail, CallFilters, CallPage, CallRecord, Cursor


class CallService(Protocol):
    async def place_call(self, request: OutboundCallRequest) -> CallRecord:
        """Accept the call (stored, ``initiated`` queued) and start dialling in the background.

        Raises :class:`~callbridge.calls.errors.CallLimitReached`."""
        ...

    async def get_call(self, sid: str, *, api_key_id: str | None) -> CallDetail:
        """Raises :class:`~callbridge.calls.errors.CallNotFound` (also for another key's call)."""
        ...

    async def list_calls(
        self, filters: CallFilters, *, cursor: Cursor | None, limit: int
    ) -> CallPage: ...

    async def hang_up(self, sid: str, *, api_key_id: str | None) -> CallRecord:
        """Raises ``CallNotFound`` or ``CallNotLive``."""
        ...

    async def redirect(
        self, sid: str, url: str, method: str, *, api_key_id: str | None
    ) -> CallRecord:
        """Run the document at ``url`` on the live call instead of its current program."""
        ...

    async def run_program(
        self, sid: str, program: Program, *, api_key_id: str | None
    ) -> CallRecord:
        """Run the inline document ``program`` on the live call instead of its current one
        (as :meth:`redirect`)."""
        ...

    async def recording_path(self, recording_id: int, *, api_key_id: str | None) -> str:
        """The WAV file of a recording; raises ``CallNotFound`` when unknown."""
        ...


class CallbackService(Protocol):
    async def place_callback(self, request: CallbackRequest) -> PlacedCallback:
        """Accept a two-leg callback (both legs stored) and start it in the background.

        Raises :class:`~callbridge.calls.errors.CallLimitReached`."""
        ...

    async def get_callback(self, callback_id: str, *, api_key_id: str | None) -> CallbackDetail:
        """Raises :class:`~callbridge.calls.errors.CallbackNotFound` (also for another key's)."""
        ...
