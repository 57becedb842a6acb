"""``/openapi.json`` describes every route with its request body, replies and API-key
schemes; ``/docs`` is Swagger UI served from the server's own files (no CDN)."""

from __future__ import annotations

import re

import httpx

WRITES = {
    ("post", "/api/v2/calls"): "PlaceCall",
    ("post", "/didforsaleapi/index.php/api/V2/CallTermination/"): "PlaceCall",
    ("post", "/api/v2/calls/{sid}"): "UpdateCall",
    ("post", "/voice/call/callback"): "PlaceCallback",
    ("post", "/rest/voximplant.callback.start"): "CallbackStart",
}


async def test_every_operation_is_described(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apikeyHeader"] == {"type": "apiKey", "in": "header", "name": "apikey"}
    assert schemes["bitrixBearer"]["scheme"] == "bearer"
    ids = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            ids.add(operation["operationId"])
            for code, reply in operation["responses"].items():
                assert reply["content"], (method, path, code)
                if code != "200" or "recordings" not in path.lower():
                    assert "$ref" in reply["content"]["application/json"]["schema"]
            if path != "/health" and "{code}" not in path:
                assert operation["security"], (method, path)
    assert len(ids) == sum(len(ops) for ops in spec["paths"].values())  # unique
    for (method, path), model in WRITES.items():
        body = spec["paths"][path][method]["requestBody"]["content"]
        assert body["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
    calls = spec["components"]["schemas"]["Call"]["properties"]
    assert {"CallSid", "from", "to", "status", "sipCode", "hangupCause"} <= set(calls)
    assert "from" in spec["components"]["schemas"]["PlaceCall"]["properties"]
    created = spec["paths"]["/api/v2/calls"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/Call")


async def test_docs_are_served_without_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(source.startswith("/") for source in sources), sources
    for source in sources:
        if source.startswith("/docs/assets/"):
            asset = await client.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 500
    assert (await client.get("/redoc")).status_code == 404
