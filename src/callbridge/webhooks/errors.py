"""Domain errors of the webhook layer."""

from __future__ import annotations


class WebhookError(Exception):
    """Base class of every webhook error."""


class InvalidSignature(WebhookError):
    """A signature header is malformed, or no signature in it matches the payload."""


class SignatureExpired(InvalidSignature):
    """The signature matches but its timestamp is outside the tolerance."""
