"""Secrets out of log lines: a client may send its key in the URL (``?apikey=``,
Bitrix24's ``?auth=``, an incoming webhook's ``/rest/<user>/<key>/...``), and uvicorn's
access log writes every URL; a customer's URL may carry basic-auth credentials
(``https://user:pass@host/``) or a ``secretKey`` (sent as ``apikey=``), and the HTTP
client logs the URLs it could not reach.  :class:`RedactKeys` is a ``logging.Filter``
that rewrites each record's message, arguments and traceback text before any handler
formats it; ``log_format.configure_logging`` puts it on its handler (the server's and the
HTTP worker's) and the composition root on uvicorn's (:func:`install_key_redaction`)."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
# Query fields that carry a key (names compared case-insensitively).
KEY_FIELDS = ("apikey", "api_key", "auth", "access_token")
_QUERY_FIELD = re.compile(r"([?&;])([^=&;#\s\"'?]+)=([^&;#\s\"']*)")
# /rest/<user_id>/<code>/...: the second segment after /rest/ is the key.
_WEBHOOK_KEY = re.compile(r"(/rest/[^/?#\s\"']+/)[^/?#\s\"']+")
# scheme://user:password@host: everything between "//" and the authority's last "@".
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s\"'<>]*@")


def redact_keys(text: str) -> str:
    """``text`` with every API key and credential a URL in it may carry replaced by
    ``[redacted]``."""
    if "@" in text and "://" in text:  # a SIP URI's "@" alone costs no regex
        text = _USERINFO.sub(rf"\1{REDACTED}@", text)
    if "=" not in text and "/rest/" not in text:
        return text
    text = _QUERY_FIELD.sub(_redacted_field, text)
    return _WEBHOOK_KEY.sub(rf"\1{REDACTED}", text)


def _redacted_field(match: re.Match[str]) -> str:
    """A query field whose name, decoded as the server decodes it, carries a key."""
    separator, name, _ = match.groups()
    if unquote_plus(name).strip().lower() in KEY_FIELDS:
        return f"{separator}{name}={REDACTED}"
    return match.group(0)


def _redacted(value: object) -> object:
    return redact_keys(value) if isinstance(value, str) else value


class RedactKeys(logging.Filter):
    """Rewrites a record in place (its arguments keep their positions: uvicorn's access
    formatter unpacks them) and lets it through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_keys(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {name: _redacted(arg) for name, arg in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_keys(record.exc_text)
        return True


def install_key_redaction() -> RedactKeys:
    """Add :class:`RedactKeys` to every handler of the root logger and of every logger
    configured so far (uvicorn's access and error loggers have handlers of their own and
    do not propagate).  Call it after uvicorn has configured its logging."""
    redact = RedactKeys()
    known = logging.Logger.manager.loggerDict.values()
    loggers = [logging.getLogger(), *(each for each in known if isinstance(each, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactKeys) for f in handler.filters):
                handler.addFilter(redact)
    return redact
