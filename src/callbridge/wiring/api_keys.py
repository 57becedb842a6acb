"""The configured API keys: stored (hashed) with their limits at start, throttled when wrong,
and listed for ``callbridge keys list``."""

from __future__ import annotations

import asyncio
import logging

from callbridge.api.key_throttle import FailedKeyThrottle, ThrottleSettings
from callbridge.calls.limits import CallLimiter, KeyLimits
from callbridge.config import CallbridgeConfig
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.records import ApiKeyRecord
from callbridge.store.repository import ApiKeyRepository

log = logging.getLogger(__name__)


async def configured_keys(config: CallbridgeConfig, keys: ApiKeyRepository) -> CallLimiter:
    """Store the configured API keys (hashed) and give each its limits; revoke the stored
    keys that are no longer configured."""
    limiter = CallLimiter()
    configured: list[str] = []
    for key in config.api_keys:
        record = await keys.ensure(
            key=key.key,
            name=key.name,
            scopes=key.scopes,
            calls_per_second=key.calls_per_second,
            max_concurrent=key.max_concurrent,
            signing_secret=key.signing_secret,
            on_generated_secret=show_generated_secret,
        )
        limiter.set_limits(
            record.id,
            KeyLimits(calls_per_second=key.calls_per_second, max_concurrent=key.max_concurrent),
        )
        configured.append(record.id)
    revoked = await keys.revoke_all_except(configured)
    if revoked:
        log.warning("API keys no longer configured, revoked: %s", ", ".join(revoked))
    return limiter


def show_generated_secret(record: ApiKeyRecord) -> None:
    """The one time a generated signing secret is shown unasked (``callbridge keys list``
    and ``GET /api/v2/keys/self`` show it again)."""
    log.warning(
        "API key %r: generated its callbacks' signing secret %s (shown once; later: "
        "`callbridge keys list --config FILE` or GET /api/v2/keys/self)",
        record.name,
        record.signing_secret,
    )


def key_throttle(config: CallbridgeConfig) -> FailedKeyThrottle:
    return FailedKeyThrottle(
        settings=ThrottleSettings(
            max_failures=config.http.auth_max_failures, seconds=config.http.auth_throttle_seconds
        )
    )


async def stored_keys(config: CallbridgeConfig) -> tuple[ApiKeyRecord, ...]:
    """The keys that authenticate now, as the database holds them (with their signing
    secrets); a configured key appears once the server has started with it."""
    database = Database(url=config.database.url)
    try:
        await database.migrate()
        return await ApiKeyRepository(database=database, clock=SystemClock()).list_active()
    finally:
        await database.close()


def list_keys(config: CallbridgeConfig) -> tuple[ApiKeyRecord, ...]:
    return asyncio.run(stored_keys(config))
