"""What the server says when it starts: one clear line when it cannot (an address in use,
a database it cannot reach), a warning for the example's placeholder key, and where to go
next once it serves.

A failed start is a :class:`StartupError` whose message is the whole story; the command
line prints it as one line instead of a traceback."""

from __future__ import annotations

import errno
import socket

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from callbridge.config import CallbridgeConfig

EXAMPLE_KEY = "change-me-to-a-long-random-string"
_LISTEN_BACKLOG = 2048


class StartupError(Exception):
    """The server cannot start; the message says why in one line."""


def bind_failed(what: str, address: str, exc: OSError) -> StartupError:
    """``exc`` from binding ``what`` (SIP, HTTP) on ``address`` as one line."""
    reasons = {
        errno.EADDRINUSE: "is already in use (is another server running on it?)",
        errno.EADDRNOTAVAIL: "is not an address of this machine",
        errno.EACCES: "needs privileges this process does not have (use a port above 1023)",
    }
    reason = reasons.get(exc.errno or 0, f"cannot be bound: {exc.strerror or exc}")
    return StartupError(f"{what} address {address} {reason}")


def bind_http_socket(host: str, port: int) -> socket.socket:
    """The HTTP API's listening socket, bound here so a port in use is one clear line
    (uvicorn would log it and exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(_LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        shown = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        raise bind_failed("HTTP", shown, exc) from exc
    sock.setblocking(False)
    return sock


def shown_database_url(url: str) -> str:
    """``url`` with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


def database_failed(url: str, exc: BaseException) -> StartupError:
    """A database that cannot be opened or migrated, as one line (no password)."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    detail = detail.replace(url, shown_database_url(url))[:300]
    kind = type(exc).__name__
    return StartupError(
        f"cannot use the database {shown_database_url(url)}: {kind}"
        + (f": {detail}" if detail else "")
    )


def startup_warnings(config: CallbridgeConfig) -> list[str]:
    """What an operator should change before going live."""
    return [
        f"API key {key.name!r} is the example's placeholder: anyone who read the README can "
        "use it; set a long random key of your own"
        for key in config.api_keys
        if key.key == EXAMPLE_KEY
    ]


def next_steps(config: CallbridgeConfig) -> list[str]:
    """The short "where to go next" logged once the server serves."""
    base = config.http.base_url.rstrip("/")
    first_to = next((u.extension for u in config.users), "1001")
    return [
        f"API: {base}/api/v2/calls  (interactive documentation: {base}/docs)",
        f"SIP: phones register to {config.sip.listen} (UDP and TCP) with a [[users]] entry",
        f"test call: curl -X POST {base}/api/v2/calls -H 'apikey: YOUR_KEY' -d to={first_to} "
        "-d from=15550100 -d url=https://your.app.example/voice.xml (README: The outbound "
        "call API)",
    ]
