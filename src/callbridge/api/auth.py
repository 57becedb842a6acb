"""API keys: the ``apikey`` header (as the seed sends it) or an ``apikey`` field of the query
string or the form/JSON body, looked up by its hash."""

from __future__ import annotations

from typing import Protocol

from fastapi import Request

from callbridge.api.errors import ApiError
from callbridge.dialects.fields import Fields
from callbridge.store.records import ApiKeyRecord

API_KEY = "apikey"
CALL_SCOPE = "call"
MAX_KEY_CHARS = 512


class ApiKeyFinder(Protocol):
    """What authentication needs of the key store (``ApiKeyRepository`` is one)."""

    async def find_by_key(self, key: str) -> ApiKeyRecord | None: ...


class Authenticator:
    def __init__(self, *, keys: ApiKeyFinder) -> None:
        self._keys = keys

    def key_given(self, request: Request, *fields: Fields) -> bool:
        return _given_key(request, fields) is not None

    async def authenticate(
        self, request: Request, *fields: Fields, scope: str = CALL_SCOPE
    ) -> ApiKeyRecord:
        """The key of ``request`` (header first, then ``fields`` in order) with ``scope``.

        Raises a 401 ``ApiError`` when no key is given or it is unknown, a 403 when the key
        lacks ``scope``."""
        key = _given_key(request, fields)
        if key is None:
            raise ApiError(
                status=401,
                error_id="api_key_missing",
                message=f"send your API key in the {API_KEY} header",
                headers={"WWW-Authenticate": API_KEY},
            )
        record = await self._keys.find_by_key(key) if len(key) <= MAX_KEY_CHARS else None
        if record is None:
            raise ApiError(
                status=401,
                error_id="api_key_invalid",
                message="the API key is not valid",
                headers={"WWW-Authenticate": API_KEY},
            )
        if scope not in record.scopes:
            raise ApiError(
                status=403,
                error_id="api_key_scope",
                message=f"the API key does not have the {scope!r} scope",
            )
        return record


def _given_key(request: Request, fields: tuple[Fields, ...]) -> str | None:
    header = request.headers.get(API_KEY, "").strip()
    if header:
        return header
    for each in fields:
        for value in each.get(API_KEY):
            if value.strip():
                return value.strip()
    return None
