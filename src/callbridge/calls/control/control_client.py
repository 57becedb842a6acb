"""ControlClient: asks a number's ``control_url`` what to do with a call.

A POST of the ``IncomingCall`` form; the answer's body must parse as a plan
(:mod:`.plan_parser`; its Content-Type is not looked at, so ``application/xml`` and
``text/xml`` both do).  No answer, a timeout, a non-2xx status or an unusable body is a
failed attempt, retried up to ``retries`` times, ``RETRY_PAUSE`` apart.  Each attempt is
reported as it ends (the call's timeline).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from callbridge.callflow.errors import FetchError
from callbridge.calls.control.plan import Plan, PlanError
from callbridge.calls.control.plan_parser import MAX_PLAN_BYTES, parse_plan
from callbridge.calls.control.settings import RETRY_PAUSE, NumberControl
from callbridge.calls.http_fetch import fetch_bounded
from callbridge.httpclient.port import HttpRequests

log = logging.getLogger(__name__)

_ANSWERED = re.compile(r"answered (\d{3})")


@dataclass(frozen=True, kw_only=True)
class ControlAttempt:
    """One request: ``status`` the HTTP status when one came (a 2xx is shown as 200: the
    client reports only that it was a success), ``error`` why it failed (``None``: a usable
    plan), ``latency`` in seconds."""

    attempt: int
    status: int | None
    error: str | None
    latency: float

    def event(self) -> dict[str, object]:
        return {
            "attempt": self.attempt,
            "status_code": self.status,
            "error": self.error,
            "latency_ms": round(self.latency * 1000, 1),
        }


OnAttempt = Callable[[ControlAttempt], Awaitable[None]]


class ControlClient:
    def __init__(self, *, http: HttpRequests, pause: float = RETRY_PAUSE) -> None:
        self._http = http
        self._pause = pause

    async def ask(
        self,
        control: NumberControl,
        form: Mapping[str, str],
        *,
        on_attempt: OnAttempt,
        signing_secret: str | None = None,
    ) -> Plan | None:
        """The plan the control URL answered, or ``None`` once every attempt failed."""
        target = control.control
        if target is None:
            return None
        for attempt in range(1, control.retries + 2):
            if attempt > 1:
                await asyncio.sleep(self._pause)
            started = time.monotonic()
            status: int | None = None
            try:
                body = await fetch_bounded(
                    self._http,
                    target.url,
                    method="POST",
                    params=form,
                    max_bytes=MAX_PLAN_BYTES,
                    timeout=control.timeout,
                    signing_secret=signing_secret,
                    headers=target.headers,
                )
                status = 200
                plan = parse_plan(body)
            except (FetchError, PlanError) as exc:
                error = str(exc)
                found = _ANSWERED.search(error)
                status = int(found.group(1)) if found else status
                await on_attempt(
                    ControlAttempt(
                        attempt=attempt,
                        status=status,
                        error=error,
                        latency=time.monotonic() - started,
                    )
                )
                log.info("call control %s attempt %d: %s", target.url, attempt, error)
                continue
            await on_attempt(
                ControlAttempt(
                    attempt=attempt, status=status, error=None, latency=time.monotonic() - started
                )
            )
            return plan
        return None
