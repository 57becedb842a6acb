"""Shared settings of the dispatcher tests."""

from __future__ import annotations

from collections.abc import Callable

from callbridge.store.clock import SystemClock
from callbridge.webhooks.backoff import Backoff
from callbridge.webhooks.dispatcher import WebhookDispatcher

FAST_BACKOFF = Backoff(base=0.02, factor=2.0, cap=0.1, max_attempts=1000, jitter=0.5)
CLOCK = SystemClock()

DispatcherFactory = Callable[..., WebhookDispatcher]
