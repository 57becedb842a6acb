"""A trunk's own request rate limit (``[[trunks]] max_requests_per_second``).

A carrier is not a phone: all its calls come from a handful of addresses, so the
per-source limit (:mod:`callbridge.sip.pike`, a few hundred requests a minute) would refuse
a busy carrier's calls.  Requests from a trunk's addresses are not counted there; its calls
are limited by what owns them (the keys' ``calls_per_second`` and ``max_concurrent``) and by
load shedding, and, if the trunk sets one, by this limit over all its addresses together:
a token bucket of that many requests a second.  Over it each request gets 503 with
Retry-After (a carrier fails over on it), none is dropped unanswered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from callbridge.engine.routing import Trunk
from callbridge.sip.pike import Pike, PikeLimits, PikeVerdict


class TrunkRequestLimits:
    """One bucket per trunk with a limit; the trunks are the configuration's (bounded)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, Pike] = {}

    def allow(self, trunk: Trunk) -> bool:
        """Count one new request from ``trunk``: False when over its limit."""
        if trunk.max_requests_per_second <= 0:
            return True
        bucket = self._buckets.get(trunk.name)
        if bucket is None:
            limits = PikeLimits(requests=trunk.max_requests_per_second, window=1.0)
            bucket = self._buckets[trunk.name] = Pike(limits=limits, clock=self._clock)
        return bucket.hit(f"trunk {trunk.name}") is PikeVerdict.ALLOW
