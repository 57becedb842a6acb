"""Bounded HTTP fetching of customer URLs: one place for the URL check, size caps,
timeouts and the error wording the call log shows."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode, urlsplit

from yarl import URL

from callbridge.callflow.errors import FetchError
from callbridge.httpclient.client import HttpFailure
from callbridge.httpclient.port import HttpRequests
from callbridge.webhooks.signing import SIGNATURE_HEADER, signature_header

ALLOWED_SCHEMES = ("http", "https")


def check_url(url: str) -> None:
    """Refuse what is not an absolute http(s) URL (``file:``, relative, ...)."""
    try:
        parsed = urlsplit(url)
        host, _port = parsed.hostname, parsed.port
    except (ValueError, TypeError, AttributeError) as exc:
        raise FetchError(f"invalid URL {url!r}") from exc
    if parsed.scheme.lower() not in ALLOWED_SCHEMES or not host:
        raise FetchError(f"not an http(s) URL: {url!r}")


async def fetch_bounded(
    client: HttpRequests,
    url: str,
    *,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    max_bytes: int,
    timeout: float,
    signing_secret: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """The body of ``url`` (GET: params in the query; POST: a form body), signed with
    ``signing_secret`` as status callbacks are (:mod:`callbridge.webhooks.signing`: the
    form body, or the query string, as sent).

    Raises :class:`FetchError` on a non-2xx answer, a transport error, a timeout, or a body
    above ``max_bytes`` (read no further than that)."""
    check_url(url)
    method = method.upper()
    query: Mapping[str, str] | None = params if method == "GET" else None
    sent: list[tuple[str, str]] = list(headers)
    if signing_secret:
        if method == "GET":
            signed_url = URL(url).extend_query(dict(params or {}))
            url, query = str(signed_url), None
            payload = signed_url.raw_query_string.encode()
        else:  # aiohttp encodes a form exactly so (urlencode of its pairs)
            payload = urlencode(list((params or {}).items())).encode()
        value = signature_header(secret=signing_secret, timestamp=int(time.time()), payload=payload)
        sent.append((SIGNATURE_HEADER, value))
    try:
        return await client.fetch(
            method,
            url,
            params=query,
            form=dict(params or {}) if method == "POST" else None,
            max_bytes=max_bytes,
            timeout=timeout,
            headers=sent,
        )
    except HttpFailure as exc:
        raise FetchError(str(exc)) from exc
