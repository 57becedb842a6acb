"""A user with two phones, called through the switch of the real server (``callbridge
serve``): each phone is its own leg, placed by the switch, not forked by the engine.

- Two baresip phones registered as 1002: a third phone (1001) dials 1002 and a trunk
  caller (SIPp at a trunk address) calls a number routed to ``user = "1002"``; both
  phones ring, one answers, the other gets CANCEL (its INVITE ends 487 Request
  Terminated), and audio flows between the caller and the phone that answered.
- Two SIPp UASes registered as 1002 that both answer 486: the caller gets 486.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from audio_analysis import tone_frames
from peers.baresip import Baresip
from peers.conftest import BaresipFactory, SippUacFactory, SippUasFactory, sipp_host
from peers.net import free_tcp_port
from peers.phones import registered_phone
from peers.sipp import UasMode
from peers.sipp_phone import register_sipp_phone
from server_config import trunk
from server_process import Server, write_config

pytestmark = pytest.mark.peers

SIP_PORT = 5700
RTP = (52800, 52999)
KEY = "user-phones-key-0123456789abcdef"
NUMBER = "+15550142"
PASSWORDS = {"1001": "secret1001", "1002": "secret1002"}
WAIT = 10.0
MEDIA_SECONDS = 1.5
MIN_TONE_FRAMES = 25  # of the 75 frames in MEDIA_SECONDS


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP,
        node="user-phones",
        api_key=KEY,
        more=f"""
[[users]]
extension = "1001"
password = "{PASSWORDS["1001"]}"
[[users]]
extension = "1002"
password = "{PASSWORDS["1002"]}"
{trunk("sip:127.0.10.2:5060", inbound=("127.0.10.0/24",))}
[[numbers]]
number = "{NUMBER}"
user = "1002"
api_key = "test"
""",
    )
    running = Server(config, http_port, tmp_path / "server.log")
    await running.start()
    yield running
    await running.stop()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


async def phone(
    baresip: BaresipFactory, user: str, tone_hz: float, name: str | None = None
) -> Baresip:
    """A baresip phone registered as ``user`` sending ``tone_hz``, its SIP traced."""
    return await registered_phone(
        baresip,
        user,
        registrar=f"127.0.0.1:{SIP_PORT}",
        password=PASSWORDS[user],
        name=name,
        timeout=WAIT,
        tone_hz=tone_hz,
        sip_trace=True,
    )


def cancelled(phone: Baresip) -> bool:
    """Whether ``phone``'s SIP trace shows a CANCEL it received and the 487 it sent."""
    text = phone.log_text()
    return "CANCEL sip:" in text and "SIP/2.0 487" in text


async def test_both_phones_ring_the_first_to_answer_talks_the_other_is_cancelled(
    server: Server, baresip: BaresipFactory
) -> None:
    caller, desk, mobile = await asyncio.gather(
        phone(baresip, "1001", 440.0),
        phone(baresip, "1002", 1000.0, name="desk"),
        phone(baresip, "1002", 700.0, name="mobile"),
    )
    await caller.dial(f"sip:1002@127.0.0.1:{SIP_PORT}")
    await asyncio.gather(
        desk.wait_event("CALL_INCOMING", timeout=WAIT),
        mobile.wait_event("CALL_INCOMING", timeout=WAIT),
    )
    await mobile.answer()
    await desk.wait_event("CALL_CLOSED", timeout=WAIT)
    await caller.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    await asyncio.sleep(MEDIA_SECONDS)
    await caller.hangup()
    await asyncio.gather(
        caller.wait_event("CALL_CLOSED", timeout=WAIT),
        mobile.wait_event("CALL_CLOSED", timeout=WAIT),
    )
    assert cancelled(desk), desk.log_text()[-3000:]
    assert not cancelled(mobile)
    assert desk.recorded_wav is None, "the cancelled phone was never in the call"
    assert tone_frames(caller.recorded_wav, 700.0) > MIN_TONE_FRAMES, "1001 did not hear 1002"
    assert tone_frames(mobile.recorded_wav, 440.0) > MIN_TONE_FRAMES, "1002 did not hear 1001"


async def test_both_phones_busy_gives_the_caller_486(
    server: Server, baresip: BaresipFactory, sipp_uas: SippUasFactory
) -> None:
    hosts = [sipp_host(), sipp_host()]
    for host in hosts:
        await register_sipp_phone(
            host, user="1002", password=PASSWORDS["1002"], registrar_port=SIP_PORT
        )
    phones = [await sipp_uas(UasMode.BUSY, host=host) for host in hosts]
    caller = await phone(baresip, "1001", 440.0)
    await caller.dial(f"sip:1002@127.0.0.1:{SIP_PORT}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=WAIT)
    assert "486" in str(closed.get("param", "")), closed
    for busy in phones:  # each phone got its own INVITE (and answered it 486)
        assert busy.message_file.read_text().count("INVITE sip:1002@") >= 1


async def test_a_number_routed_to_the_user_rings_both_phones(
    server: Server, baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    desk, mobile = await asyncio.gather(
        phone(baresip, "1002", 1000.0, name="desk"),
        phone(baresip, "1002", 700.0, name="mobile"),
    )
    call = sipp_uac(f"127.0.0.1:{SIP_PORT}", service=NUMBER.lstrip("+"), pause_ms=500)
    running = asyncio.create_task(call.run())
    await asyncio.gather(
        desk.wait_event("CALL_INCOMING", timeout=WAIT),
        mobile.wait_event("CALL_INCOMING", timeout=WAIT),
    )
    await desk.answer()
    await mobile.wait_event("CALL_CLOSED", timeout=WAIT)
    assert cancelled(mobile), mobile.log_text()[-3000:]
    result = await asyncio.wait_for(running, WAIT)
    assert result.ok, result.errors or result.stats
    await desk.wait_event("CALL_CLOSED", timeout=WAIT)
    assert mobile.recorded_wav is None, "the cancelled phone was never in the call"
