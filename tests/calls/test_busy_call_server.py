"""Issue 11 item 7 against the real server (``callbridge serve``): an outbound call
(``POST /api/v2/calls``) to a SIPp callee that answers ``486 Busy Here`` sends exactly the
callbacks subscribed, in order, each with the ``Timestamp`` of its event and the call's
next ``SequenceNumber``; the completed one tells busy from answered-and-short."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from peers.net import free_tcp_port
from peers.sipp import SippRun, UasMode
from server_config import trunk
from server_database import DATABASES, database_url_for
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

API_KEY = "busy-call-test-key-0123456789"
SIP_PORT = 5097
CARRIER = "127.0.10.97"


@pytest.fixture(params=DATABASES)
async def database_url(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The server's database: a SQLite file, or a fresh PostgreSQL database."""
    async with database_url_for(request, tmp_path) as url:
        yield url


async def test_a_busy_callee_gives_the_subscribed_callbacks_numbered_with_busy_and_486(
    tmp_path: Path, receiver: Receiver, database_url: str
) -> None:
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(45400, 45419),
        node="busy-call-test",
        api_key=API_KEY,
        database_url=database_url,
        more=trunk(f"sip:{CARRIER}:5060"),
    )
    server = Server(config, http_port, tmp_path / "server.log")
    callee = SippRun.uas(UasMode.BUSY, workdir=tmp_path, host=CARRIER, port=5060, calls=1)
    await server.start()
    try:
        async with (
            callee,
            httpx.AsyncClient(base_url=server.url, headers={"apikey": API_KEY}) as api,
        ):
            created = await api.post(
                "/api/v2/calls",
                data={
                    "to": "15550100",
                    "from": "15550001",
                    "url": receiver.url("/app"),
                    "statusCallback": receiver.url("/status"),
                    "statusCallbackEvent": "initiated ringing completed",  # not answered
                },
            )
            assert created.status_code == 201, created.text
            sid = created.json()["CallSid"]
            await receiver.wait_for(
                lambda: any(r.form.get("CallStatus") == "completed" for r in receiver.accepted),
                timeout=15,
            )
            result = await callee.wait(timeout=10)
            detail = (await api.get(f"/api/v2/calls/{sid}")).json()
    finally:
        await server.stop()
    assert (result.successful, result.failed) == (1, 0), result.errors
    hooks = [r.form for r in receiver.accepted if r.path == "/status"]
    assert [(h["CallStatus"], h["SequenceNumber"]) for h in hooks] == [
        ("initiated", "0"),
        ("ringing", "1"),
        ("completed", "2"),
    ]
    assert all(h["CallSid"] == sid for h in hooks)
    completed = hooks[-1]
    assert (completed["CallOutcome"], completed["SipResponseCode"]) == ("busy", "486")
    assert completed["CallDuration"] == "0"
    # Each Timestamp is the time its event was stored (to the second, in UTC).
    stamps = [parsedate_to_datetime(h["Timestamp"]) for h in hooks]
    assert all(stamp.utcoffset() == timedelta(0) for stamp in stamps)
    events = {e["name"]: datetime.fromisoformat(e["at"]) for e in detail["events"]}
    for hook, stamp in zip(hooks, stamps, strict=True):
        assert stamp == events[hook["CallStatus"]].replace(microsecond=0)
    assert stamps == sorted(stamps)
    assert (detail["status"], detail["sipCode"]) == ("busy", 486)
    assert not receiver.on("/app"), "the application was fetched for an unanswered call"
    assert "Traceback" not in (tmp_path / "server.log").read_text()
