"""Webhook signatures: ``X-Callbridge-Signature: t=<unix>,v1=<hex>``.

``v1`` is the hex HMAC-SHA256, keyed with the API key's signing secret, of
``"<t>.<payload>"`` where the payload is the request body for POST and the raw query
string (everything after ``?``, exactly as sent) for GET. Receivers check it with
:func:`verify`, which also rejects timestamps outside a tolerance (replays).
"""

from __future__ import annotations

import hashlib
import hmac

from callbridge.webhooks.errors import InvalidSignature, SignatureExpired

SIGNATURE_HEADER = "X-Callbridge-Signature"
DEFAULT_TOLERANCE = 300.0


def signature(*, secret: str, timestamp: int, payload: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<payload>"``."""
    message = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, payload: bytes) -> str:
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, payload=payload)}"


def verify(
    *,
    header: str,
    payload: bytes,
    secret: str,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """Check ``header`` against ``payload``; returns its timestamp or raises.

    Several ``v1`` entries are allowed (secret rotation): one match is enough.
    """
    timestamp, candidates = _parse(header)
    expected = signature(secret=secret, timestamp=timestamp, payload=payload)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise InvalidSignature("no signature matches")
    if abs(now - timestamp) > tolerance:
        raise SignatureExpired(f"timestamp {timestamp} is outside the tolerance")
    return timestamp


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise InvalidSignature(f"malformed signature header: {header!r}")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature(f"signature header lacks t or v1: {header!r}")
    return timestamp, candidates
