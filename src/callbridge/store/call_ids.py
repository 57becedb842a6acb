"""A call's ``call_id`` (seed-004): the SHA-256 of its CallSid, 64 lowercase hex characters.
Stored with the call (``calls.call_id``), so ``GET /api/v2/calls?call_id=`` finds the call a
notify or call-control post is about."""

from __future__ import annotations

import hashlib


def call_id_of(call_sid: str) -> str:
    return hashlib.sha256(call_sid.encode()).hexdigest()
