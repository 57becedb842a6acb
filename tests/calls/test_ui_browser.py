"""``/ui`` in a real browser (Debian's headless Chromium) against the real server with real
calls: the calls placed appear in the list, one call's timeline shows its events and
webhook deliveries, and no key means no data."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from peers.conftest import SippUasFactory
from peers.net import free_tcp_port
from peers.sipp import UasMode
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

API_KEY = "ui-test-key-0123456789abcdef"
SIP_PORT = 5077
# Where to keep a screenshot too (docs/ui-calls.png was made so): an absolute path.
SCREENSHOT = os.environ.get("CALLBRIDGE_UI_SCREENSHOT")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    return found


async def browse(url: str, tmp_path: Path, *args: str) -> str:
    """What headless Chromium renders of ``url`` after its scripts ran (its DOM)."""
    argv = [
        chromium(),
        "--headless",
        "--no-sandbox",  # as root in CI
        "--disable-gpu",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--virtual-time-budget=8000",
        "--window-size=1400,900",
        *args,
        url,
    ]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


async def test_the_page_lists_real_calls_and_shows_a_timeline(
    tmp_path: Path, receiver: Receiver, sipp_uas: SippUasFactory
) -> None:
    chromium()
    uas = await sipp_uas(UasMode.ANSWER_THEN_BYE, bye_after_ms=500)
    receiver.documents["/hello"] = "<Response><Say>Hello from the test.</Say></Response>"
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(45000, 45099),
        node="ui-test",
        api_key=API_KEY,
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        sids = []
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": API_KEY}) as api:
            for n in range(2):
                created = await api.post(
                    "/api/v2/calls",
                    data={
                        "to": f"sip:ui{n}@{uas.address}",
                        "from": f"1555000{n}",
                        "url": receiver.url("/hello"),
                        "statusCallback": receiver.url("/status"),
                        "statusCallbackEvent": "initiated answered completed",
                    },
                )
                assert created.status_code == 201, created.text
                sids.append(created.json()["CallSid"])
            for _ in range(200):
                calls = (await api.get("/api/v2/calls")).json()["calls"]
                done = [c for c in calls if c["status"] == "completed"]
                delivered = [
                    r for r in receiver.accepted if r.form.get("CallStatus") == "completed"
                ]
                if len(done) == 2 and len(delivered) == 2:
                    break
                await asyncio.sleep(0.1)
        page = await browse(f"{server.url}/ui#key={API_KEY}&call={sids[0]}", tmp_path, "--dump-dom")
        if SCREENSHOT:
            await browse(
                f"{server.url}/ui#key={API_KEY}&call={sids[0]}",
                tmp_path,
                f"--screenshot={SCREENSHOT}",
            )
        anonymous = await browse(f"{server.url}/ui", tmp_path, "--dump-dom")
    finally:
        await server.stop()
    assert 'data-loaded="2"' in page
    for sid in sids:
        assert sid in page
    assert f"Call {sids[0]}" in page
    for name in ("initiated", "answered", "completed"):
        assert f'<span class="name">{name}</span>' in page
    assert receiver.url("/status") in page  # its webhook deliveries
    assert "status-delivered" in page
    assert "sip:ui0@" in page
    assert "sip:ui1@" in page
    assert "data-loaded" not in anonymous
    assert sids[0] not in anonymous


async def test_the_page_is_served_with_a_strict_policy(tmp_path: Path) -> None:
    from fastapi import FastAPI

    from callbridge.api.ui import CSP, ui_router

    app = FastAPI()
    app.include_router(ui_router())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://callbridge.test"
    ) as client:
        page = await client.get("/ui")
        script = await client.get("/ui/app.js")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP
    assert "textContent" in script.text
    assert "innerHTML" not in script.text
