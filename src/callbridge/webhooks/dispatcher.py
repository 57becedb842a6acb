"""Sends the outbox: each delivery once, a call's deliveries strictly in seq order.

One worker loop claims due rows (leased to this node, so other nodes skip them) and
starts a send task per row; different calls go out concurrently, one call's rows one
at a time, because only the earliest pending row of a call is ever eligible. A 2xx
response marks a row delivered; anything else (status, timeout, connection error) is
retried on the :class:`Backoff` schedule until it is exhausted, then marked failed.

:meth:`WebhookDispatcher.notify` wakes the loop as soon as a delivery is committed, so
there is no polling delay in the common case; the loop still polls every
``poll_interval`` as a fallback (rows written by another node, expired leases).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError

from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.store.models import DeliveryStatus
from callbridge.store.outbox import OutboxItem, OutboxRepository, Outcome
from callbridge.webhooks.backoff import Backoff
from callbridge.webhooks.request import WebhookRequest, build_request

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """What one HTTP attempt came to."""

    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookDispatcher:
    def __init__(
        self,
        *,
        database: Database,
        client: httpx.AsyncClient,
        clock: Clock,
        backoff: Backoff | None = None,
        node_id: str | None = None,
        poll_interval: float = 1.0,
        lease: float = 60.0,
        request_timeout: float = 10.0,
        max_in_flight: int = 64,
        drain_timeout: float = 5.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if lease <= request_timeout:
            raise ValueError("the lease must outlast a request, or a row could be sent twice")
        self._outbox = OutboxRepository(database=database)
        self._client = client
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._node = node_id or f"node-{uuid.uuid4().hex[:12]}"
        self._poll = poll_interval
        self._lease = timedelta(seconds=lease)
        self._request_timeout = request_timeout
        self._max_in_flight = max_in_flight
        self._drain_timeout = drain_timeout
        self._rng = rng
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._sends: dict[int, asyncio.Task[None]] = {}
        self._settled: list[Outcome] = []

    @property
    def node_id(self) -> str:
        return self._node

    @property
    def in_flight(self) -> int:
        return len(self._sends)

    def start(self) -> None:
        if self._loop_task is not None:
            raise RuntimeError("dispatcher already started")
        self._loop_task = asyncio.create_task(self._run(), name=f"webhooks-{self._node}")

    def notify(self) -> None:
        """A delivery was committed: look for due rows now."""
        self._wake.set()

    async def close(self) -> None:
        """Stop claiming, let in-flight sends finish (up to ``drain_timeout``), stop."""
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._sends:
            await asyncio.wait(list(self._sends.values()), timeout=self._drain_timeout)
        await self._cancel_sends()
        with contextlib.suppress(SQLAlchemyError):
            await self._flush()
            await self._outbox.release(node=self._node)

    async def _cancel_sends(self) -> None:
        sends = list(self._sends.values())
        for send in sends:
            send.cancel()
        await asyncio.gather(*sends, return_exceptions=True)
        self._sends.clear()

    async def _run(self) -> None:
        await self._outbox.release(node=self._node)  # leases left by our previous run
        while True:
            self._wake.clear()
            try:
                await self._flush()
                timeout = await self._dispatch_due()
            except SQLAlchemyError:
                log.exception("webhook outbox access failed; retrying")
                timeout = self._poll
            await self._sleep(timeout)

    async def _sleep(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _flush(self) -> None:
        """Write the outcomes of finished sends, all in one transaction."""
        outcomes, self._settled = self._settled, []
        if not outcomes:
            return
        try:
            await self._outbox.settle(outcomes, node=self._node)
        except SQLAlchemyError:
            self._settled[:0] = outcomes
            raise

    async def _dispatch_due(self) -> float:
        """Claim and start what is due; returns how long to sleep before looking again."""
        capacity = self._max_in_flight - len(self._sends)
        if capacity <= 0:
            return self._poll  # a finishing send wakes us
        now = self._clock.now()
        items = await self._outbox.due(now=now, limit=capacity, exclude=self._sends)
        if items and await self._claim_and_send(items, now=now):
            return self._poll  # each finishing send wakes us
        next_due = await self._outbox.next_due_at(now=self._clock.now())
        return self._until(next_due)

    def _until(self, moment: datetime | None) -> float:
        if moment is None:
            return self._poll
        seconds = (moment - self._clock.now()).total_seconds()
        return min(self._poll, max(0.0, seconds))

    async def _claim_and_send(self, items: tuple[OutboxItem, ...], *, now: datetime) -> int:
        ids = [i.delivery.id for i in items]
        lease_until = now + self._lease
        won = set(await self._outbox.claim(ids, node=self._node, now=now, lease_until=lease_until))
        for item in items:
            if item.delivery.id in won:
                self._spawn(item)
        return len(won)

    def _spawn(self, item: OutboxItem) -> None:
        delivery_id = item.delivery.id
        task = asyncio.create_task(self._deliver(item), name=f"webhook-{delivery_id}")
        self._sends[delivery_id] = task
        task.add_done_callback(lambda t: self._send_done(delivery_id, t))

    def _send_done(self, delivery_id: int, task: asyncio.Task[None]) -> None:
        self._sends.pop(delivery_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook %s: send task failed", delivery_id, exc_info=task.exception())
        self._wake.set()  # record the outcome; the call's next row may be eligible now

    async def _deliver(self, item: OutboxItem) -> None:
        request = build_request(
            item.delivery,
            optional=item.optional,
            signing_secret=item.signing_secret,
            timestamp=int(self._clock.now().timestamp()),
        )
        attempt = await self._send(request)
        self._settled.append(self._outcome(item, attempt))

    async def _send(self, request: WebhookRequest) -> Attempt:
        try:
            async with asyncio.timeout(self._request_timeout):
                response = await self._client.request(
                    request.method,
                    request.url,
                    headers=list(request.headers),
                    content=request.body or None,
                )
        except TimeoutError:
            return Attempt(status_code=None, error="timed out")
        except httpx.HTTPError as exc:
            return Attempt(status_code=None, error=f"{type(exc).__name__}: {exc}")
        code = response.status_code
        return Attempt(status_code=code, error=None if 200 <= code < 300 else f"status {code}")

    def _outcome(self, item: OutboxItem, attempt: Attempt) -> Outcome:
        delivery_id, now = item.delivery.id, self._clock.now()
        if attempt.ok:
            return Outcome(
                delivery_id=delivery_id,
                status=DeliveryStatus.DELIVERED,
                at=now,
                status_code=attempt.status_code,
            )
        attempts = item.delivery.attempts + 1
        error = attempt.error or "failed"
        if self._backoff.exhausted(attempts):
            log.warning("webhook %s failed for good after %d attempts", delivery_id, attempts)
            return Outcome(
                delivery_id=delivery_id,
                status=DeliveryStatus.FAILED,
                at=now,
                status_code=attempt.status_code,
                error=error,
            )
        retry_at = now + timedelta(seconds=self._backoff.delay(attempts, self._rng()))
        return Outcome(
            delivery_id=delivery_id,
            status=DeliveryStatus.PENDING,
            at=now,
            status_code=attempt.status_code,
            error=error,
            next_attempt_at=retry_at,
        )
