"""An inbound call whose document Dials before answering, and nobody answers, tells the
caller why (real server: ``callbridge serve``, SIPp callers at a trunk address, SIPp UAS
targets): every target busy → 486, declined → 603, rang out → 480, not routable → 502, an
offline user beside a target that failed (a challenge it cannot answer) → 480; the call's
completed callback says the same (``CallOutcome``, ``SipResponseCode``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from peers.conftest import SippUacFactory, SippUasFactory
from peers.net import free_tcp_port
from peers.sipp import SCENARIOS, UasMode
from server_config import trunk, users
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "unanswered-dial-key-0123456789abcdef"
SIP_PORT = 5660
RTP_PORTS = (52600, 52699)
# number: (the target's behaviour, or None: a number no trunk routes), the caller's final
# response, the completed callback's CallOutcome
CASES = {
    "+15550661": (UasMode.BUSY, 486, "busy"),
    "+15550662": (UasMode.DECLINE, 603, "busy"),
    "+15550663": (UasMode.RING_FOREVER, 480, "no-answer"),
    "+15550664": (None, 502, "failed"),
    "+15550665": (UasMode.AUTH_407, 480, "failed"),
}
# Dialled beside the target: a user never registered (offline, no leg placed).
OFFLINE_TOO = {"+15550665": "<User>1002</User>"}


def expecting(final: int, directory: Path) -> Path:
    """SIPp's uac_busy scenario, expecting ``final`` instead of 486 (and nothing else)."""
    text = (SCENARIOS / "uac_busy.xml").read_text()
    path = directory / f"uac_expect_{final}.xml"
    path.write_text(text.replace('response="486"', f'response="{final}"'))
    return path


def completed_callbacks(receiver: Receiver) -> dict[str, dict[str, str]]:
    """The completed callbacks received, by the number called."""
    hooks = (r.form for r in receiver.on("/status"))
    return {hook["Called"]: hook for hook in hooks if hook["CallStatus"] == "completed"}


async def test_an_unanswered_dial_before_answer_tells_the_caller_why(
    tmp_path: Path, receiver: Receiver, sipp_uas: SippUasFactory, sipp_uac: SippUacFactory
) -> None:
    numbers = ""
    for number, (mode, _, _) in CASES.items():
        if mode is None:
            dial = "<Number>+4930123456</Number>"  # no default trunk: not routable
        else:
            target = await sipp_uas(mode)
            dial = f"<Sip>sip:agent@{target.address}</Sip>{OFFLINE_TOO.get(number, '')}"
        path = f"/app{number[-1]}"
        receiver.documents[path] = f'<Response><Dial timeout="2">{dial}</Dial></Response>'
        numbers += f"""
[[numbers]]
number = "{number}"
voice_url = "{receiver.url(path)}"
status_callback = "{receiver.url("/status")}"
api_key = "test"
"""
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP_PORTS,
        node="unanswered-dial-test",
        api_key=KEY,
        more=f"""
{users("1002")}
{trunk("sip:127.0.10.2:5060", default=False, inbound=("127.0.10.0/24",))}
{numbers}""",
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        for number, (_, final, _) in CASES.items():
            scenario = expecting(final, tmp_path)
            run = sipp_uac(f"127.0.0.1:{SIP_PORT}", scenario, service=number.lstrip("+"))
            result = await run.run(timeout=20)
            messages = run.message_file.read_text(errors="replace")
            assert result.ok, (number, result.errors, messages[-2000:])
            assert "SIP/2.0 200" not in messages, number  # never answered
        await receiver.wait_for(
            lambda: set(completed_callbacks(receiver)) >= set(CASES), timeout=15
        )
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            listed = (await api.get("/api/v2/calls", params={"direction": "inbound"})).json()
    finally:
        await server.stop()
    completed = completed_callbacks(receiver)
    stored = {call["to"]: call for call in listed["calls"]}
    for number, (_, final, outcome) in CASES.items():
        hook = completed[number]
        assert (hook["CallOutcome"], hook["SipResponseCode"]) == (outcome, str(final)), number
        assert hook["CallDuration"] == "0"
        assert stored[number]["sipCode"] == final, stored[number]
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
