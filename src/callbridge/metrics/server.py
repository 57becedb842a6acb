"""The server's collector: reads, at each scrape, what the engine, the registrar, the SIP
transaction layer, the live-call registry, the loop-lag sampler and the HTTP worker
already keep; nothing is counted on their hot paths for it.

Each server builds its own :class:`~prometheus_client.CollectorRegistry`
(:func:`server_metrics`), never the process-wide default one, so tests and several
servers in one process do not clash."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sized
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from callbridge.metrics.timed_http import RequestMetrics

OUTCOMES = ("completed", "busy", "no-answer", "failed", "canceled")


class SipCountsReading(Protocol):
    @property
    def requests(self) -> Counter[str]: ...

    @property
    def responses(self) -> Counter[int]: ...


class Registrations(Protocol):
    def bound_contacts(self) -> int: ...


class EngineReading(Protocol):
    """What is read of the engine (``callbridge.engine.engine.Engine`` is one)."""

    @property
    def legs(self) -> Sized: ...

    @property
    def registrar(self) -> Registrations: ...

    @property
    def sip_counts(self) -> SipCountsReading: ...


class LagReading(Protocol):
    @property
    def lag(self) -> float: ...


class WorkerRestarts(Protocol):
    @property
    def restarts(self) -> int: ...


@dataclass(frozen=True, kw_only=True)
class ServerState:
    engine: EngineReading
    live_calls: Sized
    calls_ended: Mapping[str, int]
    lag: LagReading
    http_worker: WorkerRestarts | None = None


class ServerCollector(Collector):
    def __init__(self, state: ServerState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state
        yield GaugeMetricFamily(
            "callbridge_calls_live", "calls the API lists as live", value=len(state.live_calls)
        )
        yield GaugeMetricFamily(
            "callbridge_legs_live", "SIP call legs held by the engine", value=len(state.engine.legs)
        )
        ended = CounterMetricFamily(
            "callbridge_calls_ended", "calls ended, by outcome", labels=["outcome"]
        )
        for outcome in (*OUTCOMES, *sorted(set(state.calls_ended) - set(OUTCOMES))):
            ended.add_metric([outcome], state.calls_ended.get(outcome, 0))
        yield ended
        counts = state.engine.sip_counts
        requests = CounterMetricFamily(
            "callbridge_sip_requests_received",
            "SIP requests received, by method (retransmissions included)",
            labels=["method"],
        )
        for method, count in sorted(counts.requests.items()):
            requests.add_metric([method], count)
        yield requests
        responses = CounterMetricFamily(
            "callbridge_sip_responses_sent",
            "SIP responses sent, by status code (not their retransmissions)",
            labels=["code"],
        )
        for code, count in sorted(counts.responses.items()):
            responses.add_metric([str(code)], count)
        yield responses
        yield GaugeMetricFamily(
            "callbridge_sip_registrations",
            "contacts registered now",
            value=state.engine.registrar.bound_contacts(),
        )
        yield GaugeMetricFamily(
            "callbridge_event_loop_lag_seconds",
            "how late the event loop runs (worst of the last half second)",
            value=state.lag.lag,
        )
        restarts = state.http_worker.restarts if state.http_worker is not None else 0
        yield CounterMetricFamily(
            "callbridge_http_worker_restarts",
            "HTTP worker processes that exited while the server ran",
            value=restarts,
        )


@dataclass(frozen=True, kw_only=True)
class ServerMetrics:
    registry: CollectorRegistry
    webhooks: RequestMetrics
    documents: RequestMetrics

    def watch(self, state: ServerState) -> None:
        """Report ``state`` too (once the server's parts are built)."""
        self.registry.register(ServerCollector(state))


def server_metrics() -> ServerMetrics:
    """A registry of its own, with the webhook and document request metrics (for
    :mod:`callbridge.metrics.timed_http`); :meth:`ServerMetrics.watch` adds the rest."""
    registry = CollectorRegistry()
    return ServerMetrics(
        registry=registry,
        webhooks=RequestMetrics.register(
            registry, name="callbridge_webhook", what="status callback deliveries"
        ),
        documents=RequestMetrics.register(
            registry, name="callbridge_document_fetch", what="voice document fetches"
        ),
    )


__all__ = ["OUTCOMES", "ServerCollector", "ServerMetrics", "ServerState", "server_metrics"]
