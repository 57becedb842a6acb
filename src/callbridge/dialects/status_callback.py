"""The status-callback fields of the call APIs, one rule for both: the outbound call API's
form fields (seed-001: ``statusCallback``, ``statusCallbackEvent``, ...) and each leg's
members in the callback API's JSON (seed-000: ``status_callback``, ...).

Each dialect reads its own encoding through a :class:`CallbackFieldReader` and names its
fields (:class:`CallbackFieldNames`); the events it parses itself (a repeated form field,
or a JSON string or list).  An option given without the URL has no effect (the events
would go nowhere): the request is accepted with a warning that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from callbridge.calls.request import StatusCallback
from callbridge.dialects.fields import check_http_url, check_length, check_method
from callbridge.webhooks.params import DEFAULT_EVENTS, CallbackEvent

MAX_SECRET_KEY = 200
MAX_OPTIONAL = 1024

T = TypeVar("T")


class CallbackFieldReader(Protocol):
    def checked(self, name: str, check: Callable[[str], T], /) -> T | None: ...

    def given(self, name: str, /) -> bool: ...

    def fail(self, name: str, message: str, /) -> None: ...

    def warn(self, name: str, message: str, /) -> None: ...


@dataclass(frozen=True, kw_only=True)
class CallbackFieldNames:
    url: str
    events: str
    method: str
    secret_key: str
    optional: str


def read_status_callback(
    reader: CallbackFieldReader,
    names: CallbackFieldNames,
    *,
    events: tuple[CallbackEvent, ...] | None,
    events_given: bool,
) -> StatusCallback | None:
    """The request's status callback, or ``None`` without a URL (refusals and warnings go
    to ``reader``)."""
    url = reader.checked(names.url, check_http_url)
    method = reader.checked(names.method, check_method) or "POST"
    secret_key = reader.checked(names.secret_key, check_length(MAX_SECRET_KEY))
    optional = reader.checked(names.optional, check_length(MAX_OPTIONAL))
    if not reader.given(names.url):
        options = {
            names.events: events_given,
            names.method: reader.given(names.method),
            names.secret_key: reader.given(names.secret_key),
            names.optional: reader.given(names.optional),
        }
        for name in (name for name, given in options.items() if given):
            reader.warn(name, f"had no effect: it needs {names.url}, the URL events are sent to")
    if url is None:
        return None
    return StatusCallback(
        url=url,
        method=method,
        events=events or DEFAULT_EVENTS,
        secret_key=secret_key,
        optional=optional,
    )
