"""Bitrix24's REST methods for callbacks (seed-003), GET or POST, with or without ``.json``:

    /rest/voximplant.callback.start     ring a line, then call the client and bridge them
    /rest/voximplant.line.get           the lines the API key may use (id → name)
    /rest/voximplant.tts.voices.get     the text-to-speech voices (id → name)

each also as an incoming webhook, ``/rest/<user_id>/<code>/<method>``.  Fields come from the
query string and a form or JSON body, names case-insensitive.  The API key is an
``Authorization: Bearer`` header, the ``apikey`` header or an ``auth`` field, or, in a
webhook's URL, its ``code`` (then the only key looked at), and needs the ``call`` scope.
Replies and errors are in Bitrix24's shapes (:mod:`callbridge.dialects.bitrix_reply`,
:mod:`callbridge.api.bitrix_errors`); a callback counts as one call against the key's
limits.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from callbridge.api.auth import API_KEY, Authenticator, KeySources
from callbridge.api.bitrix_errors import REST_PREFIX
from callbridge.api.body import MAX_BODY_BYTES, decode_fields, query_fields, read_body
from callbridge.api.errors import ApiError
from callbridge.calls.lines import Line
from callbridge.calls.ports import CallbackService
from callbridge.dialects.bitrix_reply import (
    NamedVoice,
    Timing,
    callback_started,
    lines_result,
    result_body,
    voices_result,
)
from callbridge.dialects.callback_start import (
    asks_for_voice,
    lines_of_key,
    parse_callback_start,
)
from callbridge.dialects.errors import InvalidRequest
from callbridge.dialects.fields import Fields
from callbridge.store.records import ApiKeyRecord

AUTH_FIELD = "auth"
WEBHOOK_USER = "user_id"
WEBHOOK_CODE = "code"
WEBHOOK_PREFIX = f"{REST_PREFIX}{{{WEBHOOK_USER}}}/{{{WEBHOOK_CODE}}}/"
BITRIX_KEYS = KeySources(
    path_params=(WEBHOOK_CODE,),
    headers=(API_KEY,),
    bearer=True,
    fields=(AUTH_FIELD,),
    hint="send your API key as the auth field or an Authorization: Bearer header",
    challenge="Bearer",
)
Handler = Callable[[Request], Awaitable[JSONResponse]]


class VoiceCatalog(Protocol):
    """The text-to-speech voices (``callbridge.media.tts.Tts`` is one)."""

    async def voices(self) -> Sequence[NamedVoice]: ...


class NoVoices:
    async def voices(self) -> Sequence[NamedVoice]:
        return ()


def bitrix_router(
    *,
    keys: Authenticator,
    lines: Sequence[Line],
    voices: VoiceCatalog,
    callbacks: CallbackService | None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> APIRouter:
    """``keys`` must read keys from :data:`BITRIX_KEYS`; without ``callbacks``,
    ``voximplant.callback.start`` is not served."""
    router = APIRouter()

    async def key_and_fields(request: Request) -> tuple[ApiKeyRecord, Fields]:
        body = await read_body(request, limit=max_body_bytes)
        query = query_fields(request)
        try:
            fields = decode_fields(request.headers.get("content-type", ""), body)
        except (InvalidRequest, ApiError):
            if keys.key_given(request, query):  # a bad key is told before a bad body
                await keys.authenticate(request, query)
            raise
        return await keys.authenticate(request, query, fields), merged(query, fields)

    async def line_get(request: Request) -> JSONResponse:
        started = time.time()
        key, _ = await key_and_fields(request)
        return reply(lines_result(lines_of_key(lines, key.name)), started=started)

    async def voices_get(request: Request) -> JSONResponse:
        started = time.time()
        await key_and_fields(request)
        return reply(voices_result(await voices.voices()), started=started)

    serve_method(router, "voximplant.line.get", line_get)
    serve_method(router, "voximplant.tts.voices.get", voices_get)
    if callbacks is not None:
        placer = callbacks

        async def callback_start(request: Request) -> JSONResponse:
            started = time.time()
            key, fields = await key_and_fields(request)
            known = voices_result(await voices.voices()) if asks_for_voice(fields) else {}
            callback = parse_callback_start(
                fields, lines=lines_of_key(lines, key.name), voices=known, api_key_id=key.id
            )
            placed = await placer.place_callback(callback)
            return reply(callback_started(placed.id), started=started)

        serve_method(router, "voximplant.callback.start", callback_start)
    return router


def serve_method(router: APIRouter, method: str, handler: Handler) -> None:
    """``/rest/<method>`` and ``/rest/<method>.json``, by GET or POST, and the same as an
    incoming webhook, ``/rest/<user_id>/<code>/<method>[.json]``."""
    for prefix, serve in ((REST_PREFIX, handler), (WEBHOOK_PREFIX, webhook(handler))):
        for path in (f"{prefix}{method}", f"{prefix}{method}.json"):
            router.add_api_route(path, serve, methods=["GET", "POST"], name=f"{method}:{path}")


def webhook(handler: Handler) -> Handler:
    """``handler`` under an incoming webhook's URL, whose ``code`` is the API key
    (:data:`BITRIX_KEYS` reads it first, so the handler authenticates by it alone).

    A ``user_id`` that is not digits is a 401 ``NO_AUTH_FOUND``, not a 404: the reference
    (seed-003) says nothing of webhooks, and the URL has a webhook's shape and names a
    served method, so the method is found; what is wrong is the credential, which in
    Bitrix24 is the user id and the code together, and a user id is always a number.
    Answering ``ERROR_METHOD_NOT_FOUND`` would send the client looking for a fault in a
    method name that is right.  The number itself is not checked further (keys here
    belong to no Bitrix24 user)."""

    async def serve(request: Request) -> JSONResponse:
        user_id = str(request.path_params[WEBHOOK_USER])
        if not (user_id.isascii() and user_id.isdigit()):
            raise ApiError(
                status=401,
                error_id="api_key_invalid",
                message="the webhook's user id must be a number: /rest/<user_id>/<code>/<method>",
                headers={"WWW-Authenticate": BITRIX_KEYS.challenge},
            )
        return await handler(request)

    return serve


def reply(result: Any, *, started: float) -> JSONResponse:
    return JSONResponse(result_body(result, timing=Timing(start=started, finish=time.time())))


def merged(*fields: Fields) -> Fields:
    """One set of fields of the query string and the body (a name given in both keeps
    both values, so different ones are refused as given twice)."""
    return Fields.of(
        (name, value) for each in fields for name, values in each.values.items() for value in values
    )
