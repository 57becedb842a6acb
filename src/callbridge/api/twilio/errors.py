"""Errors of the Twilio-compatible API in Twilio's shape,

    {"code": 20404, "message": "...", "more_info": "https://www.twilio.com/docs/errors/20404",
     "status": 404}

with Twilio's codes for the common cases, mapped here from the domain errors (which know
nothing of HTTP) and the HTTP layer's own: 20003 authentication, 20403 a key without the
call scope, 20404 not found, 20429 too many requests, 21201/21211 a missing/invalid To,
21213/21212 a missing/invalid From, 21205 a missing/invalid Url, 12100 invalid TwiML,
21609 an invalid StatusCallback, 21210/21215 a caller ID/destination the key may not use,
21220 an update of a call that is not in progress, 20503 an overloaded server.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from callbridge.api.errors import ApiError, refusal_message, retry_after_header
from callbridge.calls.destination_policy import DestinationRefused, Rule
from callbridge.calls.errors import (
    CallbackNotFound,
    CallLimitReached,
    CallNotFound,
    CallNotLive,
    CallNotRedirectable,
    ServerOverloaded,
)
from callbridge.dialects.errors import InvalidRequest

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"
INVALID_PARAMETER = 20001
# Codes of the HTTP layer's errors, by their id.
_API_CODES = {
    "api_key_missing": 20003,
    "api_key_invalid": 20003,
    "api_key_scope": 20403,
    "api_key_throttled": 20429,
    "not_found": 20404,
}
_HTTP_CODES = {404: 20404, 405: 20004}
# A refused field's code: (when missing, when invalid).
_FIELD_CODES = {
    "to": (21201, 21211),
    "from": (21213, 21212),
    "callerid": (21212, 21212),
    "url": (21205, 21205),
    "twiml": (12100, 12100),
    "statuscallback": (21609, 21609),
}


def twilio_error(
    status: int, code: int, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": MORE_INFO.format(code=code),
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def twilio_error_of(exc: Exception) -> Response:
    """The response of any error under ``/2010-04-01``."""
    if isinstance(exc, ApiError):
        code = _API_CODES.get(exc.error_id, INVALID_PARAMETER if exc.status < 500 else 20500)
        return twilio_error(exc.status, code, exc.message, headers=exc.headers)
    if isinstance(exc, InvalidRequest):
        return twilio_error(400, _field_code(exc.fields), _invalid_message(exc))
    if isinstance(exc, CallNotFound):
        return twilio_error(404, 20404, f"the requested resource {exc.sid} was not found")
    if isinstance(exc, CallbackNotFound):
        return twilio_error(404, 20404, str(exc))
    if isinstance(exc, CallNotLive | CallNotRedirectable):
        return twilio_error(400, 21220, f"call {exc.sid} is not in-progress: cannot update it")
    if isinstance(exc, DestinationRefused):
        code = 21210 if exc.rule == Rule.CALLER_IDS else 21215
        return twilio_error(400, code, refusal_message(exc))
    if isinstance(exc, CallLimitReached):
        headers = {"Retry-After": retry_after_header(exc.retry_after)}
        return twilio_error(429, 20429, str(exc), headers=headers)
    if isinstance(exc, ServerOverloaded):
        headers = {"Retry-After": retry_after_header(exc.retry_after)}
        return twilio_error(503, 20503, str(exc), headers=headers)
    if isinstance(exc, RequestValidationError):
        return twilio_error(400, INVALID_PARAMETER, "the request is invalid")
    if isinstance(exc, StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, INVALID_PARAMETER)
        return twilio_error(exc.status_code, code, str(exc.detail), headers=exc.headers)
    return twilio_error(500, 20500, "internal server error")


def _field_code(fields: Mapping[str, str]) -> int:
    """The code of the first refused field Twilio has one for."""
    for name, message in fields.items():
        codes = _FIELD_CODES.get(name.lower())
        if codes is not None:
            return codes[0] if message.startswith("is required") else codes[1]
    return INVALID_PARAMETER


def _invalid_message(exc: InvalidRequest) -> str:
    if not exc.fields:
        return exc.message
    return "; ".join(f"{name} {message}" for name, message in exc.fields.items())
