"""FailedKeyThrottle: a source address that sends too many wrong API keys waits.

After ``max_failures`` requests with an unknown key within ``seconds``, every request
from that address that carries a key is answered 429 with ``Retry-After`` for
``seconds``, without its key being looked up, the right key included: a guesser that
found the key learns nothing until the wait is over.  Other addresses are not affected.
IPv6 addresses count by their /64 (one host usually holds the whole prefix).  The
addresses remembered are bounded (the least recently failed is forgotten first), and each
address is logged once each time it becomes throttled.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEFAULT_MAX_FAILURES = 10
DEFAULT_SECONDS = 60.0
MAX_ADDRESSES = 100_000


@dataclass(frozen=True, kw_only=True)
class ThrottleSettings:
    """``max_failures`` wrong keys within ``seconds`` throttle an address for ``seconds``;
    ``max_failures`` 0 turns the throttle off."""

    max_failures: int = DEFAULT_MAX_FAILURES
    seconds: float = DEFAULT_SECONDS
    max_addresses: int = MAX_ADDRESSES


@dataclass(kw_only=True)
class _Failures:
    since: float
    count: int = 0
    blocked_until: float = 0.0


def source_of(address: str) -> str:
    """The unit failures count against: the address, or an IPv6 address's /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class FailedKeyThrottle:
    def __init__(
        self,
        *,
        settings: ThrottleSettings = ThrottleSettings(),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._monotonic = monotonic
        self._sources: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, address: str) -> float | None:
        """Seconds ``address`` must still wait, or ``None`` when its key may be checked."""
        failures = self._sources.get(source_of(address))
        if failures is None:
            return None
        wait = failures.blocked_until - self._monotonic()
        return wait if wait > 0 else None

    def failed(self, address: str) -> None:
        """``address`` sent an unknown key."""
        if self._settings.max_failures <= 0:
            return
        source = source_of(address)
        now = self._monotonic()
        failures = self._sources.pop(source, None)
        if failures is None or now - failures.since > self._settings.seconds:
            failures = _Failures(since=now)
        self._sources[source] = failures  # now the most recent
        failures.count += 1
        if failures.count >= self._settings.max_failures and failures.blocked_until <= now:
            failures.blocked_until = now + self._settings.seconds
            failures.since, failures.count = failures.blocked_until, 0
            log.warning(
                "%s sent %d wrong API keys: its requests wait %.0f s",
                source,
                self._settings.max_failures,
                self._settings.seconds,
            )
        while len(self._sources) > self._settings.max_addresses:
            self._sources.popitem(last=False)

    def __len__(self) -> int:
        return len(self._sources)
