"""Per-source request rate limit, as Kamailio's pike module does.

Each source address may start ``requests`` new requests per ``window`` seconds: a token
bucket per address holding ``requests`` tokens, refilled evenly over ``window`` (so a
flooder's share arrives spread out, not as a burst at the start of each window, which
showed as 100+ ms of lateness for everyone else).  Past that its requests are refused: the
first refused one of each window is answered (503 with Retry-After, so the sender sees
why), the others are dropped unanswered, which costs no more than reading them.  A source
that floods is logged once when it goes over, and once when it is seen again with a full
bucket (it stayed under the limit for a whole window).

Memory is bounded: at ``max_sources`` addresses, the full buckets (quiet addresses) are
forgotten, then the oldest down to nine tenths (so a pass comes at most once in
``max_sources / 10`` new addresses).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PikeLimits:
    requests: int
    window: float
    max_sources: int = 50_000

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window <= 0 or self.max_sources < 1:
            raise ValueError("pike needs requests >= 1, a positive window and max_sources >= 1")


class PikeVerdict(Enum):
    ALLOW = "allow"
    REFUSE = "refuse"  # the first refused request of the window: answer it
    DROP = "drop"  # refused again in the same window: do not answer


class _Bucket:
    __slots__ = ("flooding", "last", "refused_at", "tokens")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.last = now
        self.refused_at: float | None = None
        self.flooding = False


class Pike:
    def __init__(self, *, limits: PikeLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._rate = limits.requests / limits.window
        self._buckets: dict[str, _Bucket] = {}
        self.refused = 0  # requests refused since the start

    def hit(self, source: str) -> PikeVerdict:
        """Count one request from ``source``."""
        now = self._clock()
        bucket = self._buckets.get(source)
        if bucket is None:
            if len(self._buckets) >= self.limits.max_sources:
                self._make_room(now)
            bucket = self._buckets[source] = _Bucket(float(self.limits.requests), now)
        else:
            self._refill(bucket, now)
            if bucket.flooding and bucket.tokens >= self.limits.requests:
                bucket.flooding = False
                log.warning("SIP flood from %s has stopped", source)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return PikeVerdict.ALLOW
        self.refused += 1
        if bucket.refused_at is not None and now - bucket.refused_at < self.limits.window:
            return PikeVerdict.DROP
        bucket.refused_at = now
        if not bucket.flooding:
            bucket.flooding = True
            log.warning(
                "SIP flood from %s: over %d requests in %.1f s, refusing its requests",
                source,
                self.limits.requests,
                self.limits.window,
            )
        return PikeVerdict.REFUSE

    def dropping(self, source: str) -> bool:
        """Whether a request from ``source`` would be dropped now (then it is counted as
        one): lets a caller skip parsing a flooder's datagrams at all."""
        bucket = self._buckets.get(source)
        if bucket is None or bucket.refused_at is None:
            return False
        now = self._clock()
        if now - bucket.refused_at >= self.limits.window:
            return False
        self._refill(bucket, now)
        if bucket.tokens >= 1.0:
            return False
        self.refused += 1
        return True

    def _refill(self, bucket: _Bucket, now: float) -> None:
        elapsed = max(0.0, now - bucket.last)
        bucket.tokens = min(float(self.limits.requests), bucket.tokens + elapsed * self._rate)
        bucket.last = now

    def _make_room(self, now: float) -> None:
        for source, bucket in list(self._buckets.items()):
            self._refill(bucket, now)
            if bucket.tokens >= self.limits.requests:
                if bucket.flooding:
                    log.warning("SIP flood from %s has stopped", source)
                del self._buckets[source]
        keep = self.limits.max_sources * 9 // 10  # room for many before the next pass
        while len(self._buckets) > keep:
            del self._buckets[next(iter(self._buckets))]

    @property
    def tracked(self) -> int:
        return len(self._buckets)
