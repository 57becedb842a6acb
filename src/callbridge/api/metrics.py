"""``GET /metrics``: the server's numbers in Prometheus' text format, from the registry
the composition root builds (:mod:`callbridge.metrics`).

It needs an API key with the ``metrics`` scope (the ``apikey`` header, or
``Authorization: Bearer``, which Prometheus' ``authorization`` setting sends), unless
``[http] metrics_public`` serves it to anyone.  It is not in ``/openapi.json``: it is
for scrapers, not for the call API's clients."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from callbridge.api.auth import API_KEY, ApiKeyFinder, Authenticator, KeySources
from callbridge.api.key_throttle import FailedKeyThrottle

METRICS_SCOPE = "metrics"
METRICS_KEYS = KeySources(
    headers=(API_KEY,),
    bearer=True,
    fields=(),
    hint=f"send an API key with the {METRICS_SCOPE!r} scope in the {API_KEY} header "
    "or as Authorization: Bearer",
)


def metrics_router(
    *,
    registry: CollectorRegistry,
    keys: ApiKeyFinder,
    throttle: FailedKeyThrottle,
    public: bool,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    auth = Authenticator(keys=keys, sources=METRICS_KEYS, throttle=throttle)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        if not public:
            await auth.authenticate(request, scope=METRICS_SCOPE)
        # Collected here, on the event loop: the collectors read the engine's state.
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


__all__ = ["METRICS_KEYS", "METRICS_SCOPE", "metrics_router"]
