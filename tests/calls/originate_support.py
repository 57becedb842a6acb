"""What the OriginateCall tests against the real server share: the seed's PHP example run
by php-cli, requests signed by PHP's own md5(http_build_query(...) . key), the call state
by external_id, the carrier's INVITEs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx

from peers.sipp import SippRun
from server_process import Server

PHP_EXAMPLE = Path(__file__).parent / "php" / "originate_call.php"
CUSTOMER = "0123456789"
SHOWN_NUMBER = "+40212345678"


async def php_example(server: Server, **env: str) -> dict[str, Any]:
    """Run the seed's example; its printed body, decoded."""
    process = await asyncio.create_subprocess_exec(
        "php",
        str(PHP_EXAMPLE),
        env={**os.environ, "URL": f"{server.url}/api/originate-call", **env},
        stdout=subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    reply: dict[str, Any] = json.loads(out)
    return reply


def php_hash(params: dict[str, Any], key: str) -> str:
    """md5(http_build_query($params) . key), computed by PHP itself."""
    code = "echo md5(http_build_query(json_decode($argv[1], true)) . $argv[2]);"
    done = subprocess.run(
        ["php", "-r", code, json.dumps(params), key], capture_output=True, text=True, check=True
    )
    return done.stdout


async def signed(
    api: httpx.AsyncClient, params: dict[str, Any], key: str = "your_api_key"
) -> dict[str, Any]:
    body = {**params, "api_hash": php_hash(params, key)}
    response = await api.post("/api/originate-call", json=body)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    assert set(reply) == {"has_error", "messages", "results"}, reply
    return reply


def auth() -> dict[str, Any]:
    return {"api_username": "your_api_usr", "api_password": "your_api_pass"}


def data(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "project_id": 1,
        "caller_id": CUSTOMER,
        "caller_id_name": "John Doe",
        "type": "user",
        "destination": "1001",
        "external_id": "ext-1",
        "async": 1,
        "vars": {"BACKEND_LINK": "https://crm.example.com/?id=1"},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


async def state_of(api: httpx.AsyncClient, external_id: str, status: str) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for _ in range(200):
        reply = await signed(api, {**auth(), "external_id": external_id})
        shown = reply["results"][0] if reply["results"] else reply
        if shown.get("status") == status:
            break
        await asyncio.sleep(0.05)
    return shown


def carrier_invites(carrier: SippRun) -> list[str]:
    return [
        entry
        for entry in re.split(r"^-{20,} .*$", carrier.message_file.read_text(), flags=re.M)
        if "message received" in entry and "\nINVITE sip:" in entry
    ]


async def no_legs(api: httpx.AsyncClient) -> bool:
    for _ in range(100):
        if (await api.get("/health")).json()["legs"] == 0:
            return True
        await asyncio.sleep(0.05)
    return False
