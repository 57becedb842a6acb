"""API keys on the real server (``callbridge serve``, uvloop, uvicorn's own logging): no
key sent in a URL reaches its log; a generated signing secret is logged once at start-up
and ``callbridge keys list`` prints it again; wrong keys get the address throttled."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from peers.net import free_tcp_port
from server_process import Server, write_config

KEY = "server-keys-test-key-0123456789"
WEBHOOK_CODE = "bitrix-webhook-code-0123456789"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[Server, Path]]:
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=free_tcp_port(),
        http_port=http_port,
        rtp_ports=(44800, 44819),
        node="keys-test",
        api_key=KEY,
        more=f'[[api_keys]]\nkey = "{WEBHOOK_CODE}"\nname = "bitrix"\n',
    )
    log = tmp_path / "server.log"
    running = Server(config, http_port, log)
    await running.start()
    try:
        yield running, config
    finally:
        await running.stop()


async def until_logged(log: Path, text: str) -> str:
    for _ in range(100):
        content = await asyncio.to_thread(log.read_text)
        if text in content:
            return content
        await asyncio.sleep(0.05)
    return await asyncio.to_thread(log.read_text)


async def test_keys_in_urls_never_reach_the_access_log(
    server: tuple[Server, Path], tmp_path: Path
) -> None:
    running, _ = server
    async with httpx.AsyncClient(base_url=running.url) as api:
        assert (await api.get("/api/v2/calls", params={"apikey": KEY})).status_code == 200
        await api.get("/api/v2/calls", params={"x": "1", "ApiKey": KEY})
        assert (await api.get(f"/rest/voximplant.line.get?auth={KEY}")).status_code == 200
        webhook = await api.get(f"/rest/1/{WEBHOOK_CODE}/voximplant.line.get.json")
        assert webhook.status_code == 200
        await api.get(f"/rest/1/{WEBHOOK_CODE}")  # 404: logged too
        await api.get("/api/v2/calls?apikey=wrong-key-in-the-url-0001")
    log = await until_logged(tmp_path / "server.log", "wrong-key-in-the-url")
    log = await until_logged(tmp_path / "server.log", '/rest/1/[redacted] HTTP/1.1" 404')
    assert "GET /api/v2/calls?apikey=[redacted] HTTP/1.1" in log, log[-2000:]
    assert "/rest/1/[redacted]/voximplant.line.get.json" in log, log[-2000:]
    assert "/rest/voximplant.line.get?auth=[redacted]" in log, log[-2000:]
    for secret in (KEY, WEBHOOK_CODE, "wrong-key-in-the-url"):
        assert secret not in log


async def test_a_generated_signing_secret_is_logged_once_and_listed_by_the_cli(
    server: tuple[Server, Path], tmp_path: Path
) -> None:
    running, config = server
    async with httpx.AsyncClient(base_url=running.url, headers={"apikey": KEY}) as api:
        own = (await api.get("/api/v2/keys/self")).json()
    secret = own["signingSecret"]
    assert secret.startswith("whsec_")
    log = await asyncio.to_thread((tmp_path / "server.log").read_text)
    assert log.count(secret) == 1, "the generated secret is shown once, at start-up"
    assert "API key 'test': generated its callbacks' signing secret" in log

    listing = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "callbridge.cli",
        "keys",
        "list",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await listing.communicate()
    assert listing.returncode == 0, err.decode()
    rows = [line.split("\t") for line in out.decode().splitlines()]
    assert rows[0] == [
        "name",
        "id",
        "scopes",
        "calls_per_second",
        "max_concurrent",
        "signing_secret",
    ]
    assert ["test", own["id"], "call", "-", "-", secret] in rows[1:]
    assert {row[0] for row in rows[1:]} == {"bitrix", "test"}
    assert KEY not in out.decode()

    await running.stop()  # a restart keeps the secret and does not show it again
    await running.start()
    async with httpx.AsyncClient(base_url=running.url, headers={"apikey": KEY}) as api:
        again = (await api.get("/api/v2/keys/self")).json()
    assert again["signingSecret"] == secret
    assert (await asyncio.to_thread((tmp_path / "server.log").read_text)).count(secret) == 1


async def test_wrong_keys_are_throttled_by_the_real_server(server: tuple[Server, Path]) -> None:
    running, _ = server
    async with httpx.AsyncClient(base_url=running.url) as api:
        codes = [
            (await api.get("/api/v2/calls", headers={"apikey": f"guess-{n:04d}-xxxxx"})).status_code
            for n in range(30)
        ]
        right = await api.get("/api/v2/calls", headers={"apikey": KEY})
    assert codes == [401] * 10 + [429] * 20
    assert right.status_code == 429  # the right key waits too, from the throttled address
    assert right.headers["retry-after"] == "60"


async def test_a_callback_urls_credentials_and_secret_key_never_reach_the_log(
    server: tuple[Server, Path], tmp_path: Path
) -> None:
    """Call-control URLs carry basic auth; GET callbacks carry secretKey as apikey=: the
    HTTP worker that fails to reach them logs the URL without either."""
    running, _ = server
    closed = free_tcp_port()  # nothing listens there: the callback finds no answer
    async with httpx.AsyncClient(base_url=running.url, headers={"apikey": KEY}) as api:
        created = await api.post(
            "/api/v2/calls",
            data={
                "to": f"sip:nobody@127.0.0.1:{closed}",
                "from": "15550001",
                "statusCallback": f"http://app:basic-auth-pw-0001@127.0.0.1:{closed}/cb",
                "statusCallbackMethod": "GET",
                "statusCallbackEvent": "initiated",
                "secretKey": "callback-secret-key-0001",
            },
        )
    assert created.status_code == 201, created.text
    log = await until_logged(tmp_path / "server.log", f"[redacted]@127.0.0.1:{closed}/cb")
    assert f"GET http://[redacted]@127.0.0.1:{closed}/cb?" in log, log[-2000:]
    assert "apikey=[redacted]" in log
    assert "basic-auth-pw-0001" not in log
    assert "callback-secret-key-0001" not in log
    # ... and the start-up said where to go next
    assert f"interactive documentation: {running.url}/docs" in log
