"""Notify: seed-004's ``IncomingCall``, ``CallAccepted`` and ``HungUp`` posts.

Each post is an event of the call written with its outbox row in one transaction (the
durable, ordered, signed outbox of the status callbacks: the call's posts go out in the
order written, after or between its status callbacks).  The row holds the URL without
credentials; :class:`NotifyAuthorization` adds the ``Authorization`` header as it is sent.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Protocol

from callbridge.calls.control.credentials import AuthorizedUrl
from callbridge.store.call_ids import call_id_of  # the same in every post of a call
from callbridge.store.clock import Clock
from callbridge.store.records import Callback, DeliveryRecord, NewEvent, RecordedEvent
from callbridge.webhooks.request import WebhookRequest

RequestSigner = Callable[[DeliveryRecord, WebhookRequest], WebhookRequest]
NOTIFY_EVENT = "notify"


class NotifyEvent(enum.StrEnum):
    INCOMING_CALL = "IncomingCall"
    CALL_ACCEPTED = "CallAccepted"
    HUNG_UP = "HungUp"


class HangupType(enum.StrEnum):
    ACCEPTED = "accepted"
    MISSED = "missed"
    VOICEMAIL = "voicemail"
    BLOCKED = "blocked"


class EventStore(Protocol):
    """The call repository's write of an event with its outbox row."""

    async def record_event_with_delivery(
        self,
        call_sid: str,
        event: NewEvent,
        params: Mapping[str, str],
        callback: Callback | None,
        *,
        sequence_param: str | None = None,
    ) -> RecordedEvent: ...


class Notifier:
    """The posts of one call: ``to`` the number, ``from`` the caller (or ``anonymous``)."""

    def __init__(
        self,
        *,
        store: EventStore,
        clock: Clock,
        call_sid: str,
        url: AuthorizedUrl | None,
        from_: str,
        to: str,
    ) -> None:
        self._store = store
        self._clock = clock
        self._sid = call_sid
        self._url = url
        self._base = {"from": from_, "to": to, "call_id": call_id_of(call_sid)}

    @property
    def call_sid(self) -> str:
        return self._sid

    @property
    def form(self) -> dict[str, str]:
        """The ``IncomingCall`` form (the control request posts the same)."""
        return {"event": NotifyEvent.INCOMING_CALL.value, **self._base}

    async def incoming_call(self) -> None:
        await self._post(self.form)

    async def call_accepted(self, peer: str) -> None:
        await self._post({"event": NotifyEvent.CALL_ACCEPTED.value, **self._base, "peer": peer})

    async def hung_up(self, kind: HangupType, duration: int) -> None:
        form = {
            "event": NotifyEvent.HUNG_UP.value,
            **self._base,
            "type": kind.value,
            "duration": str(duration),
        }
        await self._post(form)

    async def _post(self, form: dict[str, str]) -> None:
        if self._url is None:
            return
        data = {"event": form["event"], "url": self._url.url}
        event = NewEvent(name=NOTIFY_EVENT, at=self._clock.now(), data=data)
        await self._store.record_event_with_delivery(
            self._sid, event, form, Callback(url=self._url.url, method="POST")
        )


class NotifyAuthorization:
    """A dispatcher signer: a delivery to a configured notify URL gets its Basic
    ``Authorization`` header (the credentials are only in the configuration)."""

    def __init__(
        self, urls: tuple[AuthorizedUrl, ...], *, then: RequestSigner | None = None
    ) -> None:
        """``then``: the dispatcher's other signer, applied first (Twilio's)."""
        self._headers = {url.url: url.headers for url in urls if url.headers}
        self._then = then

    def __call__(self, delivery: DeliveryRecord, request: WebhookRequest) -> WebhookRequest:
        if self._then is not None:
            request = self._then(delivery, request)
        headers = self._headers.get(delivery.url)
        if not headers:
            return request
        return WebhookRequest(
            method=request.method,
            url=request.url,
            headers=(*request.headers, *headers),
            body=request.body,
        )
