"""Addresses, limits and the in-test MessageCounts of the MWI tests (a module of its own:
``conftest`` is ambiguous across test folders)."""

from __future__ import annotations

from callbridge.engine.message_waiting import SubscriptionLimits
from callbridge.sip.transaction import Timers

MWI_HOST = "127.0.0.1"
MWI_PORT = 5300
MWI_USERS = (("1001", "secret1001"), ("1002", "secret1002"))
MWI_TIMERS = Timers(t1=0.1, t2=0.4, t4=0.5, d=1.0)
MWI_LIMITS = SubscriptionLimits(min_expires=1, max_expires=900, max_subscriptions=6, max_per_user=3)


class Mailboxes:
    """The test's MessageCounts: (new, old) per user, set by the test; or a failure."""

    def __init__(self) -> None:
        self.of: dict[str, tuple[int, int]] = {}
        self.failing = False

    async def counts(self, user: str) -> tuple[int, int]:
        if self.failing:
            raise RuntimeError("store down")
        return self.of.get(user, (0, 0))
