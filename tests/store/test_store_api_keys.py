"""ApiKeyRepository.ensure: configured keys upserted by hash under a stable id."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from store_fakes import StepClock

from callbridge.store.database import Database
from callbridge.store.repository import ApiKeyRepository

KEY = "cbk_configured_0123456789abcdef"
OTHER = "cbk_other_key_0123456789abcdef"


async def test_ensure_creates_then_updates_in_place(
    keys: ApiKeyRepository, database: Database
) -> None:
    created = await keys.ensure(key=KEY, name="crm")
    assert created.id.startswith("key_")
    assert (created.name, created.scopes) == ("crm", ("call",))
    assert (created.calls_per_second, created.max_concurrent) == (None, None)
    assert created.signing_secret.startswith("whsec_")
    assert await keys.find_by_key(KEY) == created

    updated = await keys.ensure(
        key=KEY, name="crm-renamed", scopes=(), calls_per_second=2.5, max_concurrent=4
    )
    assert updated.id == created.id
    assert updated.created_at == created.created_at
    assert updated.signing_secret == created.signing_secret
    assert (updated.name, updated.scopes) == ("crm-renamed", ())
    assert (updated.calls_per_second, updated.max_concurrent) == (2.5, 4)
    assert await keys.find_by_key(KEY) == updated

    async with database.engine.connect() as connection:
        rows = (await connection.exec_driver_sql("SELECT key_hash FROM api_keys")).all()
        pepper = (
            await connection.exec_driver_sql(
                "SELECT value FROM server_secrets WHERE name = 'api_key_pepper'"
            )
        ).scalar_one()
    # HMAC-SHA256 keyed by the server's pepper, over the key's SHA-256: not the plain hash.
    inner = hashlib.sha256(KEY.encode()).hexdigest().encode()
    assert rows == [(hmac.new(pepper.encode(), inner, hashlib.sha256).hexdigest(),)]
    assert len(pepper) == 64


async def test_ensure_is_idempotent_and_keeps_the_id_across_restarts(database: Database) -> None:
    first = await ApiKeyRepository(database=database, clock=StepClock()).ensure(key=KEY, name="crm")
    again = Database(url=database.url)
    try:
        second = await ApiKeyRepository(database=again, clock=StepClock()).ensure(
            key=KEY, name="crm"
        )
    finally:
        await again.close()
    assert second == first


async def test_ensure_sets_a_configured_signing_secret(keys: ApiKeyRepository) -> None:
    created = await keys.ensure(key=KEY, name="crm", signing_secret="whsec_configured_123456")
    assert created.signing_secret == "whsec_configured_123456"
    kept = await keys.ensure(key=KEY, name="crm")
    assert kept.signing_secret == "whsec_configured_123456"
    changed = await keys.ensure(key=KEY, name="crm", signing_secret="whsec_rotated_1234567")
    assert changed.signing_secret == "whsec_rotated_1234567"


async def test_distinct_keys_get_distinct_ids(keys: ApiKeyRepository) -> None:
    one, two = await asyncio.gather(
        keys.ensure(key=KEY, name="one"), keys.ensure(key=KEY + "-2", name="two")
    )
    assert one.id != two.id
    assert await keys.find_by_key(KEY + "-2") == two


async def test_keys_not_kept_are_revoked_until_ensured_again(keys: ApiKeyRepository) -> None:
    kept = await keys.ensure(key=KEY, name="crm")
    dropped = await keys.ensure(key=OTHER, name="dialer")
    assert await keys.revoke_all_except([kept.id]) == ("dialer",)
    assert await keys.revoke_all_except([kept.id]) == ()  # revoked once
    assert await keys.find_by_key(OTHER) is None
    assert await keys.find_by_key(KEY) == kept
    restored = await keys.ensure(key=OTHER, name="dialer")
    assert restored == dropped  # the same id and secret: its calls are its own again
    assert await keys.find_by_key(OTHER) == restored
    assert await keys.revoke_all_except([]) == ("crm", "dialer")
    assert await keys.find_by_key(KEY) is None
