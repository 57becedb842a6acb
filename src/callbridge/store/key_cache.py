"""CachedApiKeys: found API keys remembered for a few seconds.

Every API request is authenticated; without a cache each one costs a database transaction
before its real work starts.  A key that is found is remembered for ``ttl`` seconds (by
its SHA-256, never the key itself), so a key changed or removed in the database (by
another node, or the configuration of a restart) takes effect within ``ttl``.  Unknown
keys are not remembered: a wrong key is always looked up again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from callbridge.store.api_keys import hash_key
from callbridge.store.records import ApiKeyRecord

DEFAULT_TTL = 5.0
MAX_ENTRIES = 10_000


class KeyLookup(Protocol):
    async def find_by_key(self, key: str) -> ApiKeyRecord | None: ...


class CachedApiKeys:
    def __init__(
        self,
        *,
        keys: KeyLookup,
        ttl: float = DEFAULT_TTL,
        max_entries: int = MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._ttl = ttl
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._found: dict[str, tuple[float, ApiKeyRecord]] = {}

    async def find_by_key(self, key: str) -> ApiKeyRecord | None:
        digest = hash_key(key)
        now = self._monotonic()
        cached = self._found.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = await self._keys.find_by_key(key)
        if record is None or self._ttl <= 0:
            self._found.pop(digest, None)
            return record
        if len(self._found) >= self._max_entries:
            self._drop_expired(now)
        if len(self._found) < self._max_entries:
            self._found[digest] = (now + self._ttl, record)
        return record

    def _drop_expired(self, now: float) -> None:
        for digest in [d for d, (until, _) in self._found.items() if until <= now]:
            del self._found[digest]
