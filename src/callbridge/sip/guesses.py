"""The digest brute-force throttle: how many password guesses are checked at all.

A guess is an answer to a challenge (an ``Authorization`` or ``Proxy-Authorization``
header).  Failed guesses are counted per source address and per user name, known or not,
over ``window`` seconds.  A key that reaches its limit is blocked: while it is, its guesses
are refused without being checked (no hash is computed, no nonce used), so a sender that
does not wait for answers gains nothing by sending faster.  Each block that follows another
within ``max_block`` doubles, up to ``max_block`` (the exponent is capped, so no count of
failures can overflow it).

A blocked user name is not blocked for the addresses it has authenticated from recently
(its phones keep working while someone elsewhere guesses its password); a blocked address
blocks only itself, so a user elsewhere is never slowed.  What a block costs the real user
is a phone moved to a new address while its name is under attack: it waits for the block.

Memory is bounded: at most ``max_entries`` keys are kept, the expired ones dropped first,
then the oldest.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_MAX_DOUBLINGS = 16
_GOOD_SOURCES_PER_USER = 8


@dataclass(frozen=True, kw_only=True)
class GuessLimits:
    per_source: int = 10
    per_user: int = 20
    window: float = 60.0
    first_block: float = 10.0
    max_block: float = 600.0
    max_entries: int = 10_000

    def __post_init__(self) -> None:
        if self.per_source < 1 or self.per_user < 1:
            raise ValueError("guess limits must be at least 1")
        if not 0 < self.first_block <= self.max_block or self.window <= 0:
            raise ValueError("window and blocks must be positive, first_block <= max_block")

    def block_for(self, strikes: int) -> float:
        """The length of the ``strikes``-th block in a row (1 for the first)."""
        doublings = min(max(strikes - 1, 0), _MAX_DOUBLINGS)
        return float(min(self.max_block, self.first_block * 2.0**doublings))


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    strikes: int = 0
    last_seen: float = 0.0


class _Counter:
    """Failures of one kind of key (addresses or user names)."""

    def __init__(self, *, kind: str, limit: int, limits: GuessLimits) -> None:
        self._kind = kind
        self._limit = limit
        self._limits = limits
        self._records: dict[str, _Record] = {}

    def __len__(self) -> int:
        return len(self._records)

    def blocked(self, key: str, now: float) -> bool:
        record = self._records.get(key)
        return record is not None and record.blocked_until > now

    def fail(self, key: str, now: float) -> None:
        record = self._records.pop(key, None)
        if record is None:
            self._make_room(now)
            record = _Record()
        self._records[key] = record  # re-inserted: the dict's order is last use
        if record.blocked_until and now - record.blocked_until > self._limits.max_block:
            record.strikes = 0  # quiet for a while: start over
        record.last_seen = now
        failures = record.failures
        failures.append(now)
        while failures and failures[0] <= now - self._limits.window:
            failures.popleft()
        if len(failures) >= self._limit:
            failures.clear()
            record.strikes += 1
            block = self._limits.block_for(record.strikes)
            record.blocked_until = now + block
            log.warning(
                "%s %r: %d failed digest guesses, refused unchecked for %.0f s",
                self._kind,
                key[:64],
                self._limit,
                block,
            )

    def _make_room(self, now: float) -> None:
        if len(self._records) < self._limits.max_entries:
            return
        horizon = self._limits.window + self._limits.max_block
        self._records = {
            key: record
            for key, record in self._records.items()
            if record.blocked_until > now or now - record.last_seen < horizon
        }
        while len(self._records) >= self._limits.max_entries:
            del self._records[next(iter(self._records))]


class GuessThrottle:
    """Decides whether a guess is checked, and learns from each checked one."""

    def __init__(
        self, *, limits: GuessLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or GuessLimits()
        self._clock = clock
        self._sources = _Counter(kind="address", limit=self.limits.per_source, limits=self.limits)
        self._users = _Counter(kind="user", limit=self.limits.per_user, limits=self.limits)
        self._good: dict[str, deque[str]] = {}  # user -> addresses it authenticated from

    def may_check(self, *, source: str, user: str) -> bool:
        """False while ``source`` is blocked, or ``user`` is and ``source`` is not one of
        the user's recent good addresses."""
        now = self._clock()
        if self._sources.blocked(source, now):
            return False
        if self._users.blocked(user, now):
            return source in self._good.get(user, ())
        return True

    def failed(self, *, source: str, user: str | None) -> None:
        now = self._clock()
        self._sources.fail(source, now)
        if user is not None:
            self._users.fail(user, now)

    def succeeded(self, *, source: str, user: str) -> None:
        """Remember ``source`` as one of ``user``'s addresses (success does not clear the
        failures: an account the attacker owns must not reset its address's count)."""
        good = self._good.get(user)
        if good is None:
            if len(self._good) >= self.limits.max_entries:
                del self._good[next(iter(self._good))]
            good = self._good[user] = deque(maxlen=_GOOD_SOURCES_PER_USER)
        if source in good:
            good.remove(source)
        good.append(source)

    @property
    def tracked(self) -> int:
        """Addresses and user names with state (for tests: it stays bounded)."""
        return len(self._sources) + len(self._users)
