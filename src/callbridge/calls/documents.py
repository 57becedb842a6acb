"""HttpDocumentFetcher: fetches a call's voice-application documents, adding the call's
standard parameters to every request."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from callbridge.calls.http_fetch import fetch_bounded
from callbridge.httpclient.port import HttpRequests

MAX_DOCUMENT_BYTES = 1_000_000  # matches the dialect's limit; more is refused unread


class HttpDocumentFetcher:
    """The call's parameters (``CallSid``, ``From``, ``To``, ``CallStatus``, ...) come from
    ``call_params`` at each fetch, so they are current; the runner's own parameters
    (``Digits``, ``DialCallStatus``, ...) are added on top."""

    def __init__(
        self,
        *,
        client: HttpRequests,
        call_params: Callable[[], Mapping[str, str]],
        timeout: float = 10.0,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        signing_secret: str | None = None,
    ) -> None:
        """``signing_secret``: the call's key's; every request carries its signature."""
        self._client = client
        self._call_params = call_params
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._signing_secret = signing_secret

    async def fetch(self, url: str, method: str, params: Mapping[str, str]) -> bytes:
        merged = {**self._call_params(), **params}
        return await fetch_bounded(
            self._client,
            url,
            method=method,
            params=merged,
            max_bytes=self._max_bytes,
            timeout=self._timeout,
            signing_secret=self._signing_secret,
        )
