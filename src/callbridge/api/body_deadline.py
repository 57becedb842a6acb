"""A request's body must arrive in time (ASGI middleware).

uvicorn has no read timeout: a client that sends a body's bytes slowly, or never, held its
connection (and the request's task) open for ever.  Here the body must be complete within
``timeout`` seconds of the request's headers: past that the request is answered 408 and
its connection closed.  A response sent before the request's body was all read (a route
that does not read bodies) also closes the connection, so the unread rest cannot keep it.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CLOSE = (b"connection", b"close")


def expects_body(scope: Scope) -> bool:
    """Whether the request's headers announce a body (a length above 0, or chunks)."""
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding":
            return True
        if name == b"content-length" and value.strip() not in (b"", b"0"):
            return True
    return False


def timeout_response(timeout: float) -> tuple[Message, Message]:
    """408 in the API's error shape, closing the connection."""
    message = f"the request body did not arrive within {timeout:g} seconds"
    body = json.dumps({"error": {"id": "body_timeout", "message": message, "fields": {}}})
    encoded = body.encode()
    start: Message = {
        "type": "http.response.start",
        "status": 408,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(encoded)).encode()),
            _CLOSE,
        ],
    }
    return start, {"type": "http.response.body", "body": encoded}


class BodyDeadline:
    """Wraps an ASGI app; ``timeout`` is in seconds from the start of a request."""

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, receive, send, timeout=self.timeout)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            if not exchange.expired:
                raise
            # The app failed on the disconnect it was given: the 408 has been sent.


class _Exchange:
    """One request's receive and send, with the body's deadline."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, *, timeout: float) -> None:
        self._receive, self._send, self._timeout = receive, send, timeout
        self._deadline = asyncio.get_running_loop().time() + timeout
        self.body_read = not expects_body(scope)
        self.started = False
        self.expired = False

    async def receive(self) -> Message:
        if self.body_read or self.expired:
            return await self._receive()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            self.expired = True
            if not self.started:
                for part in timeout_response(self._timeout):
                    await self._send(part)
            return {"type": "http.disconnect"}
        if message["type"] == "http.request" and not message.get("more_body", False):
            self.body_read = True
        return message

    async def send(self, message: Message) -> None:
        if self.expired:
            return
        if message["type"] == "http.response.start":
            self.started = True
            if not self.body_read:
                message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
        await self._send(message)


__all__ = ["BodyDeadline"]
