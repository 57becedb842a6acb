"""HttpRequests: the port through which the server makes its outgoing HTTP requests.

Implemented in this process by :class:`~callbridge.httpclient.client.HttpClient`, and in
a child process by :class:`~callbridge.httpclient.process.ProcessHttpClient`.  Both raise
:class:`~callbridge.httpclient.client.HttpFailure` (or its subclasses) for a request that
got no usable answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol


class HttpRequests(Protocol):
    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        timeout: float | None = None,
    ) -> int:
        """Send the request as given (redirects are not followed); the answer's status."""
        ...

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        max_bytes: int,
        timeout: float | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> bytes:
        """The body of a 2xx answer (redirects followed), read no further than
        ``max_bytes``; ``headers`` are sent with the request."""
        ...
