"""The clock of one dialog's session timer (RFC 4028 §10): when to refresh, when to end.

Two timer handles on the event loop, no task: a refresh is due at half the interval when
we are the refresher; the session expires a little before the interval runs out when
the peer refreshes (§10), at its end when we do (our refresh kept failing).  Every
successful refresh, sent or received, arms both again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from callbridge.sip.session_timer import SessionInterval


class SessionExpiry:
    """Arms the refresh and the expiry of one dialog; ``stop`` disarms both."""

    def __init__(
        self, *, on_refresh_due: Callable[[], None], on_expired: Callable[[], None]
    ) -> None:
        self._on_refresh_due = on_refresh_due
        self._on_expired = on_expired
        self.interval: SessionInterval | None = None
        self.we_refresh = False
        self._refresh: asyncio.TimerHandle | None = None
        self._expiry: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._expiry is not None

    def arm(self, interval: SessionInterval | None, *, we_refresh: bool) -> None:
        """(Re)start the session timer; None: there is none any more (§7.2)."""
        self.stop()
        self.interval, self.we_refresh = interval, we_refresh
        if interval is None:
            return
        loop = asyncio.get_running_loop()
        if we_refresh:
            self._refresh = loop.call_later(interval.refresh_delay, self._refresh_due)
            self._expiry = loop.call_later(interval.seconds, self._expired)
        else:
            self._expiry = loop.call_later(interval.expiry_delay, self._expired)

    def retry_refresh(self, delay: float) -> None:
        """Try the refresh again in ``delay`` seconds (after a 491 or a 422)."""
        if self._refresh is not None:
            self._refresh.cancel()
        self._refresh = asyncio.get_running_loop().call_later(delay, self._refresh_due)

    def stop(self) -> None:
        for handle in (self._refresh, self._expiry):
            if handle is not None:
                handle.cancel()
        self._refresh = self._expiry = None

    def _refresh_due(self) -> None:
        self._refresh = None
        self._on_refresh_due()

    def _expired(self) -> None:
        self.stop()
        self._on_expired()
