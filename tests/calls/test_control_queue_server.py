"""Call control into a queue through the real server (``callbridge serve``, uvloop, the
HTTP worker): a number whose control answer is seed-004's ``<Queue queue_id=.../>`` waits
the caller in a [[queues]] entry (``queues`` reach call control through ``ControlPorts``);
a registered baresip member answers and the caller is bridged to it (notify CallAccepted
with the member as peer, posted when the member answers, HungUp type=accepted), after
hearing the configured music on hold (a 600 Hz tone here).  A queue with no member logged in
overflows: its ``overflow`` plan (``<Reject reason="busy"/>``) runs through call control
and the caller gets 486."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from audio_analysis import first_frame, tone_frames
from peers.baresip import write_tone_wav
from peers.conftest import BaresipFactory, SippUacFactory
from peers.net import free_tcp_port
from peers.phones import registered_phone
from server_config import trunk, users
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "control-queue-key-0123456789abcdef"
SIP_PORT = 5345
RTP_PORTS = (49800, 49999)
STAFFED, EMPTY = "+4922129191001", "+4922129191002"
MUSIC_HZ, MEMBER_HZ, CALLER_HZ = 600.0, 1000.0, 700.0


def numbers(receiver: Receiver) -> str:
    return "".join(
        f"""
[[numbers]]
number = "{number}"
control_url = "{receiver.url(f"/control/{queue}")}"
notify_url = "{receiver.url(f"/notify/{queue}")}"
api_key = "test"
"""
        for number, queue in ((STAFFED, "sales"), (EMPTY, "night"))
    )


async def start_server(tmp_path: Path, media: str = "") -> tuple[Server, Receiver]:
    """The server with both numbers and queues; the receiver answers call control."""
    receiver = Receiver()
    for queue in ("sales", "night"):
        receiver.documents[f"/control/{queue}"] = (
            f'<Response><Queue queue_id="{queue}"/></Response>'
        )
    await receiver.start()
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP_PORTS,
        node="control-queue-test",
        api_key=KEY,
        media=media,
        more=f"""
{users("1001", "1002")}
{trunk("sip:127.0.10.2:5060", inbound=("127.0.10.0/24",))}
[[projects]]
id = 1
[[queues]]
id = "sales"
project = 1
strategy = "roundrobin"
members = ["1001"]
wrapup = 30
announce_position_every = 0
[[queues]]
id = "night"
project = 1
strategy = "roundrobin"
members = ["1002"]
announce_position_every = 0
overflow = '<Response><Reject reason="busy"/></Response>'
{numbers(receiver)}""",
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    return server, receiver


async def test_control_queues_the_caller_a_member_answers_an_empty_queue_overflows_busy(
    tmp_path: Path, baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    server, receiver = await start_server(tmp_path)
    try:
        member = await registered_phone(
            baresip,
            "1001",
            registrar=f"127.0.0.1:{SIP_PORT}",
            password="secret1001",
            auto_answer=True,
        )
        staffed = sipp_uac(f"127.0.0.1:{SIP_PORT}", service=STAFFED.lstrip("+"), pause_ms=3000)
        call = asyncio.create_task(staffed.run())
        await member.wait_event("CALL_ESTABLISHED", timeout=10)
        # CallAccepted is posted when the member answers, not once the bridged call ended.
        await receiver.wait_for(
            lambda: any(
                r.form.get("event") == "CallAccepted" for r in receiver.on("/notify/sales")
            ),
            timeout=10,
        )
        assert not [e for e in member.events if e.get("type") == "CALL_CLOSED"]
        result = await call
        assert result.ok, result.errors or result.stats
        await member.wait_event("CALL_CLOSED", timeout=10)
        await receiver.wait_for(
            lambda: any(r.form.get("event") == "HungUp" for r in receiver.on("/notify/sales")),
            timeout=15,
        )
        # Nobody of "night" is registered: its overflow plan rejects the caller busy.
        empty = sipp_uac(f"127.0.0.1:{SIP_PORT}", "uac_busy", service=EMPTY.lstrip("+"))
        result = await empty.run()
        assert result.ok, result.errors or result.stats
        await receiver.wait_for(
            lambda: any(r.form.get("event") == "HungUp" for r in receiver.on("/notify/night")),
            timeout=15,
        )
    finally:
        await server.stop()
        await receiver.stop()
    sales = [p.form for p in receiver.on("/notify/sales")]
    print("sales notify:", sales)
    assert [p["event"] for p in sales] == ["IncomingCall", "CallAccepted", "HungUp"]
    assert sales[1]["peer"].startswith("1001@")  # as Forward names an extension
    assert sales[2]["type"] == "accepted"
    night = [p.form for p in receiver.on("/notify/night")]
    print("night notify:", night)
    assert [p["event"] for p in night] == ["IncomingCall", "HungUp"]
    assert night[1]["type"] == "blocked"
    assert len(receiver.on("/control/sales")) == len(receiver.on("/control/night")) == 1
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "queue night: overflow" in log
    assert "Traceback" not in log, log[-3000:]


async def test_the_caller_hears_hold_music_then_the_member(
    tmp_path: Path, baresip: BaresipFactory
) -> None:
    music = write_tone_wav(tmp_path / "music.wav", MUSIC_HZ)
    server, receiver = await start_server(tmp_path, media=f'music_on_hold = "{music}"')
    try:
        member = await registered_phone(
            baresip,
            "1001",
            registrar=f"127.0.0.1:{SIP_PORT}",
            password="secret1001",
            auto_answer=False,
            tone_hz=MEMBER_HZ,
        )
        caller = await baresip("caller", host="127.0.10.5", tone_hz=CALLER_HZ)
        await caller.dial(f"sip:{STAFFED}@127.0.0.1:{SIP_PORT}")
        await caller.wait_event("CALL_ESTABLISHED", timeout=10)  # answered on joining
        await member.wait_event("CALL_INCOMING", timeout=10)
        await asyncio.sleep(2.0)  # the caller hears the music
        await member.answer()
        await member.wait_event("CALL_ESTABLISHED", timeout=10)
        await asyncio.sleep(1.5)  # and then the member
        await caller.hangup()
        await member.wait_event("CALL_CLOSED", timeout=10)
        await caller.wait_event("CALL_CLOSED", timeout=10)
        await caller.stop()
        await receiver.wait_for(
            lambda: any(r.form.get("event") == "HungUp" for r in receiver.on("/notify/sales")),
            timeout=15,
        )
    finally:
        await server.stop()
        await receiver.stop()
    recording = caller.recorded_wav
    heard_music = tone_frames(recording, MUSIC_HZ)
    heard_member = tone_frames(recording, MEMBER_HZ)
    print(f"caller heard: {heard_music} music frames, {heard_member} member frames")
    assert heard_music > 50  # > 1 s of the music on hold
    assert heard_member > 25  # then the member
    assert first_frame(recording, MUSIC_HZ) < first_frame(recording, MEMBER_HZ)
    sales = [p.form for p in receiver.on("/notify/sales")]
    assert [p["event"] for p in sales] == ["IncomingCall", "CallAccepted", "HungUp"]
    assert sales[2]["type"] == "accepted"
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
