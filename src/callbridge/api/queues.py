"""The queues as they are now.

    GET /api/v2/queues          every queue
    GET /api/v2/queues/{id}     one: waiting callers, members and their states, callers
                                answered, abandoned, overflowed and left (durable:
                                kept in the store, added up over the nodes), the
                                average wait

Any API key with the ``call`` scope sees them (queues belong to the operator's PBX).
"""

from __future__ import annotations

from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from callbridge.api.auth import Authenticator
from callbridge.api.body import query_fields
from callbridge.calls.queues.snapshot import QueueSnapshot
from callbridge.dialects.call_resource import API_PREFIX
from callbridge.dialects.queue_resource import queue_json


class QueueDirectory(Protocol):
    """The queues (``calls.queues.Queues``); ``snapshot`` raises ``UnknownQueue``."""

    async def snapshot(self, queue_id: str) -> QueueSnapshot: ...

    async def snapshots(self) -> tuple[QueueSnapshot, ...]: ...


def queues_router(*, queues: QueueDirectory, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    @router.get("/queues")
    async def list_queues(request: Request) -> JSONResponse:
        await auth.authenticate(request, query_fields(request))
        return JSONResponse({"queues": [queue_json(q) for q in await queues.snapshots()]})

    @router.get("/queues/{queue_id}")
    async def one_queue(queue_id: str, request: Request) -> JSONResponse:
        await auth.authenticate(request, query_fields(request))
        return JSONResponse(queue_json(await queues.snapshot(queue_id)))

    return router
