"""Sends the outbox: each delivery once, a call's deliveries strictly in seq order.

One worker loop claims due rows (leased to this node, so other nodes skip them) and
starts a send task per row; different calls go out concurrently, one call's rows one
at a time, because only the earliest pending row of a call is ever eligible. A 2xx
response marks a row delivered; anything else (status, timeout, connection error) is
retried on the :class:`Backoff` schedule until it is exhausted, then marked failed.

:meth:`WebhookDispatcher.notify` wakes the loop as soon as a delivery is committed, so
there is no polling delay in the common case; the loop still polls every
``poll_interval`` as a fallback (rows written by another node, expired leases).

The direct path: the call repository of this process inserts most rows already leased to
this dispatcher (:meth:`WebhookDispatcher.direct_claim`) and hands them over once committed
(:meth:`WebhookDispatcher.take`), so they are sent with no query at all. Each call's rows
still go one at a time, in order: a row waits in memory while an earlier row of its call is
being sent. When a row of a call must be retried, that call's later rows go back to the
outbox (their leases dropped) and follow it there. Outcomes are written in batches: at
once when nothing else is being sent, else after at most ``settle_delay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from callbridge.httpclient.port import HttpRequests
from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.store.models import DeliveryStatus
from callbridge.store.outbox import DirectClaim, OutboxItem, OutboxRepository, Outcome
from callbridge.store.records import DeliveryRecord
from callbridge.webhooks.attempt import Attempt, attempt_outcome, send_once
from callbridge.webhooks.backoff import Backoff
from callbridge.webhooks.request import WebhookRequest, build_request

log = logging.getLogger(__name__)

FLUSH_POLL = 0.05
RequestSigner = Callable[[DeliveryRecord, WebhookRequest], WebhookRequest]


class WebhookDispatcher:
    def __init__(
        self,
        *,
        database: Database,
        client: HttpRequests,
        clock: Clock,
        backoff: Backoff | None = None,
        node_id: str | None = None,
        poll_interval: float = 1.0,
        lease: float = 60.0,
        request_timeout: float = 10.0,
        max_in_flight: int = 64,
        drain_timeout: float = 5.0,
        settle_delay: float = 0.05,
        rng: Callable[[], float] = random.random,
        sign: RequestSigner | None = None,
    ) -> None:
        """``sign`` adds a signature of another scheme to each request (e.g. Twilio's
        :class:`~callbridge.webhooks.twilio_signature.TwilioWebhookSigner`)."""
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
        self._settle_delay = settle_delay
        self._rng = rng
        self._sign = sign
        self._wake = asyncio.Event()
        self._scan = True  # look for due rows at the next turn of the loop
        self._next_scan = 0.0  # monotonic time of the next look in any case
        self._loop_task: asyncio.Task[None] | None = None
        self._sends: dict[int, asyncio.Task[Outcome]] = {}
        self._settled: list[Outcome] = []
        self._settled_since: float | None = None  # monotonic time of the oldest unwritten
        self._flush_now = False  # an outcome the outbox path waits for
        self._release: list[int] = []  # rows handed over that go back to the outbox
        # The direct path.
        self._taking = False
        self._sending: dict[str, int] = {}  # call sid -> the delivery being sent
        # Rows waiting for their call's turn, each with the monotonic time after which its
        # lease is too short to send it.
        self._held: dict[str, deque[tuple[OutboxItem, float]]] = {}
        self._ready: deque[str] = deque()  # calls whose next held row may go now
        self._blocked: set[str] = set()  # calls with a row the outbox will resend

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
        self._scan = True
        self._wake.set()

    def direct_claim(self) -> DirectClaim | None:
        """The lease for a row written now, or ``None`` while rows are not taken directly
        (before our own old leases are dropped at start, and once closing)."""
        if not self._taking:
            return None
        return DirectClaim(node=self._node, lease_until=self._clock.now() + self._lease)

    def take(self, item: OutboxItem) -> None:
        """A row committed leased to us (``direct_claim``): send it in its call's turn."""
        sid = item.delivery.call_sid
        if not self._taking or sid in self._blocked:
            self._give_back([item])
            return
        held = self._held.get(sid)
        if held is None:
            held = self._held[sid] = deque()
            if sid not in self._sending:
                self._ready.append(sid)
        usable = self._lease.total_seconds() - self._request_timeout
        held.append((item, time.monotonic() + usable / 2))
        self._start_ready()

    async def flush(self, timeout: float) -> bool:
        """Wait (up to ``timeout`` s) until nothing is being sent, held or due now: before a
        shutdown, the callbacks the last calls owe go out.  False if some are left: those
        stay in the outbox, sent by the next start (or another node).  A row waiting for a
        retry later is not waited for."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not self._sends and not self._held and not self._settled and not self._release:
                try:
                    next_due = await self._outbox.next_due_at(now=self._clock.now())
                except SQLAlchemyError:
                    return False
                if next_due is None or next_due > self._clock.now():
                    return True
            self._wake.set()
            await asyncio.sleep(FLUSH_POLL)
        return False

    async def close(self) -> None:
        """Stop claiming, let in-flight sends finish (up to ``drain_timeout``), stop."""
        self._taking = False
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._sends:
            await asyncio.wait(list(self._sends.values()), timeout=self._drain_timeout)
        await self._cancel_sends()
        self._held.clear()
        self._ready.clear()
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
        while True:  # leases left by our previous run: before any row is taken directly
            try:
                await self._outbox.release(node=self._node)
                break
            except SQLAlchemyError:
                log.exception("webhook outbox access failed; retrying")
                await asyncio.sleep(self._poll)
        self._taking = True
        while True:
            self._wake.clear()
            try:
                if self._flush_due():
                    await self._flush()
                if self._scan or time.monotonic() >= self._next_scan:
                    self._scan = False
                    timeout = await self._dispatch_due()
                    self._next_scan = time.monotonic() + timeout
            except SQLAlchemyError:
                log.exception("webhook outbox access failed; retrying")
                self._scan = True
                self._next_scan = time.monotonic() + self._poll
            await self._sleep(self._sleep_time())

    def _flush_due(self) -> bool:
        """Write outcomes now when the outbox path waits for them or nothing else is being
        sent; else once the oldest has waited ``settle_delay`` (a batch)."""
        if not self._settled and not self._release:
            return False
        if self._flush_now or not self._sends:
            return True
        since = self._settled_since
        return since is None or time.monotonic() - since >= self._settle_delay

    def _sleep_time(self) -> float:
        until = self._next_scan
        if self._settled_since is not None:
            until = min(until, self._settled_since + self._settle_delay)
        return max(0.0, until - time.monotonic())

    async def _sleep(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _flush(self) -> None:
        """Write the outcomes of finished sends and drop the leases of rows given back,
        all in one transaction."""
        outcomes, self._settled = self._settled, []
        release, self._release = self._release, []
        since, self._settled_since = self._settled_since, None
        self._flush_now = False
        if not outcomes and not release:
            return
        try:
            await self._outbox.settle(outcomes, node=self._node, release=release)
        except SQLAlchemyError:
            self._settled[:0] = outcomes
            self._release[:0] = release
            self._settled_since = since or time.monotonic()
            raise

    async def _dispatch_due(self) -> float:
        """Claim and start what is due; returns how long to sleep before looking again."""
        capacity = self._max_in_flight - len(self._sends)
        if capacity <= 0:
            return self._poll  # a finishing send wakes us
        now = self._clock.now()
        held = [item.delivery.id for rows in self._held.values() for item, _ in rows]
        items = await self._outbox.due(now=now, limit=capacity, exclude=[*self._sends, *held])
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
                self._spawn(item, direct=False)
        return len(won)

    def _start_ready(self) -> None:
        """Start the held rows whose call is free, while there is room."""
        while self._taking and self._ready and len(self._sends) < self._max_in_flight:
            sid = self._ready.popleft()
            held = self._held.get(sid)
            if not held or sid in self._sending:
                continue
            item, usable_until = held.popleft()
            if not held:
                del self._held[sid]
            if time.monotonic() > usable_until:  # waited too long: the outbox path sends it
                self._blocked.add(sid)
                self._give_back([item, *(i for i, _ in self._held.pop(sid, ()))])
                continue
            self._spawn(item, direct=True)

    def _spawn(self, item: OutboxItem, *, direct: bool) -> None:
        delivery_id, sid = item.delivery.id, item.delivery.call_sid
        task = asyncio.create_task(self._deliver(item), name=f"webhook-{delivery_id}")
        self._sends[delivery_id] = task
        self._sending[sid] = delivery_id
        task.add_done_callback(lambda t: self._send_done(item, t, direct=direct))

    def _send_done(self, item: OutboxItem, task: asyncio.Task[Outcome], *, direct: bool) -> None:
        delivery_id, sid = item.delivery.id, item.delivery.call_sid
        self._sends.pop(delivery_id, None)
        if self._sending.get(sid) == delivery_id:
            del self._sending[sid]
        outcome: Outcome | None = None
        if not task.cancelled():
            if task.exception() is not None:
                log.error("webhook %s: send task failed", delivery_id, exc_info=task.exception())
            else:
                outcome = task.result()
                self._settled.append(outcome)
                if self._settled_since is None:
                    self._settled_since = time.monotonic()
        retry = outcome is None or outcome.status is DeliveryStatus.PENDING
        if retry:
            # To be sent again from the outbox: the call's later rows wait for it there.
            self._blocked.add(sid)
            self._give_back(item for item, _ in self._held.pop(sid, ()))
        elif not direct:
            self._blocked.discard(sid)  # the outbox moved past the row it resent
        if sid in self._held:
            self._ready.append(sid)
        if retry or not direct:
            # The outbox path waits for this outcome: the call's next row becomes due, or
            # the retry is scheduled.
            self._flush_now = self._scan = True
        self._start_ready()
        self._wake.set()

    def _give_back(self, items: Iterable[OutboxItem]) -> None:
        """Rows leased to us that the outbox path sends instead (their leases dropped)."""
        ids = [item.delivery.id for item in items]
        if ids:
            self._release.extend(ids)
            self._flush_now = self._scan = True
            self._wake.set()

    async def _deliver(self, item: OutboxItem) -> Outcome:
        request = build_request(
            item.delivery,
            optional=item.optional,
            signing_secret=item.signing_secret,
            timestamp=int(self._clock.now().timestamp()),
        )
        if self._sign is not None:
            request = self._sign(item.delivery, request)
        attempt = await self._send(request)
        return self._outcome(item, attempt)

    async def _send(self, request: WebhookRequest) -> Attempt:
        return await send_once(self._client, request, timeout=self._request_timeout)

    def _outcome(self, item: OutboxItem, attempt: Attempt) -> Outcome:
        return attempt_outcome(
            item, attempt, now=self._clock.now(), backoff=self._backoff, rng=self._rng
        )


__all__ = ["FLUSH_POLL", "Attempt", "RequestSigner", "WebhookDispatcher"]
