"""Twilio's request signature, ``X-Twilio-Signature``, on the webhooks of calls placed
through the Twilio-compatible API, so a receiver written for Twilio checks them with
``twilio.request_validator.RequestValidator(auth_token)``.

The signature is the base64 HMAC-SHA1, keyed with the account's auth token (here: the API
key), of the full URL as requested followed by each POST parameter's name and value, the
names sorted (a GET carries its parameters in the URL, so only the URL is signed).

The store keeps only a keyed hash of each API key, so the auth tokens live in memory
(:class:`AuthTokens`): the configured keys' at start, every other key's once it has
authenticated a request of the Twilio API.  A webhook whose token is unknown (a key made
through the keys API, after a restart, before its next request) goes unsigned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import replace

from callbridge.store.records import DeliveryRecord
from callbridge.webhooks.request import WebhookRequest

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
TWILIO_API_VERSION = "2010-04-01"
MAX_TOKENS = 10_000


def twilio_signature(*, token: str, url: str, params: Mapping[str, str]) -> str:
    """The value of ``X-Twilio-Signature`` for a request to ``url`` with the POST
    ``params`` (empty for a GET)."""
    message = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(token.encode(), message.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class AuthTokens:
    """Each account's auth token by AccountSid (the API key's name), in memory only."""

    def __init__(self, *, limit: int = MAX_TOKENS) -> None:
        self._tokens: dict[str, str] = {}
        self._limit = limit

    def learn(self, account_sid: str, token: str) -> None:
        """``token`` authenticated a request of ``account_sid`` (the newest wins)."""
        self._tokens.pop(account_sid, None)
        if len(self._tokens) >= self._limit:  # bounded: forget the longest unused
            self._tokens.pop(next(iter(self._tokens)))
        self._tokens[account_sid] = token

    def token_of(self, account_sid: str) -> str | None:
        return self._tokens.get(account_sid)


class TwilioWebhookSigner:
    """Adds ``X-Twilio-Signature`` to the webhooks whose parameters are Twilio's
    (``ApiVersion=2010-04-01``) when their account's token is known; other webhooks pass
    unchanged."""

    def __init__(self, *, tokens: AuthTokens) -> None:
        self._tokens = tokens

    def __call__(self, delivery: DeliveryRecord, request: WebhookRequest) -> WebhookRequest:
        params = delivery.params
        if params.get("ApiVersion") != TWILIO_API_VERSION:
            return request
        token = self._tokens.token_of(params.get("AccountSid", ""))
        if token is None:
            return request
        signed = params if request.method == "POST" else {}
        value = twilio_signature(token=token, url=request.url, params=signed)
        return replace(request, headers=(*request.headers, (TWILIO_SIGNATURE_HEADER, value)))
