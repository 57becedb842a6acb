"""The API key's own resource.

    GET /api/v2/keys/self      the key that authenticates the request: its id, name,
                               scopes, limits and the signing secret of its callbacks

The key itself is never shown (only its hash is stored).  ``callbridge keys list`` shows
every key's the same way, on the server's machine.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from callbridge.api.auth import Authenticator
from callbridge.api.body import query_fields
from callbridge.dialects.call_resource import API_PREFIX
from callbridge.store.records import ApiKeyRecord


def keys_router(*, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    @router.get("/keys/self")
    async def own_key(request: Request) -> JSONResponse:
        key = await auth.authenticate(request, query_fields(request))
        return JSONResponse(key_json(key), headers={"Cache-Control": "no-store"})

    return router


def key_json(key: ApiKeyRecord) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "scopes": list(key.scopes),
        "callsPerSecond": key.calls_per_second,
        "maxConcurrent": key.max_concurrent,
        "signingSecret": key.signing_secret,
        "createdAt": key.created_at.isoformat(),
    }
