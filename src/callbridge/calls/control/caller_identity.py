"""The caller's number as seed-004 posts it: ``anonymous`` when the caller withholds its
identity (pure)."""

from __future__ import annotations

ANONYMOUS = "anonymous"
# RFC 3323 privacy values that hide who calls (``id``: the asserted identity; ``user`` and
# ``header``: the From too).
_PRIVATE = frozenset({"id", "user", "header"})
# From users carriers put for a withheld number (RFC 3323 §4.1.1.3 recommends "Anonymous").
_ANONYMOUS_USERS = frozenset({"anonymous", "restricted", "unavailable", "unknown", ""})


def caller_number(*, from_user: str, from_host: str, privacy: str | None) -> str:
    """``from_user`` (the From URI's user), or ``anonymous`` when ``privacy`` (the Privacy
    header's value) asks for it or the From is itself anonymous
    (``anonymous@anonymous.invalid``)."""
    if privacy is not None:
        values = {part.strip().lower() for part in privacy.split(";")}
        if values & _PRIVATE:
            return ANONYMOUS
    if from_user.strip().lower() in _ANONYMOUS_USERS or from_host.lower() == "anonymous.invalid":
        return ANONYMOUS
    return from_user
