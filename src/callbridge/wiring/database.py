"""The database, opened and migrated at start; its idempotency keys pruned while serving."""

from __future__ import annotations

import asyncio
import logging

from callbridge.config import CallbridgeConfig
from callbridge.store.database import Database
from callbridge.store.idempotency import IdempotencyStore
from callbridge.wiring.startup import database_failed

log = logging.getLogger(__name__)


async def open_database(config: CallbridgeConfig) -> Database:
    """The database, migrated to this version's schema; raises :class:`StartupError`
    (one line, no password) when it cannot be opened or migrated."""
    url = config.database.url
    try:
        database = Database(url=url)
    except Exception as exc:  # a bad URL or a missing driver, whatever SQLAlchemy raises
        raise database_failed(url, exc) from exc
    try:
        await database.migrate()
    except Exception as exc:  # unreachable, refused, wrong password: all said in one line
        await database.close()
        raise database_failed(url, exc) from exc
    return database


async def prune_idempotency_keys(store: IdempotencyStore) -> None:
    """Delete the kept replies of idempotent requests once they are a day old, hourly."""
    while True:
        try:
            pruned = await store.prune()
        except Exception:  # the database may be briefly away: try again next hour
            log.exception("could not prune idempotency keys")
        else:
            if pruned:
                log.info("pruned %d idempotency keys older than a day", pruned)
        await asyncio.sleep(3600)
