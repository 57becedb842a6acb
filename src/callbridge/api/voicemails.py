"""The voicemail API: the messages of the mailboxes an API key may see.

GET    /api/v2/voicemails               list, newest first: mailbox, unread=true|false
GET    /api/v2/voicemails/{id}          one message's details
GET    /api/v2/voicemails/{id}.wav      its audio (also .mp3); with the mailed link's
                                        ?token=… no API key is needed
POST   /api/v2/voicemails/{id}          marks it read
DELETE /api/v2/voicemails/{id}          deletes it and its files              204
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from callbridge.api.auth import Authenticator
from callbridge.api.body import query_fields
from callbridge.api.errors import ApiError
from callbridge.calls.voicemail.errors import VoicemailNotFound
from callbridge.calls.voicemail.mp3 import mp3_file
from callbridge.store.voicemails import VoicemailRecord

PREFIX = "/api/v2/voicemails"
MAX_ID_DIGITS = 18
MAX_FIELD_CHARS = 64


class VoicemailService(Protocol):
    """The part of :class:`callbridge.calls.voicemail.Voicemail` the API uses."""

    async def messages(
        self, *, key_name: str, mailbox: str | None, unread: bool | None, limit: int = ...
    ) -> tuple[VoicemailRecord, ...]: ...

    async def get(self, voicemail_id: int, *, key_name: str | None) -> VoicemailRecord: ...

    async def by_link(self, voicemail_id: int, token: str) -> VoicemailRecord: ...

    async def audio_path(self, record: VoicemailRecord) -> Path | None: ...

    async def mark_read(self, voicemail_id: int, *, key_name: str) -> VoicemailRecord: ...

    async def delete(self, voicemail_id: int, *, key_name: str) -> None: ...


def _missing(text: str) -> ApiError:
    return ApiError(status=404, error_id="voicemail_not_found", message=f"no voicemail {text}")


def _id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
        raise _missing(text[:MAX_FIELD_CHARS])
    return int(text)


def voicemail_json(record: VoicemailRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "mailbox": record.mailbox,
        "caller": record.caller,
        "number": record.number,
        "created_at": record.created_at.isoformat(),
        "duration": record.duration,
        "read": record.read_at is not None,
        "read_at": None if record.read_at is None else record.read_at.isoformat(),
        "wav_url": f"{PREFIX}/{record.id}.wav",
        "mp3_url": f"{PREFIX}/{record.id}.mp3",
    }


def _unread(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise ApiError(status=400, error_id="invalid_unread", message="unread is true or false")


def voicemails_router(*, voicemails: VoicemailService, auth: Authenticator) -> APIRouter:
    router = APIRouter()

    async def key_name(request: Request) -> str:
        return (await auth.authenticate(request, query_fields(request))).name

    async def audio_of(request: Request, voicemail_id: str) -> Path:
        number = _id(voicemail_id)
        token = request.query_params.get("token")
        try:
            if token:
                record = await voicemails.by_link(number, token)
            else:
                record = await voicemails.get(number, key_name=await key_name(request))
        except VoicemailNotFound as exc:
            raise _missing(voicemail_id) from exc
        path = await voicemails.audio_path(record)
        if path is None:
            raise _missing(voicemail_id)
        return path

    @router.get(f"{PREFIX}/{{voicemail_id}}.wav")
    async def get_wav(voicemail_id: str, request: Request) -> FileResponse:
        return FileResponse(await audio_of(request, voicemail_id), media_type="audio/wav")

    @router.get(f"{PREFIX}/{{voicemail_id}}.mp3")
    async def get_mp3(voicemail_id: str, request: Request) -> FileResponse:
        wav = await audio_of(request, voicemail_id)
        return FileResponse(await asyncio.to_thread(mp3_file, wav), media_type="audio/mpeg")

    @router.get(PREFIX)
    async def list_voicemails(request: Request) -> JSONResponse:
        name = await key_name(request)
        mailbox = request.query_params.get("mailbox") or None
        unread = _unread(request.query_params.get("unread"))
        records = await voicemails.messages(key_name=name, mailbox=mailbox, unread=unread)
        return JSONResponse({"voicemails": [voicemail_json(r) for r in records]})

    @router.get(f"{PREFIX}/{{voicemail_id}}")
    async def get_voicemail(voicemail_id: str, request: Request) -> JSONResponse:
        name = await key_name(request)
        try:
            record = await voicemails.get(_id(voicemail_id), key_name=name)
        except VoicemailNotFound as exc:
            raise _missing(voicemail_id) from exc
        return JSONResponse(voicemail_json(record))

    @router.post(f"{PREFIX}/{{voicemail_id}}")
    async def mark_read(voicemail_id: str, request: Request) -> JSONResponse:
        name = await key_name(request)
        try:
            record = await voicemails.mark_read(_id(voicemail_id), key_name=name)
        except VoicemailNotFound as exc:
            raise _missing(voicemail_id) from exc
        return JSONResponse(voicemail_json(record))

    @router.delete(f"{PREFIX}/{{voicemail_id}}")
    async def delete_voicemail(voicemail_id: str, request: Request) -> Response:
        name = await key_name(request)
        try:
            await voicemails.delete(_id(voicemail_id), key_name=name)
        except VoicemailNotFound as exc:
            raise _missing(voicemail_id) from exc
        return Response(status_code=204)

    return router
