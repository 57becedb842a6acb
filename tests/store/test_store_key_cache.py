"""CachedApiKeys: found keys are remembered for their time, unknown keys never."""

from __future__ import annotations

from datetime import UTC, datetime

from callbridge.store.key_cache import CachedApiKeys
from callbridge.store.records import ApiKeyRecord


class CountingKeys:
    def __init__(self) -> None:
        self.known: dict[str, ApiKeyRecord] = {}
        self.lookups = 0

    async def find_by_key(self, key: str) -> ApiKeyRecord | None:
        self.lookups += 1
        return self.known.get(key)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(key_id: str) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=key_id,
        name=key_id,
        signing_secret="whsec_x",
        scopes=("call",),
        calls_per_second=None,
        max_concurrent=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


async def test_a_found_key_is_looked_up_again_only_once_its_time_is_up() -> None:
    keys, clock = CountingKeys(), Clock()
    keys.known["k"] = record("key_1")
    cache = CachedApiKeys(keys=keys, ttl=5.0, monotonic=clock)
    assert await cache.find_by_key("k") == record("key_1")
    clock.now += 4.9
    assert await cache.find_by_key("k") == record("key_1")
    assert keys.lookups == 1
    del keys.known["k"]  # removed from the database
    clock.now += 0.2
    assert await cache.find_by_key("k") is None
    assert keys.lookups == 2


async def test_an_unknown_key_is_always_looked_up() -> None:
    keys, clock = CountingKeys(), Clock()
    cache = CachedApiKeys(keys=keys, ttl=5.0, monotonic=clock)
    assert await cache.find_by_key("nope") is None
    assert await cache.find_by_key("nope") is None
    assert keys.lookups == 2


async def test_a_zero_ttl_remembers_nothing() -> None:
    keys = CountingKeys()
    keys.known["k"] = record("key_1")
    cache = CachedApiKeys(keys=keys, ttl=0.0)
    await cache.find_by_key("k")
    await cache.find_by_key("k")
    assert keys.lookups == 2


async def test_a_full_cache_makes_room_only_from_expired_entries() -> None:
    keys, clock = CountingKeys(), Clock()
    for name in ("a", "b", "c"):
        keys.known[name] = record(f"key_{name}")
    cache = CachedApiKeys(keys=keys, ttl=5.0, max_entries=2, monotonic=clock)
    await cache.find_by_key("a")
    await cache.find_by_key("b")
    await cache.find_by_key("c")  # full, nothing expired: found but not remembered
    await cache.find_by_key("c")
    assert keys.lookups == 4
    clock.now += 6
    await cache.find_by_key("c")  # the expired a and b make room
    await cache.find_by_key("c")
    assert keys.lookups == 5
