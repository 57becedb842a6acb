"""Errors under ``/rest/`` in Bitrix24's shape, ``{"error": CODE, "error_description": ...}``:

401 NO_AUTH_FOUND           no API key, or an unknown one
403 insufficient_scope      the key lacks the ``call`` scope
403 ACCESS_DENIED           the key may not call that number (the rule is named)
400 ERROR_CORE              ``FROM_LINE`` names no line of the key
400 ERROR_ARGUMENT          a missing or invalid field (each named in the description)
400 INVALID_REQUEST         the body is not a form or a JSON object (also 413 and 415)
404 ERROR_METHOD_NOT_FOUND  no such method
429 QUERY_LIMIT_EXCEEDED    the key's call limits, or too many wrong keys from the address,
                            with Retry-After
503 OVERLOAD_LIMIT          the server refuses new calls for now, with Retry-After
500 INTERNAL_SERVER_ERROR   anything else
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from callbridge.api.errors import ApiError, refusal_message, retry_after_header
from callbridge.calls.destination_policy import DestinationRefused
from callbridge.calls.errors import CallLimitReached, ServerOverloaded
from callbridge.dialects.bitrix_reply import (
    ACCESS_DENIED,
    ERROR_ARGUMENT,
    ERROR_CORE,
    ERROR_METHOD_NOT_FOUND,
    INSUFFICIENT_SCOPE,
    INTERNAL_SERVER_ERROR,
    INVALID_REQUEST,
    NO_AUTH_FOUND,
    OVERLOAD_LIMIT,
    QUERY_LIMIT_EXCEEDED,
    error_body,
    fields_description,
)
from callbridge.dialects.callback_start import UnknownLine
from callbridge.dialects.errors import InvalidRequest

REST_PREFIX = "/rest/"
_API_ERROR_CODES = {401: NO_AUTH_FOUND, 403: INSUFFICIENT_SCOPE, 429: QUERY_LIMIT_EXCEEDED}


def bitrix_error(
    status: int, code: str, description: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error_body(code, description), status_code=status, headers=dict(headers or {})
    )


def bitrix_error_of(exc: Exception) -> JSONResponse:
    """The Bitrix24-shaped response of any error raised under ``/rest/``."""
    if isinstance(exc, ApiError):
        code = _API_ERROR_CODES.get(exc.status, INVALID_REQUEST)
        return bitrix_error(exc.status, code, exc.message, headers=exc.headers)
    if isinstance(exc, UnknownLine):
        return bitrix_error(400, ERROR_CORE, exc.message)
    if isinstance(exc, InvalidRequest):
        code = ERROR_ARGUMENT if exc.fields else INVALID_REQUEST
        return bitrix_error(400, code, fields_description(exc.message, exc.fields))
    if isinstance(exc, DestinationRefused):
        return bitrix_error(403, ACCESS_DENIED, refusal_message(exc))
    if isinstance(exc, CallLimitReached):
        headers = {"Retry-After": retry_after_header(exc.retry_after)}
        return bitrix_error(429, QUERY_LIMIT_EXCEEDED, str(exc), headers=headers)
    if isinstance(exc, ServerOverloaded):
        headers = {"Retry-After": retry_after_header(exc.retry_after)}
        return bitrix_error(503, OVERLOAD_LIMIT, str(exc), headers=headers)
    if isinstance(exc, RequestValidationError):
        return bitrix_error(400, ERROR_ARGUMENT, "the request is invalid")
    if isinstance(exc, StarletteHTTPException):
        return _http_error(exc)
    # Any other error: the server error middleware re-raises it after this (it is logged).
    return bitrix_error(500, INTERNAL_SERVER_ERROR, "Internal server error")


def _http_error(exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return bitrix_error(404, ERROR_METHOD_NOT_FOUND, "Method not found!")
    if exc.status_code == 405:
        return bitrix_error(405, INVALID_REQUEST, "call a method with GET or POST")
    return bitrix_error(exc.status_code, INVALID_REQUEST, str(exc.detail), headers=exc.headers)
