"""The HTTP request a delivery row stands for (pure: no I/O, no clock).

The call's ``optional`` string is appended to the callback URL's query. POST sends the
parameters as a form body; GET appends them to the query instead. With a signing
secret the request carries :data:`~callbridge.webhooks.signing.SIGNATURE_HEADER`.

The URL is made ready to send here (:func:`sendable_url`: what a URL may not hold
percent-encoded, the escapes already there kept as written) and the HTTP client sends it
unchanged, so a GET's signature covers the very query string the receiver gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from callbridge.store.records import DeliveryRecord
from callbridge.webhooks.signing import SIGNATURE_HEADER, signature_header

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
USER_AGENT = "callbridge-webhooks/1"
# Kept as they are in a path or a query (RFC 3986 reserved characters, and '%' of the
# escapes already there); letters, digits and "_.-~" always are.  '#' is not: it would end
# the query.
URL_SAFE = "!$%&'()*+,/:;=?@[]"


@dataclass(frozen=True, kw_only=True)
class WebhookRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


DELIVERY_HEADER = "X-Callbridge-Delivery"


def build_request(
    delivery: DeliveryRecord,
    *,
    optional: str | None,
    signing_secret: str | None,
    timestamp: int,
) -> WebhookRequest:
    method = delivery.method.upper()
    url = append_query(sendable_url(delivery.url), quote(optional or "", safe=URL_SAFE))
    encoded = encode_params(delivery.params)
    if method == "GET":
        url, body = append_query(url, encoded), b""
        headers: list[tuple[str, str]] = []
        payload = urlsplit(url).query.encode()
    else:
        body = encoded.encode()
        headers = [("Content-Type", FORM_CONTENT_TYPE)]
        payload = body
    headers.append(("User-Agent", USER_AGENT))
    headers.append((DELIVERY_HEADER, delivery_key(delivery)))
    if signing_secret:
        value = signature_header(secret=signing_secret, timestamp=timestamp, payload=payload)
        headers.append((SIGNATURE_HEADER, value))
    return WebhookRequest(method=method, url=url, headers=tuple(headers), body=body)


def delivery_key(delivery: DeliveryRecord) -> str:
    """The same for every attempt of one event: a crash between a receiver's answer and our
    record of it makes us send again (at least once), and receivers drop repeats by this."""
    return f"{delivery.call_sid}-{delivery.seq}"


def sendable_url(url: str) -> str:
    """``url`` as it goes on the wire: non-ASCII and other characters a URL may not hold
    percent-encoded (UTF-8), existing escapes (``%41``) kept, a non-ASCII host in IDNA, the
    fragment (never sent) dropped."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii() and parts.hostname:
        userinfo, at, _ = netloc.rpartition("@")
        try:
            host = parts.hostname.encode("idna").decode("ascii")
        except UnicodeError:
            host = quote(parts.hostname, safe="")
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = quote(userinfo, safe=URL_SAFE) + at + host + port if at else host + port
    return urlunsplit(
        parts._replace(
            netloc=netloc,
            path=quote(parts.path, safe=URL_SAFE),
            query=quote(parts.query, safe=URL_SAFE),
            fragment="",
        )
    )


def encode_params(params: Mapping[str, str]) -> str:
    return urlencode(list(params.items()))


def append_query(url: str, extra: str | None) -> str:
    """``url`` with ``extra`` (``"a=1&b=2"``, a leading ``?``/``&`` tolerated) added."""
    extra = (extra or "").lstrip("?&")
    if not extra:
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))
