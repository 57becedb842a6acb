"""Log lines of bounded length, whatever peers send.

Requests from anyone reach the logs: uvicorn's access log writes the request's path and
query (up to h11's 16 KiB of header), and SIP logs name what peers sent.  Each string
argument of a record, and a message without arguments, is cut to :data:`MAX_FIELD`
characters; the arguments keep their number and order, which uvicorn's access formatter
unpacks.
"""

from __future__ import annotations

import logging

MAX_FIELD = 1000
LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error")


def bounded(text: str, limit: int = MAX_FIELD) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


class BoundedFields(logging.Filter):
    """Cuts a record's long string arguments (or its long message) before formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(bounded(a) if isinstance(a, str) else a for a in record.args)
        elif not record.args and isinstance(record.msg, str):
            record.msg = bounded(record.msg)
        return True


def bound_log_lines() -> None:
    """Put the filter on every handler of the root logger and of uvicorn's loggers (call
    it once logging is configured: uvicorn.Config configures its own)."""
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, BoundedFields) for f in handler.filters):
                handler.addFilter(BoundedFields())


__all__ = ["MAX_FIELD", "BoundedFields", "bound_log_lines", "bounded"]
