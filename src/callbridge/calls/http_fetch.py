"""Bounded HTTP fetching of customer URLs: one place for size caps, timeouts and the
error wording the call log shows."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from callbridge.callflow.errors import FetchError

ALLOWED_SCHEMES = ("http", "https")


def check_url(url: str) -> None:
    """Refuse what is not an absolute http(s) URL (``file:``, relative, ...)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"invalid URL {url!r}") from exc
    if parsed.scheme not in ALLOWED_SCHEMES or not parsed.host:
        raise FetchError(f"not an http(s) URL: {url!r}")


async def fetch_bounded(
    client: httpx.AsyncClient,
    url: str,
    *,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    max_bytes: int,
    timeout: float,
) -> bytes:
    """The body of ``url`` (GET: params in the query; POST: a form body).

    Raises :class:`FetchError` on a non-2xx answer, a transport error, a timeout, or a body
    above ``max_bytes`` (read no further than that)."""
    check_url(url)
    method = method.upper()
    query = dict(params or {}) if method == "GET" else None
    form = dict(params or {}) if method == "POST" else None
    try:
        async with client.stream(
            method, url, params=query, data=form, timeout=timeout, follow_redirects=True
        ) as response:
            if not response.is_success:
                raise FetchError(f"{method} {url} answered {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{url} is {declared} bytes, above the {max_bytes} byte limit")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"{url} exceeds the {max_bytes} byte limit")
            return bytes(body)
    except httpx.TimeoutException as exc:
        raise FetchError(f"{method} {url} timed out after {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{method} {url} failed: {exc!r}") from exc
