"""The HTTP API: the FastAPI app over the call services, and the uvicorn server that serves
it (request heads within [http] header_timeout; the server's own signal handling)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from callbridge.api.app import create_http_app
from callbridge.api.head_deadline import with_head_deadline
from callbridge.calls.announcements.uploads import MediaLibrary
from callbridge.calls.callbacks_service import CallbridgeCallbacks
from callbridge.calls.originate.service import OriginateService
from callbridge.calls.presence import Presence
from callbridge.calls.queues import Queues
from callbridge.calls.service import CallbridgeCalls
from callbridge.calls.voicemail import Voicemail
from callbridge.config import CallbridgeConfig
from callbridge.dialects.originate_auth import OriginateClients
from callbridge.engine.engine import Engine
from callbridge.media.tts import Tts
from callbridge.store.idempotency import IdempotencyStore
from callbridge.store.key_cache import CachedApiKeys
from callbridge.store.repository import ApiKeyRepository
from callbridge.webhooks.twilio_signature import AuthTokens
from callbridge.wiring.api_keys import key_throttle
from callbridge.wiring.numbers import configured_lines
from callbridge.wiring.shutdown import ApiServer


def api_app(
    config: CallbridgeConfig,
    *,
    engine: Engine,
    calls: CallbridgeCalls,
    keys: ApiKeyRepository,
    callbacks: CallbridgeCallbacks,
    tts: Tts,
    idempotency: IdempotencyStore,
    metrics: CollectorRegistry,
    twilio_tokens: AuthTokens,
    queues: Queues,
    voicemails: Voicemail,
    announcements: MediaLibrary,
    presence: Presence,
    originate: tuple[OriginateService, OriginateClients],
) -> FastAPI:
    return create_http_app(
        engine=engine,
        calls=calls,
        api_keys=CachedApiKeys(keys=keys, ttl=config.http.api_key_cache_seconds),
        callbacks=callbacks,
        lines=configured_lines(config),
        voices=tts,
        idempotency=idempotency,
        throttle=key_throttle(config),
        body_timeout=config.http.body_timeout,
        metrics=metrics,
        metrics_public=config.http.metrics_public,
        twilio_tokens=twilio_tokens,
        queues=queues,
        voicemails=voicemails,
        announcements=announcements,
        presence=presence,
        originate=originate,
    )


def api_server(config: CallbridgeConfig, app: FastAPI) -> ApiServer:
    host, port = config.http.host_port
    protocol = with_head_deadline(config.http.header_timeout)
    return ApiServer(
        # uvicorn's lines go through the root logger's handler (callbridge.log_format),
        # in the configured format, with the request's X-Request-Id.
        uvicorn.Config(app, host=host, port=port, log_config=None, log_level=None, http=protocol)
    )
