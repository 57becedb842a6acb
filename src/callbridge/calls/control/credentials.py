"""Basic auth from a URL: ``https://user:pass@host/path`` becomes ``https://host/path``
and an ``Authorization: Basic`` header (RFC 7617), so only the clean URL is ever stored,
logged or shown; the credentials live in the header alone."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

AUTHORIZATION = "Authorization"


@dataclass(frozen=True, kw_only=True)
class AuthorizedUrl:
    """``url`` without credentials; ``headers`` carry them (empty: the URL had none)."""

    url: str
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)


def authorized_url(url: str) -> AuthorizedUrl:
    """Split the userinfo off ``url`` (percent-escapes in it decoded, UTF-8)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return AuthorizedUrl(url=url)
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=host))
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return AuthorizedUrl(url=clean, headers=((AUTHORIZATION, f"Basic {token}"),))
