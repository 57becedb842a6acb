"""The media library API (issue 14): announcements by id, configured and uploaded.

    POST   /api/v2/announcements             upload: multipart ``file`` (+ ``id``), or
                                             ``text`` (+ ``voice``, ``id``) as a form or JSON   201
    GET    /api/v2/announcements             every announcement, configured and uploaded
    GET    /api/v2/announcements/{id}        one announcement's details
    GET    /api/v2/announcements/{id}.wav    its audio (8 kHz mono WAV)
    DELETE /api/v2/announcements/{id}        an uploaded one (a configured one: 409)        204

Every request carries an API key (the ``apikey`` header); announcements are the server's,
shared by every key.  An upload's body is limited to ``max_upload_bytes`` (413 past it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from callbridge.api.auth import Authenticator
from callbridge.api.body import JSON, read_body
from callbridge.api.errors import ApiError
from callbridge.calls.announcements.errors import (
    AnnouncementConfigured,
    AnnouncementExists,
    AnnouncementUnplayable,
    InvalidAnnouncement,
    UnknownAnnouncement,
)
from callbridge.calls.announcements.ids import is_announcement_id
from callbridge.calls.announcements.uploads import AnnouncementInfo
from callbridge.dialects.call_resource import API_PREFIX
from callbridge.dialects.fields import Fields

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MULTIPART = "multipart/form-data"
FORM = "application/x-www-form-urlencoded"
PATH = f"{API_PREFIX}/announcements"
TEXT_FIELDS = ("id", "text", "voice")


class Announcements(Protocol):
    """What the routes need (``callbridge.calls.announcements.uploads.MediaLibrary``)."""

    async def list(self) -> list[AnnouncementInfo]: ...

    async def get(self, announcement_id: str) -> AnnouncementInfo: ...

    async def wav(self, announcement_id: str) -> bytes: ...

    async def upload_audio(
        self, *, announcement_id: str | None, data: bytes, filename: str | None, api_key_id: str
    ) -> AnnouncementInfo: ...

    async def upload_text(
        self, *, announcement_id: str | None, text: str, voice: str | None, api_key_id: str
    ) -> AnnouncementInfo: ...

    async def delete(self, announcement_id: str) -> None: ...


def announcement_json(info: AnnouncementInfo) -> dict[str, Any]:
    link = f"{PATH}/{info.id}"
    return {
        "id": info.id,
        "origin": info.origin,
        "kind": info.kind,
        "text": info.text,
        "voice": info.voice,
        "filename": info.filename,
        "duration": info.duration,
        "created_at": None if info.created_at is None else info.created_at.isoformat(),
        "uri": link,
        "audio_uri": f"{link}.wav",
    }


def api_error_of(exc: Exception) -> ApiError:
    """The media library's domain errors as HTTP errors (the one place they are mapped)."""
    if isinstance(exc, UnknownAnnouncement):
        message = f"no announcement {exc.announcement_id[:64]!r}"
        return ApiError(status=404, error_id="announcement_not_found", message=message)
    if isinstance(exc, AnnouncementExists):
        message = (
            f"announcement {exc.announcement_id!r} exists (ids are shared with the configured ones)"
        )
        return ApiError(status=409, error_id="announcement_exists", message=message)
    if isinstance(exc, AnnouncementConfigured):
        message = (
            f"announcement {exc.announcement_id!r} is configured ([[announcements]]): "
            "remove it from the configuration instead"
        )
        return ApiError(status=409, error_id="announcement_configured", message=message)
    if isinstance(exc, InvalidAnnouncement):
        return ApiError(status=400, error_id="invalid_announcement", message=exc.message)
    if isinstance(exc, AnnouncementUnplayable):
        return ApiError(status=500, error_id="announcement_unplayable", message=str(exc))
    raise exc


def announcements_router(
    *, announcements: Announcements, auth: Authenticator, max_upload_bytes: int = MAX_UPLOAD_BYTES
) -> APIRouter:
    router = APIRouter()

    @router.post(PATH, status_code=201)
    async def upload(request: Request) -> JSONResponse:
        key = await auth.authenticate(request, Fields.of(request.query_params.multi_items()))
        body = await read_body(request, limit=max_upload_bytes)
        parts = await _parts(request, body)
        announcement_id = _text_field(parts, "id")
        try:
            upload_file = parts.get("file")
            if isinstance(upload_file, UploadFile):
                data = await upload_file.read()
                info = await announcements.upload_audio(
                    announcement_id=announcement_id,
                    data=data,
                    filename=upload_file.filename,
                    api_key_id=key.id,
                )
            elif _text_field(parts, "text") is not None:
                info = await announcements.upload_text(
                    announcement_id=announcement_id,
                    text=_text_field(parts, "text") or "",
                    voice=_text_field(parts, "voice"),
                    api_key_id=key.id,
                )
            else:
                raise InvalidAnnouncement("file", "send a file (multipart/form-data) or text")
        except (InvalidAnnouncement, AnnouncementExists) as exc:
            raise api_error_of(exc) from exc
        reply = announcement_json(info)
        return JSONResponse(reply, status_code=201, headers={"Location": reply["uri"]})

    @router.get(PATH)
    async def list_announcements(request: Request) -> JSONResponse:
        await auth.authenticate(request)
        return JSONResponse(
            {"announcements": [announcement_json(a) for a in await announcements.list()]}
        )

    @router.get(f"{PATH}/{{announcement_id}}.wav")
    async def audio(announcement_id: str, request: Request) -> Response:
        await auth.authenticate(request)
        try:
            wav = await announcements.wav(_valid_id(announcement_id))
        except (UnknownAnnouncement, AnnouncementUnplayable) as exc:
            raise api_error_of(exc) from exc
        return Response(wav, media_type="audio/wav")

    @router.get(f"{PATH}/{{announcement_id}}")
    async def details(announcement_id: str, request: Request) -> JSONResponse:
        await auth.authenticate(request)
        try:
            info = await announcements.get(_valid_id(announcement_id))
        except (UnknownAnnouncement, AnnouncementUnplayable) as exc:
            raise api_error_of(exc) from exc
        return JSONResponse(announcement_json(info))

    @router.delete(f"{PATH}/{{announcement_id}}", status_code=204)
    async def delete(announcement_id: str, request: Request) -> Response:
        await auth.authenticate(request)
        try:
            await announcements.delete(_valid_id(announcement_id))
        except (UnknownAnnouncement, AnnouncementConfigured) as exc:
            raise api_error_of(exc) from exc
        return Response(status_code=204)

    return router


def _valid_id(announcement_id: str) -> str:
    if not is_announcement_id(announcement_id):
        raise UnknownAnnouncement(announcement_id)
    return announcement_id


async def _parts(request: Request, body: bytes) -> Mapping[str, str | UploadFile]:
    """The upload's fields: a multipart or urlencoded form (read from ``body``, already
    bounded), or a JSON object of text fields."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == JSON:
        fields = Fields.from_json(body)
        return {name: value for name in TEXT_FIELDS for value in fields.get(name)[:1]}
    if media_type not in (MULTIPART, FORM):
        raise ApiError(
            status=415,
            error_id="unsupported_media_type",
            message=f"send the announcement as {MULTIPART}, {FORM} or {JSON}",
        )
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    replay = Request(request.scope, receive)
    try:
        form = await replay.form(max_files=1, max_fields=10)
    except Exception as exc:  # starlette's MultiPartException and the parser's own errors
        raise ApiError(
            status=400, error_id="invalid_request", message=f"unreadable form: {exc}"
        ) from exc
    return {name: value for name, value in form.items()}


def _text_field(parts: Mapping[str, str | UploadFile], name: str) -> str | None:
    value = parts.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip() if name != "text" else value
    return None
