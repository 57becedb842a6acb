"""``Idempotency-Key`` on the POSTs that create calls (``/api/v2/calls`` and the seed's path
of it, ``/voice/call/callback``).

A request with the header claims its key for its API key (:mod:`callbridge.store.idempotency`):
the first one runs and its reply (the 201 and its body) is kept
24 hours; the same key with the same request is answered that reply again, with
``Idempotent-Replayed: true``, and places no second call; the same key with another request
is a 409 (``idempotency_key_reused``), and so is a retry while the first is still running
(``idempotency_key_in_progress``, with Retry-After).  A request that fails before it is
answered (a limit, overload, a crash) releases its claim, so a retry runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import Request
from fastapi.responses import JSONResponse

from callbridge.api.errors import ApiError
from callbridge.store.idempotency import (
    MAX_KEY_CHARS,
    ClaimOutcome,
    KeyReused,
    Replay,
    StillRunning,
    StoredReply,
)

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
KEPT_HEADERS = ("location",)


class IdempotencyClaims(Protocol):
    """What the API needs of the idempotency store."""

    async def claim(self, *, api_key_id: str, key: str, fingerprint: str) -> ClaimOutcome: ...

    async def complete(self, *, api_key_id: str, key: str, reply: StoredReply) -> None: ...

    async def release(self, *, api_key_id: str, key: str) -> None: ...


def fingerprint(operation: str, asked: object) -> str:
    """What a request asks, as a digest: the operation and its parsed fields."""
    text = json.dumps([operation, asked], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key``; a 400 when it is blank, too long or not printable
    ASCII."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    key = value.strip()
    if not key or len(key) > MAX_KEY_CHARS or not all(33 <= ord(c) < 127 for c in key):
        raise ApiError(
            status=400,
            error_id="idempotency_key_invalid",
            message=f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable ASCII characters",
        )
    return key


async def run_once(
    request: Request,
    *,
    claims: IdempotencyClaims | None,
    api_key_id: str,
    operation: str,
    asked: object,
    run: Callable[[], Awaitable[JSONResponse]],
) -> JSONResponse:
    """``run()``'s reply, or the reply kept for the request's ``Idempotency-Key``."""
    key = idempotency_key(request)
    if key is None or claims is None:
        return await run()
    outcome = await claims.claim(
        api_key_id=api_key_id, key=key, fingerprint=fingerprint(operation, asked)
    )
    if isinstance(outcome, Replay):
        headers = {**outcome.reply.headers, REPLAYED: "true"}
        return JSONResponse(
            outcome.reply.body, status_code=outcome.reply.status_code, headers=headers
        )
    if isinstance(outcome, KeyReused):
        raise ApiError(
            status=409,
            error_id="idempotency_key_reused",
            message="this Idempotency-Key was used for a different request in the last 24 hours",
        )
    if isinstance(outcome, StillRunning):
        raise ApiError(
            status=409,
            error_id="idempotency_key_in_progress",
            message="the first request with this Idempotency-Key is still running; retry",
            headers={"Retry-After": "1"},
        )
    try:
        response = await run()
    except BaseException:
        await claims.release(api_key_id=api_key_id, key=key)
        raise
    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    reply = StoredReply(
        status_code=response.status_code, body=json.loads(bytes(response.body)), headers=kept
    )
    await claims.complete(api_key_id=api_key_id, key=key, reply=reply)
    return response
