"""Bounded HTTP fetching of customer URLs: one place for the URL check, size caps,
timeouts and the error wording the call log shows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from callbridge.callflow.errors import FetchError
from callbridge.httpclient.client import HttpFailure
from callbridge.httpclient.port import HttpRequests

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
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """The body of ``url`` (GET: params in the query; POST: a form body).

    Raises :class:`FetchError` on a non-2xx answer, a transport error, a timeout, or a body
    above ``max_bytes`` (read no further than that)."""
    check_url(url)
    method = method.upper()
    try:
        return await client.fetch(
            method,
            url,
            params=params if method == "GET" else None,
            form=dict(params or {}) if method == "POST" else None,
            max_bytes=max_bytes,
            timeout=timeout,
            headers=headers,
        )
    except HttpFailure as exc:
        raise FetchError(str(exc)) from exc
