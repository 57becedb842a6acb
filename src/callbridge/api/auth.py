"""API keys: the ``apikey`` header (as the seed sends it) or an ``apikey`` field of the query
string or the form/JSON body, looked up by its hash.  Each API says where its clients put
the key (:class:`KeySources`): the Bitrix24 REST API also takes ``Authorization: Bearer``
and an ``auth`` field, and its incoming-webhook URLs carry the key as a path segment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from callbridge.api.errors import ApiError, retry_after_header
from callbridge.api.key_throttle import FailedKeyThrottle
from callbridge.dialects.fields import Fields
from callbridge.store.records import ApiKeyRecord

API_KEY = "apikey"
CALL_SCOPE = "call"
MAX_KEY_CHARS = 512
BEARER = "bearer"


@dataclass(frozen=True, kw_only=True)
class KeySources:
    """Where a request's API key may be: ``path_params`` (a key in the URL is the
    credential of the URL itself, so it comes first and a request whose route has one is
    authenticated by it alone), ``headers`` (their whole value), an
    ``Authorization: Bearer <key>`` header when ``bearer``, then ``fields`` (query, then
    body), first found wins.  ``hint`` tells a client without a key where to send it;
    ``challenge`` is the ``WWW-Authenticate`` of a 401."""

    path_params: tuple[str, ...] = ()
    headers: tuple[str, ...] = (API_KEY,)
    bearer: bool = False
    fields: tuple[str, ...] = (API_KEY,)
    hint: str = f"send your API key in the {API_KEY} header"
    challenge: str = API_KEY


APIKEY_HEADER = KeySources()


class ApiKeyFinder(Protocol):
    """What authentication needs of the key store (``ApiKeyRepository`` is one)."""

    async def find_by_key(self, key: str) -> ApiKeyRecord | None: ...


class Authenticator:
    """``throttle`` counts the wrong keys of each source address (share one between the
    authenticators of an app: they guard the same keys)."""

    def __init__(
        self,
        *,
        keys: ApiKeyFinder,
        sources: KeySources = APIKEY_HEADER,
        throttle: FailedKeyThrottle | None = None,
    ) -> None:
        self._keys = keys
        self._sources = sources
        self._throttle = FailedKeyThrottle() if throttle is None else throttle

    def key_given(self, request: Request, *fields: Fields) -> bool:
        return _given_key(request, fields, self._sources) is not None

    async def authenticate(
        self, request: Request, *fields: Fields, scope: str = CALL_SCOPE
    ) -> ApiKeyRecord:
        """The key of ``request`` (header first, then ``fields`` in order) with ``scope``.

        Raises a 401 ``ApiError`` when no key is given or it is unknown, a 403 when the key
        lacks ``scope``, a 429 while the request's source address is throttled for the
        wrong keys it sent (its key is then not looked up)."""
        key = _given_key(request, fields, self._sources)
        challenge = {"WWW-Authenticate": self._sources.challenge}
        if key is None:
            raise ApiError(
                status=401,
                error_id="api_key_missing",
                message=self._sources.hint,
                headers=challenge,
            )
        address = request.client.host if request.client is not None else ""
        wait = self._throttle.retry_after(address)
        if wait is not None:
            raise ApiError(
                status=429,
                error_id="api_key_throttled",
                message="too many wrong API keys from your address: retry later",
                headers={"Retry-After": retry_after_header(wait)},
            )
        record = await self._keys.find_by_key(key) if 0 < len(key) <= MAX_KEY_CHARS else None
        if record is None:
            self._throttle.failed(address)
            raise ApiError(
                status=401,
                error_id="api_key_invalid",
                message="the API key is not valid",
                headers=challenge,
            )
        if scope not in record.scopes:
            raise ApiError(
                status=403,
                error_id="api_key_scope",
                message=f"the API key does not have the {scope!r} scope",
            )
        return record


def _given_key(request: Request, fields: tuple[Fields, ...], sources: KeySources) -> str | None:
    for name in sources.path_params:
        if name in request.path_params:  # even blank: the URL names this key, no other
            return str(request.path_params[name]).strip()
    for name in sources.headers:
        header = request.headers.get(name, "").strip()
        if header:
            return header
    if sources.bearer:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() == BEARER and token.strip():
            return token.strip()
    for each in fields:
        for value in each.get(*sources.fields):
            if value.strip():
                return value.strip()
    return None
