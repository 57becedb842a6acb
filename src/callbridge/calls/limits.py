"""CallLimiter: per-API-key admission of new calls — a calls-per-second token bucket and a
cap on concurrent calls.  Pure: the clock is injected, nothing sleeps or does I/O."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from callbridge.calls.errors import CallLimitReached

DEFAULT_CONCURRENT_RETRY_AFTER = 1.0


@dataclass(frozen=True, kw_only=True)
class KeyLimits:
    """``None`` is unlimited.  The bucket holds ``max(1, calls_per_second)`` calls, so a
    key may start that many calls at once and then ``calls_per_second`` a second."""

    calls_per_second: float | None = None
    max_concurrent: int | None = None

    def __post_init__(self) -> None:
        rate = self.calls_per_second
        if rate is not None and (not math.isfinite(rate) or rate <= 0):
            raise ValueError("calls_per_second must be above 0")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")


class CallPermit:
    """One admitted call; :meth:`release` when it has ended (a second release is a no-op)."""

    __slots__ = ("_on_release", "_released")

    def __init__(self, *, on_release: Callable[[], None]) -> None:
        self._on_release = on_release
        self._released = False

    @property
    def released(self) -> bool:
        return self._released

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._on_release()


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, *, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class CallLimiter:
    """Admits calls per API key id (``None``: calls made without a key).

    Keys without limits of their own get ``default``.  Implements the call service's
    ``Admission`` port (``admit``)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        default: KeyLimits = KeyLimits(),
        limits: Mapping[str, KeyLimits] | None = None,
        concurrent_retry_after: float = DEFAULT_CONCURRENT_RETRY_AFTER,
    ) -> None:
        self._clock = clock
        self._default = default
        self._limits: dict[str, KeyLimits] = dict(limits or {})
        self._concurrent_retry_after = concurrent_retry_after
        self._buckets: dict[str | None, _Bucket] = {}
        self._active: dict[str | None, int] = {}

    def set_limits(self, key: str, limits: KeyLimits) -> None:
        """Give ``key`` its own limits (its calls-per-second bucket starts full again)."""
        self._limits[key] = limits
        self._buckets.pop(key, None)

    def limits_of(self, key: str | None) -> KeyLimits:
        return self._default if key is None else self._limits.get(key, self._default)

    def active(self, key: str | None) -> int:
        """Admitted calls of ``key`` not yet released."""
        return self._active.get(key, 0)

    def admit(self, key: str | None) -> CallPermit:
        """Admit one call of ``key`` or raise ``CallLimitReached`` (nothing is taken then)."""
        limits = self.limits_of(key)
        active = self.active(key)
        if limits.max_concurrent is not None and active >= limits.max_concurrent:
            raise CallLimitReached(
                f"at most {limits.max_concurrent} concurrent calls",
                retry_after=self._concurrent_retry_after,
            )
        if limits.calls_per_second is not None:
            self._take_token(key, limits.calls_per_second)
        self._active[key] = active + 1
        return CallPermit(on_release=lambda: self._release(key))

    def _take_token(self, key: str | None, rate: float) -> None:
        now = self._clock()
        capacity = max(1.0, rate)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=capacity, at=now)
        if now > bucket.at:
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
        if bucket.tokens < 1.0:
            raise CallLimitReached(
                f"at most {rate:g} calls per second", retry_after=(1.0 - bucket.tokens) / rate
            )
        bucket.tokens -= 1.0

    def _release(self, key: str | None) -> None:
        left = self._active.get(key, 0) - 1
        if left > 0:
            self._active[key] = left
        else:
            self._active.pop(key, None)
