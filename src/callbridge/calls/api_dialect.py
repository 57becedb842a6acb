"""ApiDialect: how the API that placed a call words what the call sends back — its status
callbacks' parameters and the parameters of its document fetches.  Without one a call
speaks Callbridge's own (:func:`callbridge.webhooks.params.status_callback_params`); the
Twilio-compatible API gives its calls Twilio's
(:mod:`callbridge.dialects.twilio_callbacks`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from callbridge.store.records import CallRecord
from callbridge.webhooks.params import CallbackEvent, CallOutcome


class ApiDialect(Protocol):
    def callback_params(
        self,
        call: CallRecord,
        event: CallbackEvent,
        *,
        outcome: CallOutcome | None,
        at: datetime,
        sequence: int,
    ) -> dict[str, str]:
        """The parameters of ``event``'s status callback; ``sequence`` counts the
        callbacks the call sent before this one (from 0), ``at`` is when it happened."""
        ...

    def document_params(self, call: CallRecord) -> dict[str, str]:
        """The call's parameters on every fetch of its voice-application documents."""
        ...

    def document_headers(self, url: str, params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The headers of a document fetch of ``url`` (as sent) with the POST ``params``
        (a signature)."""
        ...
