"""HttpClient: the server's outgoing HTTP requests, on one pooled aiohttp session.

aiohttp rather than httpx: measured on this machine against a local keep-alive server,
a small form POST cost 0.57 to 0.78 ms of CPU through ``httpx.AsyncClient`` (anyio streams
and httpcore's pool bookkeeping) and 0.12 to 0.19 ms through ``aiohttp.ClientSession``.  A
call placed through the API makes five such requests (its document and four status
callbacks), so the client was the largest cost per call once the database's was cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType

import aiohttp

READ_CHUNK = 65536


class HttpFailure(Exception):
    """A request got no usable answer: a transport error, or (``fetch``) a non-2xx status."""


class HttpTimeout(HttpFailure):
    """The request did not finish in time."""


class BodyTooLarge(HttpFailure):
    """The answer's body is above the caller's limit (it was not read further)."""


class HttpClient:
    """One connection pool for every outgoing request; use it as an async context manager
    (or call :meth:`close`).  The session is made on first use, inside the event loop."""

    def __init__(self, *, timeout: float = 10.0, connections: int = 200) -> None:
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
                connector=aiohttp.TCPConnector(limit=self._connections),
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

        Its body is read and dropped, so the connection goes back to the pool."""
        try:
            async with self._pool().request(
                method,
                url,
                headers=list(headers),
                data=body or None,
                allow_redirects=False,
                timeout=self._limit(timeout),
            ) as response:
                await response.read()
                return response.status
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise HttpTimeout(f"{method} {url} timed out") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise HttpFailure(f"{type(exc).__name__}: {exc}") from exc

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        max_bytes: int,
        timeout: float | None = None,
    ) -> bytes:
        """The body of a 2xx answer (redirects followed), read no further than
        ``max_bytes``."""
        try:
            async with self._pool().request(
                method,
                url,
                params=dict(params) if params else None,
                data=dict(form) if form is not None else None,
                timeout=self._limit(timeout),
            ) as response:
                if not 200 <= response.status < 300:
                    raise HttpFailure(f"{method} {url} answered {response.status}")
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    raise BodyTooLarge(
                        f"{url} is {declared} bytes, above the {max_bytes} byte limit"
                    )
                body = bytearray()
                async for chunk in response.content.iter_chunked(READ_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise BodyTooLarge(f"{url} exceeds the {max_bytes} byte limit")
                return bytes(body)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise HttpTimeout(
                f"{method} {url} timed out after {timeout or self._timeout:g} s"
            ) from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise HttpFailure(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc

    def _limit(self, timeout: float | None) -> aiohttp.ClientTimeout:
        """The request's own limit, else the client's (always explicit: aiohttp reads
        ``timeout=None`` as no limit at all)."""
        return aiohttp.ClientTimeout(total=self._timeout if timeout is None else timeout)
