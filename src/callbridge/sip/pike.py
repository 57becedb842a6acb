"""Per-source request rate limit, as Kamailio's pike module does.

Each source address may start ``requests`` new requests per ``window`` seconds (fixed
windows; the counts start again in each).  Past that its requests are refused for the rest
of the window: the first refused one of each window is answered (503 with Retry-After, so
the sender sees why), the others are dropped unanswered, which costs no more than reading
them.  A source that floods is logged once when it goes over, and once when it has stayed
under the limit for a whole window again.

Memory is bounded by the sources seen in two windows (the counts of older windows are
dropped whole).
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

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window <= 0:
            raise ValueError("pike needs requests >= 1 and a positive window")


class PikeVerdict(Enum):
    ALLOW = "allow"
    REFUSE = "refuse"  # the first refused request of the window: answer it
    DROP = "drop"  # refused again in the same window: do not answer


class Pike:
    def __init__(self, *, limits: PikeLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._window_start = clock()
        self._counts: dict[str, int] = {}
        self._over: set[str] = set()  # sources over the limit in this window
        self._over_before: set[str] = set()  # ... and in the previous one
        self.refused = 0  # requests refused since the start

    def hit(self, source: str) -> PikeVerdict:
        """Count one request from ``source``."""
        now = self._clock()
        if now - self._window_start >= self.limits.window:
            self._next_window(now)
        count = self._counts.get(source, 0) + 1
        self._counts[source] = count
        if count <= self.limits.requests:
            return PikeVerdict.ALLOW
        self.refused += 1
        if source in self._over:
            return PikeVerdict.DROP
        self._over.add(source)
        if source not in self._over_before:
            log.warning(
                "SIP flood from %s: over %d requests in %.1f s, refusing its requests",
                source,
                self.limits.requests,
                self.limits.window,
            )
        return PikeVerdict.REFUSE

    def retry_after(self) -> int:
        """Seconds until the window ends (at least 1)."""
        left = self.limits.window - (self._clock() - self._window_start)
        return max(1, int(left + 0.999))

    def _next_window(self, now: float) -> None:
        elapsed = now - self._window_start
        quiet_since = self._over_before - self._over
        if elapsed >= 2 * self.limits.window:  # a whole window without a request
            quiet_since = self._over_before | self._over
            self._over = set()
        for source in quiet_since:
            log.warning("SIP flood from %s has stopped", source)
        self._over_before = self._over
        self._over = set()
        self._counts = {}
        self._window_start = now - elapsed % self.limits.window

    @property
    def tracked(self) -> int:
        return len(self._counts) + len(self._over_before)
