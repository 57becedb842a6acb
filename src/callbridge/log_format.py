"""The server's log lines: ``[log] format = "text"`` (one readable line each) or
``"json"`` (one JSON object per line: ``time``, ``level``, ``logger``, ``message``, and
when set ``context`` (``call_sid``, ``leg_id``, ``request_id``: :mod:`callbridge.log_context`),
``fields`` (structured data a line carries, e.g. a call's CDR) and ``exception``).

Every logger of the process, uvicorn's included, writes through the one handler
:func:`configure_logging` puts on the root logger; the key redaction and the bounded
fields are filters on that handler, so they apply to both formats."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from callbridge import log_context
from callbridge.log_bounds import bounded
from callbridge.log_redaction import RedactKeys

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = "fields"  # the ``extra`` key of a line's structured data


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE [call_sid=... leg_id=... request_id=...]``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = log_context.current()
        if not context:
            return line
        shown = " ".join(f"{name}={value}" for name, value in context.items())
        head, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{head} [{shown}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line (ASCII: no character of a message can split it)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = log_context.current()
        if context:
            entry["context"] = context
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, Mapping):
            entry[FIELDS] = {
                str(name): bounded(value) if isinstance(value, str) else value
                for name, value in fields.items()
            }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def formatter(kind: LogFormat) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else TextFormatter()


def configure_logging(*, kind: LogFormat, level: str) -> logging.Handler:
    """One handler on the root logger (standard error) in ``kind``'s format, secrets in
    URLs redacted; the root logger's level is ``level``.  Replaces the handlers set before."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(kind))
    handler.addFilter(RedactKeys())
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


__all__ = [
    "FIELDS",
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "configure_logging",
    "formatter",
]
