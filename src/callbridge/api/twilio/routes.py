"""The Twilio-compatible Calls API (Twilio's REST API 2010-04-01, its Calls resource):

    POST /2010-04-01/Accounts/{AccountSid}/Calls.json                 create      201
    GET  /2010-04-01/Accounts/{AccountSid}/Calls.json                 list (paged)
    GET  /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json       fetch
    POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json       update: Status, Url, Twiml
    GET  /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Recordings.json
    GET  /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.wav   the audio

HTTP Basic auth (:mod:`callbridge.api.twilio.auth`), form-encoded bodies, resources and
errors in Twilio's shapes (:mod:`callbridge.dialects.twilio_resource`,
:mod:`callbridge.api.twilio.errors`).  Calls created here word their status callbacks
and document fetches as Twilio does (:class:`~callbridge.dialects.twilio_callbacks.
TwilioCallDialect`), signed with ``X-Twilio-Signature``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from callbridge.api.body import MAX_BODY_BYTES, decode_fields, query_fields, read_body
from callbridge.api.errors import ApiError
from callbridge.api.idempotency import IdempotencyClaims, run_once
from callbridge.api.twilio.auth import TwilioAuthenticator
from callbridge.calls.errors import CallNotFound
from callbridge.calls.ports import CallService
from callbridge.dialects.fields import Fields
from callbridge.dialects.twilio_callbacks import TwilioCallDialect
from callbridge.dialects.twilio_calls import (
    HangUp,
    Redirect,
    RunTwiml,
    parse_create_call,
    parse_list_query,
    parse_update_call,
)
from callbridge.dialects.twilio_resource import (
    API_ROOT,
    account_uri,
    call_list,
    call_resource,
    call_uri,
    recording_list,
    recording_resource,
    recording_sid,
)
from callbridge.store.records import ApiKeyRecord

ACCOUNT = f"{API_ROOT}/Accounts/{{account_sid}}"
RECORDING_SID = re.compile(r"RE0{16}[0-7][0-9a-f]{15}")  # a store id: below 2**63
WAV = "audio/wav"


def twilio_router(
    *,
    calls: CallService,
    auth: TwilioAuthenticator,
    max_body_bytes: int = MAX_BODY_BYTES,
    idempotency: IdempotencyClaims | None = None,
) -> APIRouter:
    router = APIRouter()

    async def key_and_form(request: Request, account_sid: str) -> tuple[ApiKeyRecord, Fields]:
        key = await auth.authenticate(request, account_sid)
        body = await read_body(request, limit=max_body_bytes)
        return key, decode_fields(request.headers.get("content-type", ""), body)

    @router.post(f"{ACCOUNT}/Calls.json", status_code=201)
    async def create_call(account_sid: str, request: Request) -> JSONResponse:
        key, fields = await key_and_form(request, account_sid)
        dialect = TwilioCallDialect(account_sid=key.name, tokens=auth.tokens)
        asked = parse_create_call(fields, api_key_id=key.id, dialect=dialect)

        async def place() -> JSONResponse:
            record = await calls.place_call(asked)
            reply = call_resource(record, account_sid=key.name)
            location = call_uri(key.name, record.sid)
            return JSONResponse(reply, status_code=201, headers={"Location": location})

        return await run_once(
            request,
            claims=idempotency,
            api_key_id=key.id,
            operation="twilio_create_call",
            asked=sorted(fields.values.items()),
            run=place,
        )

    @router.get(f"{ACCOUNT}/Calls.json")
    async def list_calls(account_sid: str, request: Request) -> JSONResponse:
        key = await auth.authenticate(request, account_sid)
        asked = parse_list_query(query_fields(request), api_key_id=key.id)
        page = await calls.list_calls(asked.filters, cursor=asked.cursor, limit=asked.page_size)
        reply = call_list(
            page,
            account_sid=key.name,
            query=request.query_params.multi_items(),
            page_number=asked.page,
            page_size=asked.page_size,
            page_token=None if asked.cursor is None else asked.cursor.encode(),
        )
        return JSONResponse(reply)

    @router.get(f"{ACCOUNT}/Calls/{{call_sid}}.json")
    async def fetch_call(account_sid: str, call_sid: str, request: Request) -> JSONResponse:
        key = await auth.authenticate(request, account_sid)
        detail = await calls.get_call(call_sid, api_key_id=key.id)
        return JSONResponse(call_resource(detail.call, account_sid=key.name))

    @router.post(f"{ACCOUNT}/Calls/{{call_sid}}.json")
    async def update_call(account_sid: str, call_sid: str, request: Request) -> JSONResponse:
        key, fields = await key_and_form(request, account_sid)
        update = parse_update_call(fields)
        if isinstance(update, HangUp):
            record = await calls.hang_up(call_sid, api_key_id=key.id)
        elif isinstance(update, Redirect):
            record = await calls.redirect(call_sid, update.url, update.method, api_key_id=key.id)
        elif isinstance(update, RunTwiml):
            record = await calls.run_program(call_sid, update.program, api_key_id=key.id)
        return JSONResponse(call_resource(record, account_sid=key.name))

    @router.get(f"{ACCOUNT}/Calls/{{call_sid}}/Recordings.json")
    async def list_recordings(account_sid: str, call_sid: str, request: Request) -> JSONResponse:
        key = await auth.authenticate(request, account_sid)
        detail = await calls.get_call(call_sid, api_key_id=key.id)
        items = (
            recording_resource(
                each,
                account_sid=key.name,
                media_url=f"{account_uri(key.name)}/Recordings/{recording_sid(each.id)}.wav",
            )
            for each in detail.recordings
        )
        return JSONResponse(recording_list(items, account_sid=key.name, call_sid=call_sid))

    @router.get(f"{ACCOUNT}/Recordings/{{recording}}.wav")
    async def recording_audio(account_sid: str, recording: str, request: Request) -> FileResponse:
        key = await auth.authenticate(request, account_sid)
        missing = ApiError(
            status=404, error_id="not_found", message=f"no recording {recording[:40]}"
        )
        if not RECORDING_SID.fullmatch(recording):
            raise missing
        try:
            path = await calls.recording_path(int(recording[2:], 16), api_key_id=key.id)
        except CallNotFound as exc:
            raise missing from exc
        if not await asyncio.to_thread(Path(path).is_file):
            raise missing
        return FileResponse(path, media_type=WAV)

    return router
