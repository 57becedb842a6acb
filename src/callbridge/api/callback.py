"""The two-leg callback API (seed-000).

    POST /voice/call/callback           call leg_A and leg_B and bridge them (JSON)   201
    GET  /voice/call/callback/{id}      the callback, both legs, their events and webhooks

Every request carries an API key (the ``apikey`` header, query field or body field); a
key sees only its own callbacks.  A callback counts as one call against the key's limits.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from callbridge.api.auth import Authenticator
from callbridge.api.body import FORM, JSON, MAX_BODY_BYTES, query_fields, read_body
from callbridge.api.errors import ApiError
from callbridge.api.idempotency import IdempotencyClaims, run_once
from callbridge.calls.ports import CallbackService
from callbridge.dialects.accepted import warnings_json
from callbridge.dialects.callback_request import parse_callback, read_callback_document
from callbridge.dialects.callback_resource import (
    CALLBACK_PREFIX,
    callback_detail_json,
    callback_link,
    placed_callback_json,
)
from callbridge.dialects.errors import InvalidRequest
from callbridge.dialects.json_object import JsonDocument


def callback_router(
    *,
    callbacks: CallbackService,
    auth: Authenticator,
    max_body_bytes: int = MAX_BODY_BYTES,
    idempotency: IdempotencyClaims | None = None,
) -> APIRouter:
    router = APIRouter(prefix=CALLBACK_PREFIX)

    @router.post("", status_code=201)
    async def place_callback(request: Request) -> JSONResponse:
        body = await read_body(request, limit=max_body_bytes)
        query = query_fields(request)
        try:
            document = decode_callback_body(request.headers.get("content-type", ""), body)
        except (InvalidRequest, ApiError):
            if auth.key_given(request, query):  # a bad key is told before a bad body
                await auth.authenticate(request, query)
            raise
        key = await auth.authenticate(request, query, document.scalar_fields())
        asked = parse_callback(document, api_key_id=key.id)

        async def place() -> JSONResponse:
            placed = await callbacks.place_callback(asked.value)
            headers = {"Location": callback_link(placed.id)}
            reply = placed_callback_json(placed)
            if asked.warnings:
                reply["warnings"] = warnings_json(asked.warnings)
            return JSONResponse(reply, status_code=201, headers=headers)

        return await run_once(
            request,
            claims=idempotency,
            api_key_id=key.id,
            operation="place_callback",
            asked=document.pairs,
            run=place,
        )

    @router.get("/{callback_id}")
    async def get_callback(callback_id: str, request: Request) -> JSONResponse:
        key = await auth.authenticate(request, query_fields(request))
        detail = await callbacks.get_callback(callback_id, api_key_id=key.id)
        return JSONResponse(callback_detail_json(detail))

    return router


def decode_callback_body(content_type: str, body: bytes) -> JsonDocument:
    """The JSON object of the body (an empty body is an empty object).  A form content
    type is read as JSON too: ``curl -d '{...}'`` sends one.  Raises ``InvalidRequest`` or
    a 415."""
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type not in ("", FORM, JSON) and not media_type.endswith("+json"):
        raise ApiError(
            status=415,
            error_id="unsupported_media_type",
            message=f"send the callback as {JSON}, not {media_type[:100]}",
        )
    return read_callback_document(body if body.strip() else b"{}")
