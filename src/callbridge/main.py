"""The server's entry (``callbridge serve``, ``db upgrade``, ``keys list`` call it): the
composition root's names, built in :mod:`callbridge.wiring` (one module per feature)."""

from __future__ import annotations

from callbridge.wiring.api_keys import (
    configured_keys,
    key_throttle,
    list_keys,
    show_generated_secret,
    stored_keys,
)
from callbridge.wiring.call_services import (
    audio_cache,
    call_service_settings,
    callback_settings,
    overload_guarded,
)
from callbridge.wiring.database import open_database, prune_idempotency_keys
from callbridge.wiring.destinations import destination_policy, trunk_address
from callbridge.wiring.engine import (
    build_engine,
    build_tts,
    engine_settings,
    sip_pike,
    start_engine,
)
from callbridge.wiring.http_client import address_policy, http_client
from callbridge.wiring.numbers import configured_lines, inbound_numbers
from callbridge.wiring.originate import originate_api
from callbridge.wiring.queues import configured_queues
from callbridge.wiring.serve import freeze_startup_objects, run, serve
from callbridge.wiring.voicemail import wire_message_waiting
from callbridge.wiring.webhooks import WEBHOOK_FLUSH_MARGIN

__all__ = [
    "WEBHOOK_FLUSH_MARGIN",
    "address_policy",
    "audio_cache",
    "build_engine",
    "build_tts",
    "call_service_settings",
    "callback_settings",
    "configured_keys",
    "configured_lines",
    "configured_queues",
    "destination_policy",
    "engine_settings",
    "freeze_startup_objects",
    "http_client",
    "inbound_numbers",
    "key_throttle",
    "list_keys",
    "open_database",
    "originate_api",
    "overload_guarded",
    "prune_idempotency_keys",
    "run",
    "serve",
    "show_generated_secret",
    "sip_pike",
    "start_engine",
    "stored_keys",
    "trunk_address",
    "wire_message_waiting",
]
