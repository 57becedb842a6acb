"""What a log line is about: the call (CallSid), the leg and the HTTP request being handled.

Three context variables, set where the work starts (a call's task, a leg's signalling, an
HTTP request) and read by the log formatters (:mod:`callbridge.log_format`).  asyncio
copies the context into every task it creates, so the tasks a call, leg or request starts
carry them too, and setting one in a task never changes it for its parent.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable

CALL_SID: contextvars.ContextVar[str | None] = contextvars.ContextVar("call_sid", default=None)
LEG_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("leg_id", default=None)
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def bind_call(sid: str, *, leg: str | None = None) -> None:
    """The lines of the current task (and of the tasks it starts from now) are about call
    ``sid`` (and its leg ``leg``)."""
    CALL_SID.set(sid)
    if leg is not None:
        LEG_ID.set(leg)


def bind_leg(leg_id: str) -> None:
    LEG_ID.set(leg_id)


def start_in_leg(leg_id: str, start: Callable[[], object]) -> None:
    """Call ``start`` (which starts a leg's tasks) in a copy of the current context where
    the leg is ``leg_id``: its tasks carry the leg id, the caller's context keeps its own."""
    context = contextvars.copy_context()
    context.run(_bound_call, leg_id, start)


def _bound_call(leg_id: str, start: Callable[[], object]) -> None:
    LEG_ID.set(leg_id)
    start()


def current() -> dict[str, str]:
    """The context of the line being written now (only what is set)."""
    context: dict[str, str] = {}
    if (sid := CALL_SID.get()) is not None:
        context["call_sid"] = sid
    if (leg := LEG_ID.get()) is not None:
        context["leg_id"] = leg
    if (request := REQUEST_ID.get()) is not None:
        context["request_id"] = request
    return context


__all__ = ["CALL_SID", "LEG_ID", "REQUEST_ID", "bind_call", "bind_leg", "current", "start_in_leg"]
