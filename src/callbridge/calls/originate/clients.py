"""The clients of ``/api/originate-call`` ([[originate_users]]) and seed-002's check:
``api_username`` and ``api_password`` must match, and ``api_hash`` must be
``md5(http_build_query(every other parameter, in the order received) . key)``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from callbridge.calls.originate.request import OriginateRefused
from callbridge.dialects.php_query import PhpValue, php_build_query

BAD_CREDENTIALS = "Invalid api_username or api_password"
BAD_HASH = "Invalid api_hash. It must be md5(http_build_query(params) . key) without api_hash"


@dataclass(frozen=True, kw_only=True)
class OriginateClient:
    username: str
    password: str
    key: str
    project: int | None  # None: every project

    def may_use(self, project_id: int) -> bool:
        return self.project is None or self.project == project_id


def expected_hash(params: Mapping[str, PhpValue], key: str) -> str:
    signed = {name: value for name, value in params.items() if name != "api_hash"}
    return hashlib.md5((php_build_query(signed) + key).encode()).hexdigest()


class OriginateClients:
    def __init__(self, clients: Iterable[OriginateClient]) -> None:
        self._by_name = {c.username: c for c in clients}

    def authenticate(self, params: Mapping[str, PhpValue]) -> OriginateClient:
        """The client the parameters prove to be; raises OriginateRefused.  A wrong
        username and a wrong password get the same message (no probing for names)."""
        username = params.get("api_username")
        password = params.get("api_password")
        given_hash = params.get("api_hash")
        missing = [
            name
            for name, value in (
                ("api_username", username),
                ("api_password", password),
                ("api_hash", given_hash),
            )
            if not isinstance(value, str) or not value
        ]
        if missing:
            raise OriginateRefused(*(f"Missing mandatory field: {name}" for name in missing))
        assert isinstance(username, str)
        assert isinstance(password, str)
        assert isinstance(given_hash, str)
        client = self._by_name.get(username)
        if client is None or not hmac.compare_digest(client.password.encode(), password.encode()):
            raise OriginateRefused(BAD_CREDENTIALS)
        if not hmac.compare_digest(
            expected_hash(params, client.key).encode(), given_hash.lower().encode()
        ):
            raise OriginateRefused(BAD_HASH)
        return client
