"""Dead calls end on the real server (``callbridge serve``, uvloop): a call whose callee
answered and then went silent, sending no RTP and no BYE, ends after ``[media]
rtp_timeout``; one whose callee never refreshes its RFC 4028 session timer ends when the
session expires.  Both get a BYE and a ``completed`` callback, with the reason."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from peers.net import free_tcp_port
from peers.sipp import SippRun
from server_config import trunk
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

API_KEY = "dead-calls-test-key-0123456789"
SIP_PORT = 5093
CARRIER = "127.0.10.93"


@pytest.mark.parametrize(
    ("scenario", "settings", "reason"),
    [
        ("uas_answer", {"[media]": "rtp_timeout = 2"}, "rtp_timeout"),
        (
            "uas_timer_no_refresh",
            {"[sip]": "session_expires = 4\nmin_se = 2", "[media]": "rtp_timeout = 0"},
            "session_expired",
        ),
    ],
)
async def test_a_vanished_callee_is_hung_up_and_the_call_completed(
    tmp_path: Path, receiver: Receiver, scenario: str, settings: dict[str, str], reason: str
) -> None:
    receiver.documents["/app"] = '<Response><Pause length="60"/></Response>'
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(44400, 44499),
        node="dead-calls-test",
        api_key=API_KEY,
        more=trunk(f"sip:{CARRIER}:5060"),
    )
    text = config.read_text()
    for section, lines in settings.items():
        text = text.replace(f"{section}\n", f"{section}\n{lines}\n", 1)
    config.write_text(text)
    server = Server(config, http_port, tmp_path / "server.log")
    # SIPp answers, then sends no RTP (no -rtp_echo), no refresh and no BYE.
    callee = SippRun(scenario, workdir=tmp_path, host=CARRIER, port=5060)
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
                    "statusCallbackEvent": "answered completed",
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
    assert (result.successful, result.failed) == (1, 0), result.errors  # the BYE came
    assert detail["status"] == "completed"
    assert detail["hangupCause"] == reason
    [completed] = [e for e in detail["events"] if e["name"] == "completed"]
    assert (completed["data"]["reason"], completed["data"]["by"]) == (reason, "local")
    assert "Traceback" not in (tmp_path / "server.log").read_text()
