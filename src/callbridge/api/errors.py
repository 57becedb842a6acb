"""Errors as HTTP responses: every error answers the same JSON body,

    {"error": {"id": "...", "message": "...", "fields": {...}}}

where ``id`` is stable (clients branch on it), ``message`` is for people and ``fields`` names
each refused request field (empty unless the request had invalid fields).  A destination an
API key may not call is a 403 ``destination_refused`` whose message names the rule.  Domain errors
know nothing of HTTP; the mapping to status codes lives here.  An API with an error shape
of its own (Bitrix24's under ``/rest/``) installs its renderer for its path prefix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from callbridge.calls.destination_policy import DestinationRefused
from callbridge.calls.errors import (
    CallbackNotFound,
    CallLimitReached,
    CallNotFound,
    CallNotLive,
    CallNotRedirectable,
    ServerDraining,
    ServerOverloaded,
)
from callbridge.calls.queues.service import UnknownQueue
from callbridge.dialects.errors import InvalidRequest

_HTTP_IDS = {404: "not_found", 405: "method_not_allowed"}

ErrorRenderer = Callable[[Exception], Response]


class ApiError(Exception):
    """An error of the HTTP layer itself (authentication, body size, media type)."""

    def __init__(
        self,
        *,
        status: int,
        error_id: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int,
    error_id: str,
    message: str,
    *,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"id": error_id, "message": message, "fields": dict(fields or {})}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1 (``Retry-After`` takes no fractions)."""
    return str(max(1, math.ceil(seconds)))


def refusal_message(exc: DestinationRefused) -> str:
    """Names the rule first: ``refused by allow_sip_uris: ...``."""
    return f"{exc.destination[:64]!r} refused by {exc.rule}: {exc.message}"


def error_of(exc: Exception) -> JSONResponse:
    """The response of any error, in this module's shape."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.error_id, exc.message, headers=exc.headers)
    if isinstance(exc, InvalidRequest):
        return error_response(400, "invalid_request", exc.message, fields=exc.fields)
    if isinstance(exc, CallNotFound):
        return error_response(404, "call_not_found", f"no call {exc.sid}")
    if isinstance(exc, UnknownQueue):
        return error_response(404, "queue_not_found", f"no queue {exc.queue_id[:64]!r}")
    if isinstance(exc, CallbackNotFound):
        return error_response(404, "callback_not_found", f"no callback {exc.callback_id}")
    if isinstance(exc, CallNotLive):
        return error_response(409, "call_not_live", f"call {exc.sid} is not in progress")
    if isinstance(exc, CallNotRedirectable):
        message = f"call {exc.sid} runs no application to redirect (hang it up instead)"
        return error_response(409, "call_not_redirectable", message)
    if isinstance(exc, DestinationRefused):
        return error_response(403, "destination_refused", refusal_message(exc))
    if isinstance(exc, CallLimitReached):
        headers = {"Retry-After": retry_after_header(exc.retry_after)}
        return error_response(429, "call_limit_reached", str(exc), headers=headers)
    if isinstance(exc, ServerOverloaded):
        headers = {"Retry-After": retry_after_header(exc.retry_after)}
        error_id = "server_draining" if isinstance(exc, ServerDraining) else "server_overloaded"
        return error_response(503, error_id, str(exc), headers=headers)
    if isinstance(exc, RequestValidationError):
        fields = {".".join(str(p) for p in e["loc"]): str(e["msg"]) for e in exc.errors()}
        return error_response(400, "invalid_request", "the request is invalid", fields=fields)
    if isinstance(exc, StarletteHTTPException):
        error_id = _HTTP_IDS.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(exc.status_code, error_id, str(exc.detail), headers=exc.headers)
    # Any other error: the server error middleware re-raises it after this (it is logged).
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(
    app: FastAPI, *, renderers: Sequence[tuple[str, ErrorRenderer]] = ()
) -> None:
    """Answer every error in this module's shape, or, for a path under one of the
    ``renderers``' prefixes, in that renderer's."""

    async def handle(request: Request, exc: Exception) -> Response:
        path = request.url.path
        render = next((r for prefix, r in renderers if path.startswith(prefix)), error_of)
        return render(exc)

    for kind in (
        ApiError,
        InvalidRequest,
        CallNotFound,
        CallbackNotFound,
        UnknownQueue,
        CallNotLive,
        CallNotRedirectable,
        CallLimitReached,
        ServerOverloaded,
        DestinationRefused,
        RequestValidationError,
        StarletteHTTPException,
        Exception,
    ):
        app.add_exception_handler(kind, handle)
