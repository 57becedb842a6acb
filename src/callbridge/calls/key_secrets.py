"""StoredSigningSecrets: the signing secret of an API key as the store holds it, kept in
memory for a while so a call's documents do not cost a query each."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from callbridge.store.records import ApiKeyRecord

DEFAULT_TTL = 60.0


class KeyLookup(Protocol):
    async def get(self, key_id: str) -> ApiKeyRecord | None: ...


class StoredSigningSecrets:
    """Implements :class:`callbridge.calls.session_factory.SigningSecrets`."""

    def __init__(
        self,
        *,
        keys: KeyLookup,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}

    async def signing_secret(self, api_key_id: str) -> str | None:
        now = self._clock()
        cached = self._cache.get(api_key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = await self._keys.get(api_key_id)
        secret = None if record is None else record.signing_secret
        self._cache[api_key_id] = (now + self._ttl, secret)
        return secret
