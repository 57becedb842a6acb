"""The outbound call API (seed-001): place, inspect, list, hang up and redirect calls, and
fetch their recordings.

    POST /api/v2/calls                  place a call (form or JSON)        201
    POST /didforsaleapi/index.php/api/V2/CallTermination/   the same, at the seed's path
    GET  /api/v2/calls                  list: status, direction, from, to, parent, external_id,
                                        call_id (seed-004), limit, cursor
    GET  /api/v2/calls/{sid}            one call with its legs, recordings, events, webhooks
    POST /api/v2/calls/{sid}            Status=completed hangs up; Url (+ Method) redirects
    GET  /api/v2/recordings/{id}.wav    a recording's WAV file

Every request carries an API key; a key sees only its own calls.  The seed sends a call's
``from``, ``to`` and ``url`` "in the post headers": they are read from HTTP headers of those
names too, a body field winning over its header.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from callbridge.api.auth import Authenticator
from callbridge.api.body import MAX_BODY_BYTES, decode_fields, query_fields, read_body
from callbridge.api.errors import ApiError
from callbridge.api.idempotency import IdempotencyClaims, run_once
from callbridge.calls.errors import CallNotFound
from callbridge.calls.ports import CallService
from callbridge.dialects.accepted import warnings_json
from callbridge.dialects.call_resource import (
    API_PREFIX,
    call_detail_json,
    call_json,
    call_link,
    call_page_json,
)
from callbridge.dialects.errors import InvalidRequest
from callbridge.dialects.fields import Fields
from callbridge.dialects.outbound_call import (
    RedirectCall,
    parse_call_query,
    parse_call_update,
    parse_outbound_call,
)
from callbridge.store.records import ApiKeyRecord, CallFilters

MAX_CHILDREN = 100
WAV = "audio/wav"
SEED_PATH = "/didforsaleapi/index.php/api/V2/CallTermination"
HEADER_FIELDS = ("from", "to", "url")


def calls_router(
    *,
    calls: CallService,
    auth: Authenticator,
    max_body_bytes: int = MAX_BODY_BYTES,
    idempotency: IdempotencyClaims | None = None,
) -> APIRouter:
    """The routes under ``/api/v2``, and the seed's own path of placing a call."""
    router = APIRouter()

    async def key_and_body(request: Request) -> tuple[ApiKeyRecord, Fields]:
        body = await read_body(request, limit=max_body_bytes)
        query = query_fields(request)
        try:
            fields = decode_fields(request.headers.get("content-type", ""), body)
        except (InvalidRequest, ApiError):
            if auth.key_given(request, query):  # a bad key is told before a bad body
                await auth.authenticate(request, query)
            raise
        return await auth.authenticate(request, query, fields), fields

    async def place_call(request: Request) -> JSONResponse:
        key, body_fields = await key_and_body(request)
        fields = with_header_fields(body_fields, request)
        asked = parse_outbound_call(fields, api_key_id=key.id)

        async def place() -> JSONResponse:
            record = await calls.place_call(asked.value)
            reply = call_json(record)
            if asked.warnings:
                reply["warnings"] = warnings_json(asked.warnings)
            link = call_link(record.sid)
            return JSONResponse(reply, status_code=201, headers={"Location": link})

        return await run_once(
            request,
            claims=idempotency,
            api_key_id=key.id,
            operation="place_call",
            asked=sorted(fields.values.items()),
            run=place,
        )

    for path in (f"{API_PREFIX}/calls", SEED_PATH, f"{SEED_PATH}/"):
        router.add_api_route(path, place_call, methods=["POST"], status_code=201)

    @router.get(f"{API_PREFIX}/calls")
    async def list_calls(request: Request) -> JSONResponse:
        query = query_fields(request)
        key = await auth.authenticate(request, query)
        asked = parse_call_query(query, api_key_id=key.id)
        page = await calls.list_calls(asked.filters, cursor=asked.cursor, limit=asked.limit)
        return JSONResponse(call_page_json(page, filters=asked.filters, limit=asked.limit))

    @router.get(f"{API_PREFIX}/calls/{{sid}}")
    async def get_call(sid: str, request: Request) -> JSONResponse:
        key = await auth.authenticate(request, query_fields(request))
        detail = await calls.get_call(sid, api_key_id=key.id)
        children = await calls.list_calls(
            CallFilters(api_key_id=key.id, parent_sid=sid), cursor=None, limit=MAX_CHILDREN
        )
        return JSONResponse(call_detail_json(detail, children=reversed(children.calls)))

    @router.post(f"{API_PREFIX}/calls/{{sid}}")
    async def update_call(sid: str, request: Request) -> JSONResponse:
        key, fields = await key_and_body(request)
        update = parse_call_update(fields)
        if isinstance(update, RedirectCall):
            record = await calls.redirect(sid, update.url, update.method, api_key_id=key.id)
        else:
            record = await calls.hang_up(sid, api_key_id=key.id)
        return JSONResponse(call_json(record))

    @router.get(f"{API_PREFIX}/recordings/{{recording_id}}.wav")
    async def get_recording(recording_id: str, request: Request) -> FileResponse:
        key = await auth.authenticate(request, query_fields(request))
        missing = ApiError(
            status=404, error_id="recording_not_found", message=f"no recording {recording_id}"
        )
        if not recording_id.isascii() or not recording_id.isdigit() or len(recording_id) > 18:
            raise missing
        try:
            path = await calls.recording_path(int(recording_id), api_key_id=key.id)
        except CallNotFound as exc:
            raise missing from exc
        if not await asyncio.to_thread(Path(path).is_file):
            raise missing
        return FileResponse(path, media_type=WAV)

    return router


def with_header_fields(fields: Fields, request: Request) -> Fields:
    """``fields`` with the seed's header fields (``from``, ``to``, ``url``) added where the
    body has none of that name."""
    extra = [
        (name, request.headers[name])
        for name in HEADER_FIELDS
        if request.headers.get(name, "").strip() and not any(v.strip() for v in fields.get(name))
    ]
    if not extra:
        return fields
    pairs = [(name, value) for name, values in fields.values.items() for value in values]
    return Fields.of([*pairs, *extra])
