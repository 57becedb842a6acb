"""HttpDocumentFetcher: fetches a call's voice-application documents, adding the call's
standard parameters to every request."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from callbridge.calls.http_fetch import fetch_bounded
from callbridge.httpclient.client import wire_url
from callbridge.httpclient.port import HttpRequests
from callbridge.webhooks.request import append_query, encode_params, sendable_url

# The headers that sign a request to the URL (as sent) with the POST parameters.
Signer = Callable[[str, Mapping[str, str]], tuple[tuple[str, str], ...]]

MAX_DOCUMENT_BYTES = 1_000_000  # matches the dialect's limit; more is refused unread


class HttpDocumentFetcher:
    """The call's parameters (``CallSid``, ``From``, ``To``, ``CallStatus``, ...) come from
    ``call_params`` at each fetch, so they are current; the runner's own parameters
    (``Digits``, ``DialCallStatus``, ...) are added on top.  With ``sign`` each request
    carries the headers it makes (a GET's query is then built here, so the signature covers
    the very URL sent)."""

    def __init__(
        self,
        *,
        client: HttpRequests,
        call_params: Callable[[], Mapping[str, str]],
        timeout: float = 10.0,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        signing_secret: str | None = None,
        sign: Signer | None = None,
    ) -> None:
        """``signing_secret``: the call's key's; every request carries its signature
        (``X-Callbridge-Signature``), unless ``sign`` (a dialect's own, e.g. Twilio's) is given."""
        self._client = client
        self._sign = sign
        self._call_params = call_params
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._signing_secret = signing_secret

    async def fetch(self, url: str, method: str, params: Mapping[str, str]) -> bytes:
        merged = {**self._call_params(), **params}
        headers: tuple[tuple[str, str], ...] = ()
        if self._sign is not None:
            if method.upper() == "GET":
                url, merged = append_query(sendable_url(url), encode_params(merged)), {}
            headers = self._sign(wire_url(url), merged)
        return await fetch_bounded(
            self._client,
            url,
            method=method,
            params=merged,
            max_bytes=self._max_bytes,
            timeout=self._timeout,
            signing_secret=None if self._sign is not None else self._signing_secret,
            headers=headers,
        )
