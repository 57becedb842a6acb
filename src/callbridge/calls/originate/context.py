"""type=context: the customer is dialled and, on answer, runs the context's call flow.

The flow is the context's ``voice_url`` (fetched as any voice application is, with the
request's ``vars`` added to its query string, so they reach it as request fields) or its
``voice_xml`` with each ``{{NAME}}`` replaced by ``vars[NAME]`` (XML-escaped; an unknown
name by nothing).  The call is an ordinary call of the call service (no API key): it is
stored (with its ``external_id``), listed and shown like the others, under the API key of
the ``[[originate_users]]`` entry (``api_key``; none: no key's), with its
``status_callback``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from callbridge.callflow.verbs import Program
from callbridge.calls.request import OutboundCallRequest, StatusCallback
from callbridge.store.records import CallDetail, CallRecord

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]{1,64})\s*\}\}")


@dataclass(frozen=True, kw_only=True)
class ContextFlow:
    voice_url: str | None = None
    voice_xml: str | None = None


class ContextCalls(Protocol):
    """The call service as contexts use it."""

    async def place_call(self, request: OutboundCallRequest) -> CallRecord: ...

    async def get_call(self, sid: str, *, api_key_id: str | None) -> CallDetail:
        """``api_key_id`` None: any call."""
        ...


Translate = Callable[[bytes, str], Program]


def filled_xml(document: str, variables: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: escape(variables.get(m.group(1), "")), document)


def url_with_vars(url: str, variables: Mapping[str, str]) -> str:
    if not variables:
        return url
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(sorted(variables.items()))) if q)
    return urlunsplit(parts._replace(query=query))


def context_call(
    flow: ContextFlow,
    *,
    customer: str,
    shown_number: str | None,
    variables: Mapping[str, str],
    translate: Translate,
    base_url: str,
    ring_timeout: float,
    api_key_id: str | None,
    external_id: str,
    status_callback: StatusCallback | None = None,
) -> OutboundCallRequest:
    """The outbound call that runs ``flow`` on the answered customer."""
    program = None
    url = None
    if flow.voice_url is not None:
        url = url_with_vars(flow.voice_url, variables)
    else:
        program = translate(filled_xml(flow.voice_xml or "", variables).encode(), base_url)
    return OutboundCallRequest(
        api_key_id=api_key_id,
        external_id=external_id,
        to=customer,
        from_=shown_number or "anonymous",
        url=url,
        program=program,
        ring_timeout=ring_timeout,
        status_callback=status_callback,
    )
