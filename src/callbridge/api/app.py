"""The HTTP face of Callbridge (FastAPI): ``/health``, the outbound call API, the two-leg
callback API, Bitrix24's REST methods for callbacks under ``/rest/`` and the
Twilio-compatible Calls API under ``/2010-04-01/``."""

from __future__ import annotations

from collections.abc import Sequence, Sized
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from callbridge.api.announcements import Announcements, announcements_router
from callbridge.api.auth import ApiKeyFinder, Authenticator
from callbridge.api.bitrix import BITRIX_KEYS, NoVoices, VoiceCatalog, bitrix_router
from callbridge.api.bitrix_errors import REST_PREFIX, bitrix_error_of
from callbridge.api.body import MAX_BODY_BYTES
from callbridge.api.body_deadline import BodyDeadline
from callbridge.api.callback import callback_router
from callbridge.api.calls import calls_router
from callbridge.api.errors import install_error_handlers
from callbridge.api.idempotency import IdempotencyClaims
from callbridge.api.key_throttle import FailedKeyThrottle
from callbridge.api.keys import keys_router
from callbridge.api.metrics import metrics_router
from callbridge.api.openapi import install_docs
from callbridge.api.originate import Originator, originate_router
from callbridge.api.queues import QueueDirectory, queues_router
from callbridge.api.request_id import RequestId
from callbridge.api.twilio.auth import TwilioAuthenticator
from callbridge.api.twilio.errors import twilio_error_of
from callbridge.api.twilio.routes import twilio_router
from callbridge.api.ui import ui_router
from callbridge.api.users import UserDirectory, users_router
from callbridge.api.voicemails import VoicemailService, voicemails_router
from callbridge.calls.lines import Line
from callbridge.calls.ports import CallbackService, CallService
from callbridge.dialects.originate_auth import OriginateClients
from callbridge.dialects.twilio_resource import API_ROOT as TWILIO_ROOT
from callbridge.webhooks.twilio_signature import AuthTokens

DRAINING = "shutting down: new calls get 503 until the live ones have ended"


class LiveLegs(Protocol):
    """What ``/health`` reports (the engine is one)."""

    @property
    def legs(self) -> Sized: ...

    def refusal(self) -> str | None:
        """Why every new call would be refused now (e.g. a full transaction table), or None."""
        ...

    @property
    def drain_retry_after(self) -> float | None:
        """While the server shuts down (it takes no new calls): their Retry-After."""
        ...


def create_http_app(
    *,
    engine: LiveLegs,
    calls: CallService,
    api_keys: ApiKeyFinder,
    callbacks: CallbackService | None = None,
    lines: Sequence[Line] = (),
    voices: VoiceCatalog | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    idempotency: IdempotencyClaims | None = None,
    throttle: FailedKeyThrottle | None = None,
    body_timeout: float = 10.0,
    metrics: CollectorRegistry | None = None,
    metrics_public: bool = False,
    twilio_tokens: AuthTokens | None = None,
    queues: QueueDirectory | None = None,
    voicemails: VoicemailService | None = None,
    announcements: Announcements | None = None,
    presence: UserDirectory | None = None,
    originate: tuple[Originator, OriginateClients] | None = None,
) -> FastAPI:
    """``api_keys`` is the ``ApiKeyRepository``; ``calls`` the call service; ``callbacks``
    the callback service (without it ``/voice/call/callback`` and
    ``/rest/voximplant.callback.start`` are not served); ``lines`` the configured lines and
    ``voices`` the text-to-speech engine (``callbridge.media.tts.Tts``); ``idempotency``
    keeps the replies of requests with an ``Idempotency-Key`` (without it the header is
    not honoured); ``throttle`` makes the source addresses of wrong keys wait (every API
    shares it); a request's body must arrive within ``body_timeout`` seconds
    (:mod:`callbridge.api.body_deadline`); ``metrics`` is served at ``/metrics``, to keys
    with the ``metrics`` scope unless ``metrics_public`` (:mod:`callbridge.api.metrics`).
    Every request has an ``X-Request-Id`` (:mod:`callbridge.api.request_id`).
    ``twilio_tokens`` learns the auth token of each key that authenticates to the
    Twilio-compatible API (its webhooks are signed with it).  ``announcements`` is the media
    library (``/api/v2/announcements``; not served without it)."""
    app = FastAPI(title="Callbridge", version="0.1.0", docs_url=None, redoc_url=None)
    app.add_middleware(BodyDeadline, timeout=body_timeout)
    app.add_middleware(RequestId)  # the outermost: set before anything logs
    install_docs(app)
    install_error_handlers(
        app, renderers=((REST_PREFIX, bitrix_error_of), (TWILIO_ROOT, twilio_error_of))
    )

    @app.get("/health", response_model=None)
    async def health() -> dict[str, Any] | JSONResponse:
        retry_after = engine.drain_retry_after
        if retry_after is not None:  # shutting down: a load balancer must move on
            body = {"status": "draining", "reason": DRAINING, "legs": len(engine.legs)}
            headers = {"Retry-After": str(max(1, round(retry_after)))}
            return JSONResponse(body, status_code=503, headers=headers)
        refusal = engine.refusal()
        if refusal is not None:  # a load balancer must stop sending calls here
            body = {"status": "refusing", "reason": refusal, "legs": len(engine.legs)}
            return JSONResponse(body, status_code=503)
        return {"status": "ok", "legs": len(engine.legs)}

    throttle = FailedKeyThrottle() if throttle is None else throttle
    authenticator = Authenticator(keys=api_keys, throttle=throttle)
    app.include_router(ui_router())
    app.include_router(
        calls_router(
            calls=calls,
            auth=authenticator,
            max_body_bytes=max_body_bytes,
            idempotency=idempotency,
        )
    )
    app.include_router(keys_router(auth=authenticator))
    if queues is not None:  # GET /api/v2/queues, /api/v2/queues/{id}
        app.include_router(queues_router(queues=queues, auth=authenticator))
    if voicemails is not None:
        app.include_router(voicemails_router(voicemails=voicemails, auth=authenticator))
    if announcements is not None:
        app.include_router(announcements_router(announcements=announcements, auth=authenticator))
    if presence is not None:  # GET /api/v2/users
        app.include_router(users_router(presence=presence, auth=authenticator))
    if originate is not None:  # seed-002's /api/originate-call
        originator, clients = originate
        app.include_router(
            originate_router(originator=originator, clients=clients, max_body_bytes=max_body_bytes)
        )
    if metrics is not None:
        app.include_router(
            metrics_router(
                registry=metrics, keys=api_keys, throttle=throttle, public=metrics_public
            )
        )
    app.include_router(
        twilio_router(
            calls=calls,
            auth=TwilioAuthenticator(
                keys=api_keys,
                throttle=throttle,
                tokens=AuthTokens() if twilio_tokens is None else twilio_tokens,
            ),
            max_body_bytes=max_body_bytes,
            idempotency=idempotency,
        )
    )
    if callbacks is not None:
        app.include_router(
            callback_router(
                callbacks=callbacks,
                auth=authenticator,
                max_body_bytes=max_body_bytes,
                idempotency=idempotency,
            )
        )
    app.include_router(
        bitrix_router(
            keys=Authenticator(keys=api_keys, sources=BITRIX_KEYS, throttle=throttle),
            lines=tuple(lines),
            voices=voices or NoVoices(),
            callbacks=callbacks,
            max_body_bytes=max_body_bytes,
        )
    )
    return app
