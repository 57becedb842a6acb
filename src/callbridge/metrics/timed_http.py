"""Outgoing HTTP timed for ``/metrics``: the webhook dispatcher's sends and the call
service's document fetches go through these wrappers of the HTTP client, so neither
needs to know of metrics.  A send is a failure unless it got a 2xx; a fetch, when it
raises (no 2xx, too large, unreachable); a request the caller cancels (its timeout) is a
failure too."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from callbridge.httpclient.port import HttpRequests

# Seconds: from a fast local receiver to the 10 s default webhook timeout and beyond.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True, kw_only=True)
class RequestMetrics:
    attempts: Counter
    failures: Counter
    seconds: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry, *, name: str, what: str) -> RequestMetrics:
        return cls(
            attempts=Counter(f"{name}_attempts", f"{what} attempted", registry=registry),
            failures=Counter(f"{name}_failures", f"{what} that failed", registry=registry),
            seconds=Histogram(
                f"{name}_duration_seconds",
                f"how long {what} took",
                buckets=BUCKETS,
                registry=registry,
            ),
        )


class TimedWebhooks:
    """:class:`HttpRequests` whose ``send`` (a status callback) is counted and timed."""

    def __init__(self, *, inner: HttpRequests, metrics: RequestMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        timeout: float | None = None,
    ) -> int:
        metrics = self._metrics
        metrics.attempts.inc()
        started = time.perf_counter()
        ok = False
        try:
            status = await self._inner.send(
                method, url, headers=headers, body=body, timeout=timeout
            )
            ok = 200 <= status < 300
            return status
        finally:
            metrics.seconds.observe(time.perf_counter() - started)
            if not ok:
                metrics.failures.inc()

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
        return await self._inner.fetch(
            method,
            url,
            params=params,
            form=form,
            max_bytes=max_bytes,
            timeout=timeout,
            headers=headers,
        )


class TimedDocuments:
    """:class:`HttpRequests` whose ``fetch`` (a voice document) is counted and timed."""

    def __init__(self, *, inner: HttpRequests, metrics: RequestMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        timeout: float | None = None,
    ) -> int:
        return await self._inner.send(method, url, headers=headers, body=body, timeout=timeout)

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
        metrics = self._metrics
        metrics.attempts.inc()
        started = time.perf_counter()
        ok = False
        try:
            body = await self._inner.fetch(
                method,
                url,
                params=params,
                form=form,
                max_bytes=max_bytes,
                timeout=timeout,
                headers=headers,
            )
            ok = True
            return body
        finally:
            metrics.seconds.observe(time.perf_counter() - started)
            if not ok:
                metrics.failures.inc()


__all__ = ["BUCKETS", "RequestMetrics", "TimedDocuments", "TimedWebhooks"]
