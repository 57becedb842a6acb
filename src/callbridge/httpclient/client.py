"""HttpClient: the server's outgoing HTTP requests, on one pooled aiohttp session.

aiohttp rather than httpx: measured on this machine against a local keep-alive server,
a small form POST cost 0.57 to 0.78 ms of CPU through ``httpx.AsyncClient`` (anyio streams
and httpcore's pool bookkeeping) and 0.12 to 0.19 ms through ``aiohttp.ClientSession``.  A
call placed through the API makes five such requests (its document and four status
callbacks), so the client was the largest cost per call once the database's was cut.

Every connection is checked against an :class:`AddressPolicy` (:mod:`.guarded_connector`).
The URLs are customers', and so are the errors' messages (they reach a call's events and its
webhooks' ``lastError``): a request that got no answer says only that, the same for a
refused connection, a silent port, a DNS or TLS failure, so the messages cannot map a
network; the reason is logged here.  A refused address says which rule refused it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import TracebackType

import aiohttp
from yarl import URL

from callbridge.httpclient.address_policy import AddressPolicy
from callbridge.httpclient.guarded_connector import guarded_connector, refusal_of

log = logging.getLogger(__name__)

READ_CHUNK = 65536
NO_ANSWER = "no answer (refused, unreachable or timed out; the server's log has the reason)"


def wire_url(url: str) -> str:
    """``url`` as :meth:`HttpClient.fetch` puts it on the wire (yarl's normalised
    percent-encoding): what a signature of a fetched URL must cover."""
    return str(URL(url))


class HttpFailure(Exception):
    """A request got no usable answer: a transport error, or (``fetch``) a non-2xx status."""


class HttpTimeout(HttpFailure):
    """The request did not finish in time."""


class BodyTooLarge(HttpFailure):
    """The answer's body is above the caller's limit (it was not read further)."""


class AddressBlocked(HttpFailure):
    """The URL's address is refused by the address policy: nothing was sent to it."""


def blocked_message(rule: str) -> str:
    return (
        f"blocked by [http_client] deny_networks {rule}; "
        "to allow it, add its network to [http_client] allow_networks"
    )


class HttpClient:
    """One connection pool for every outgoing request; use it as an async context manager
    (or call :meth:`close`).  The session is made on first use, inside the event loop.

    ``policy`` says which addresses may be connected to."""

    def __init__(
        self, *, policy: AddressPolicy, timeout: float = 10.0, connections: int = 200
    ) -> None:
        self._policy = policy
        self._timeout = timeout
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _pool(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=guarded_connector(policy=self._policy, limit=self._connections),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        timeout: float | None = None,
    ) -> int:
        """Send the request as given (redirects are not followed); the answer's status.

        Its body is read and dropped, so the connection goes back to the pool.  ``url`` is
        sent exactly as given: it must be percent-encoded already (a signature covers it)."""
        try:
            async with self._pool().request(
                method,
                URL(url, encoded=True),
                headers=list(headers),
                data=body or None,
                allow_redirects=False,
                timeout=self._limit(timeout),
            ) as response:
                await response.read()
                return response.status
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise self._failure(method, url, exc) from exc

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
        ``max_bytes``; ``headers`` are added to the request."""
        try:
            async with self._pool().request(
                method,
                url,
                params=dict(params) if params else None,
                data=dict(form) if form is not None else None,
                headers=list(headers) or None,
                timeout=self._limit(timeout),
            ) as response:
                if not 200 <= response.status < 300:
                    raise HttpFailure(f"answered {response.status}")
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    raise BodyTooLarge(f"{declared} bytes, above the {max_bytes} byte limit")
                body = bytearray()
                async for chunk in response.content.iter_chunked(READ_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise BodyTooLarge(f"more than the {max_bytes} byte limit")
                return bytes(body)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise self._failure(method, url, exc) from exc

    def _failure(self, method: str, url: str, exc: BaseException) -> HttpFailure:
        """What the caller (and the customer) is told: the rule that refused the address,
        else only that there was no answer; the reason is logged."""
        refused = refusal_of(exc)
        if refused is not None:
            log.warning("%s %s: %s", method, url, refused)
            return AddressBlocked(blocked_message(refused.rule.describe()))
        if isinstance(exc, aiohttp.InvalidURL):
            return HttpFailure(f"invalid URL: {exc}")
        log.info("%s %s: no answer: %s: %s", method, url, type(exc).__name__, exc)
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            return HttpTimeout(NO_ANSWER)
        return HttpFailure(NO_ANSWER)

    def _limit(self, timeout: float | None) -> aiohttp.ClientTimeout:
        """The request's own limit, else the client's (always explicit: aiohttp reads
        ``timeout=None`` as no limit at all)."""
        return aiohttp.ClientTimeout(total=self._timeout if timeout is None else timeout)
