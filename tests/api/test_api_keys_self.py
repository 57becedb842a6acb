"""``GET /api/v2/keys/self``: the authenticated key's own signing secret, limits and scopes."""

from __future__ import annotations

import httpx
from api_fakes import Keys


async def test_a_key_reads_its_own_signing_secret(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.get("/api/v2/keys/self")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    shown = response.json()
    assert shown["signingSecret"] == keys.main.signing_secret
    assert (shown["id"], shown["name"], shown["scopes"]) == (keys.main.id, "main", ["call"])
    assert (shown["callsPerSecond"], shown["maxConcurrent"]) == (None, None)
    assert keys.other.signing_secret not in response.text


async def test_without_a_key_nothing_is_shown(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/keys/self", headers={"apikey": "wrong-key-123"})
    assert response.status_code == 401
    assert "signing" not in response.text.lower()
