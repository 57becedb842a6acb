"""``X-Request-Id``: every HTTP request has one, on every log line written while it is
handled (uvicorn's access line included) and in its response.

A client's own id is kept when it is sane (1 to :data:`MAX_CHARS` characters of
:data:`SANE`: what UUIDs, ULIDs, base64 and trace ids use); anything else, or none, gets
a new one, so what reaches the log is always short and printable."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callbridge.log_context import REQUEST_ID

HEADER = "x-request-id"
MAX_CHARS = 128
SANE = re.compile(rf"[A-Za-z0-9._:/+=@-]{{1,{MAX_CHARS}}}")
_HEADER_BYTES = HEADER.encode("ascii")


def request_id_of(given: bytes | None) -> str:
    """The client's id when sane, else a new one (32 hex digits)."""
    if given is not None and len(given) <= MAX_CHARS:
        text = given.decode("latin-1")
        if SANE.fullmatch(text):
            return text
    return uuid.uuid4().hex


class RequestId:
    """Pure ASGI middleware (the outermost: the id is set before anything logs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == _HEADER_BYTES), None)
        request_id = request_id_of(given)
        value = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k != _HEADER_BYTES]
                message = {**message, "headers": [*headers, (_HEADER_BYTES, value)]}
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


__all__ = ["HEADER", "MAX_CHARS", "RequestId", "request_id_of"]
