"""One delivery attempt: the request sent within its timeout, and what it came to for the
outbox (delivered, retried on the :class:`Backoff` schedule, or failed for good)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from callbridge.httpclient.client import NO_ANSWER, HttpFailure, HttpTimeout
from callbridge.httpclient.port import HttpRequests
from callbridge.store.models import DeliveryStatus
from callbridge.store.outbox import OutboxItem, Outcome
from callbridge.webhooks.backoff import Backoff
from callbridge.webhooks.request import WebhookRequest

log = logging.getLogger("callbridge.webhooks.dispatcher")  # its lines keep the dispatcher's name


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """What one HTTP attempt came to."""

    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send_once(client: HttpRequests, request: WebhookRequest, *, timeout: float) -> Attempt:
    try:
        async with asyncio.timeout(timeout):
            code = await client.send(
                request.method, request.url, headers=request.headers, body=request.body
            )
    except (TimeoutError, HttpTimeout):  # as a refused connection: no port-scan oracle
        return Attempt(status_code=None, error=NO_ANSWER)
    except HttpFailure as exc:
        return Attempt(status_code=None, error=str(exc))
    return Attempt(status_code=code, error=None if 200 <= code < 300 else f"status {code}")


def attempt_outcome(
    item: OutboxItem,
    attempt: Attempt,
    *,
    now: datetime,
    backoff: Backoff,
    rng: Callable[[], float],
) -> Outcome:
    """``rng`` (in [0, 1)) spreads a retry (:meth:`Backoff.delay`); drawn only for one."""
    delivery_id = item.delivery.id
    if attempt.ok:
        return Outcome(
            delivery_id=delivery_id,
            status=DeliveryStatus.DELIVERED,
            at=now,
            status_code=attempt.status_code,
        )
    attempts = item.delivery.attempts + 1
    error = attempt.error or "failed"
    if backoff.exhausted(attempts):
        log.warning("webhook %s failed for good after %d attempts", delivery_id, attempts)
        return Outcome(
            delivery_id=delivery_id,
            status=DeliveryStatus.FAILED,
            at=now,
            status_code=attempt.status_code,
            error=error,
        )
    retry_at = now + timedelta(seconds=backoff.delay(attempts, rng()))
    return Outcome(
        delivery_id=delivery_id,
        status=DeliveryStatus.PENDING,
        at=now,
        status_code=attempt.status_code,
        error=error,
        next_attempt_at=retry_at,
    )
