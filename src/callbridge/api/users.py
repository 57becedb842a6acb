"""The PBX's users and their presence.

    GET /api/v2/users     every [[users]] extension: its state (online, busy, wrapup,
                          offline), its registered contacts and its answered calls today

Any valid API key may read it.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from callbridge.api.auth import Authenticator
from callbridge.api.body import query_fields
from callbridge.calls.presence import UserPresence
from callbridge.dialects.call_resource import API_PREFIX


class UserDirectory(Protocol):
    def users(self) -> list[UserPresence]: ...


def users_router(*, presence: UserDirectory, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    @router.get("/users")
    async def list_users(request: Request) -> JSONResponse:
        await auth.authenticate(request, query_fields(request))
        return JSONResponse(
            {"users": [user_json(each) for each in presence.users()]},
            headers={"Cache-Control": "no-store"},
        )

    return router


def user_json(user: UserPresence) -> dict[str, object]:
    return {
        "extension": user.extension,
        "state": str(user.state),
        "contacts": list(user.contacts),
        "callsToday": user.calls_today,
    }
