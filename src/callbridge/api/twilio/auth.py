"""HTTP Basic authentication as Twilio's REST API takes it: the user is the AccountSid
(here: the API key's name), the password the auth token (the API key itself).  The key is
found by its hash as every API finds it; its name must be the user given, and the
AccountSid of the URL must be the key's (another account's URL is a 404, as at Twilio).
Wrong keys count against the source address in the throttle every API shares."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from callbridge.api.auth import CALL_SCOPE, MAX_KEY_CHARS, ApiKeyFinder
from callbridge.api.errors import ApiError, retry_after_header
from callbridge.api.key_throttle import FailedKeyThrottle
from callbridge.store.records import ApiKeyRecord
from callbridge.webhooks.twilio_signature import AuthTokens

CHALLENGE = {"WWW-Authenticate": 'Basic realm="Twilio API"'}
MAX_HEADER_CHARS = 2048


class TwilioAuthenticator:
    """``tokens`` learns each key that authenticates (it signs the key's webhooks)."""

    def __init__(
        self, *, keys: ApiKeyFinder, throttle: FailedKeyThrottle, tokens: AuthTokens
    ) -> None:
        self._keys = keys
        self._throttle = throttle
        self.tokens = tokens

    async def authenticate(self, request: Request, account_sid: str) -> ApiKeyRecord:
        """The key of ``request``'s credentials, which must own ``account_sid``.

        Raises a 401 ``ApiError`` for missing or wrong credentials, a 429 while the source
        address is throttled, a 403 for a key without the call scope and a 404 for
        another account's URL."""
        credentials = _basic_credentials(request.headers.get("authorization", ""))
        if credentials is None:
            raise ApiError(
                status=401,
                error_id="api_key_missing",
                message="send the AccountSid and auth token (HTTP Basic)",
                headers=CHALLENGE,
            )
        user, token = credentials
        address = request.client.host if request.client is not None else ""
        wait = self._throttle.retry_after(address)
        if wait is not None:
            raise ApiError(
                status=429,
                error_id="api_key_throttled",
                message="too many wrong credentials from your address: retry later",
                headers={"Retry-After": retry_after_header(wait)},
            )
        record = await self._keys.find_by_key(token) if 0 < len(token) <= MAX_KEY_CHARS else None
        if record is None or record.name != user:
            self._throttle.failed(address)
            raise ApiError(
                status=401,
                error_id="api_key_invalid",
                message="the AccountSid or auth token is not valid",
                headers=CHALLENGE,
            )
        if CALL_SCOPE not in record.scopes:
            raise ApiError(
                status=403,
                error_id="api_key_scope",
                message=f"the API key does not have the {CALL_SCOPE!r} scope",
            )
        if account_sid != record.name:
            raise ApiError(
                status=404,
                error_id="not_found",
                message=f"the requested resource {request.url.path} was not found",
            )
        self.tokens.learn(record.name, token)
        return record


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic`` header, or None."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip() or len(encoded) > MAX_HEADER_CHARS:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    if not colon or not user:
        return None
    return user, password
