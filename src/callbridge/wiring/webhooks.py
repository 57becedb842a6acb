"""The webhook outbox's dispatcher: status callbacks and notify posts, signed (Twilio's
signature; Basic auth for the notify URLs that carry it), timed in /metrics."""

from __future__ import annotations

from callbridge.calls.control.server_wiring import notify_signer
from callbridge.config import CallbridgeConfig
from callbridge.httpclient.port import HttpRequests
from callbridge.metrics.server import ServerMetrics
from callbridge.metrics.timed_http import TimedWebhooks
from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.webhooks.dispatcher import WebhookDispatcher
from callbridge.webhooks.twilio_signature import AuthTokens, TwilioWebhookSigner

WEBHOOK_FLUSH_MARGIN = 5.0  # a shutdown sends owed callbacks for webhook_timeout + this


def twilio_tokens(config: CallbridgeConfig) -> AuthTokens:
    """The configured keys' auth tokens now, the others' as they sign in."""
    tokens = AuthTokens()
    for configured in config.api_keys:
        tokens.learn(configured.name, configured.key)
    return tokens


def webhook_dispatcher(
    config: CallbridgeConfig,
    *,
    database: Database,
    http: HttpRequests,
    clock: Clock,
    metrics: ServerMetrics,
    tokens: AuthTokens,
) -> WebhookDispatcher:
    """Not started: :meth:`WebhookDispatcher.start` once the call services are built."""
    return WebhookDispatcher(
        database=database,
        client=TimedWebhooks(inner=http, metrics=metrics.webhooks),
        clock=clock,
        node_id=config.calls.node,
        request_timeout=config.calls.webhook_timeout,
        sign=notify_signer(
            (n.notify_url for n in config.numbers), TwilioWebhookSigner(tokens=tokens)
        ),
    )


def flush_seconds(config: CallbridgeConfig) -> float:
    """How long a shutdown waits for the owed callbacks to be sent."""
    return config.calls.webhook_timeout + WEBHOOK_FLUSH_MARGIN
