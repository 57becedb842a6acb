"""``<Enqueue waitUrl>`` through the real server (``callbridge serve``, uvloop, the HTTP
worker): a baresip caller calls a number whose application (a real HTTP server here)
enqueues it with a wait URL; the caller hears the wait document's ``<Play>`` (a 600 Hz
tone) instead of the queue's music (500 Hz), then the baresip member (1000 Hz) once it
answers; the wait URL was asked with the queue's parameters, signed; the Enqueue's
action gets ``QueueResult=bridged``.  The statistics outlive a restart of the server.
A wait document's ``<Leave/>`` takes the caller out of the queue to the action
(``QueueResult=leave``); a wait URL that is down gives the queue's music instead, and
the call's timeline says why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from audio_analysis import first_frame, tone_frames
from peers.baresip import Baresip, write_tone_wav
from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from peers.phones import registered_phone
from server_config import trunk, users
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "queue-wait-key-0123456789abcdef"
SIP_PORT = 5620
RTP_PORTS = (52200, 52399)
WAITING, LEAVING, DOWN = "+4930555001", "+4930555002", "+4930555003"
MUSIC_HZ, WAIT_HZ, MEMBER_HZ, CALLER_HZ = 500.0, 600.0, 1000.0, 700.0


def application(receiver: Receiver, directory: Path, down_url: str) -> None:
    """The numbers' documents; the wait document plays a 1 s tone (and has a <Dial>, which
    a wait document cannot run)."""
    tone = write_tone_wav(directory / "tone.wav", WAIT_HZ, seconds=1.0)
    receiver.files["/tone.wav"] = tone.read_bytes()
    receiver.documents["/app/wait"] = (
        '<Response><Enqueue waitUrl="/wait" action="/after/wait">sales</Enqueue></Response>'
    )
    receiver.documents["/wait"] = "<Response><Play>/tone.wav</Play><Dial>1001</Dial></Response>"
    receiver.documents["/app/leave"] = (
        '<Response><Enqueue waitUrl="/wait-leave" waitUrlMethod="GET" action="/after/leave">'
        "sales</Enqueue></Response>"
    )
    receiver.documents["/wait-leave"] = (
        '<Response><Pause length="1"/><Redirect method="GET">/wait-leave-2</Redirect></Response>'
    )
    receiver.documents["/wait-leave-2"] = "<Response><Leave/><Say>never</Say></Response>"
    receiver.documents["/app/down"] = (
        f'<Response><Enqueue waitUrl="{down_url}" action="/after/down">sales</Enqueue></Response>'
    )
    for name in ("wait", "leave", "down"):
        receiver.documents[f"/after/{name}"] = "<Response><Hangup/></Response>"


async def start_server(tmp_path: Path, receiver: Receiver, http_port: int) -> Server:
    music = write_tone_wav(tmp_path / "music.wav", MUSIC_HZ)
    numbers = "".join(
        f"""
[[numbers]]
number = "{number}"
voice_url = "{receiver.url(f"/app/{name}")}"
api_key = "test"
"""
        for number, name in ((WAITING, "wait"), (LEAVING, "leave"), (DOWN, "down"))
    )
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP_PORTS,
        node="queue-wait-test",
        api_key=KEY,
        media=f'music_on_hold = "{music}"',
        more=f"""
{users("1001")}
{trunk("sip:127.0.10.2:5060", inbound=("127.0.10.0/24",))}
[[projects]]
id = 1
[[queues]]
id = "sales"
project = 1
strategy = "roundrobin"
members = ["1001"]
wrapup = 0
announce_position_every = 0
{numbers}""",
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    return server


async def member_phone(baresip: BaresipFactory) -> Baresip:
    return await registered_phone(
        baresip,
        "1001",
        registrar=f"127.0.0.1:{SIP_PORT}",
        password="secret1001",
        auto_answer=False,
        tone_hz=MEMBER_HZ,
    )


async def call_then_answer(
    baresip: BaresipFactory, member: Baresip, number: str, name: str
) -> Path | None:
    """The caller waits 2.5 s, the member answers, they talk 1.5 s: the caller's recording."""
    caller = await baresip(name, host="127.0.10.5", tone_hz=CALLER_HZ)
    await caller.dial(f"sip:{number}@127.0.0.1:{SIP_PORT}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)  # answered on joining
    await member.wait_event("CALL_INCOMING", timeout=10)
    await asyncio.sleep(2.5)  # the caller waits
    await member.answer()
    await member.wait_event("CALL_ESTABLISHED", timeout=10)
    await asyncio.sleep(1.5)  # and then talks to the member
    await caller.hangup()
    await member.wait_event("CALL_CLOSED", timeout=10)
    await caller.wait_event("CALL_CLOSED", timeout=10)
    await caller.stop()
    return caller.recorded_wav


async def test_the_caller_hears_the_wait_document_then_the_member_and_statistics_last(
    tmp_path: Path, baresip: BaresipFactory
) -> None:
    receiver = Receiver()
    application(receiver, tmp_path, down_url="http://127.0.0.1:9/wait")
    await receiver.start()
    http_port = free_tcp_port()
    server = await start_server(tmp_path, receiver, http_port)
    try:
        member = await member_phone(baresip)
        recording = await call_then_answer(baresip, member, WAITING, "caller")
        await receiver.wait_for(lambda: bool(receiver.on("/after/wait")), timeout=10)
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as client:
            before = (await client.get("/api/v2/queues/sales")).json()
            calls = (await client.get("/api/v2/calls", params={"to": WAITING})).json()["calls"]
            events = (await client.get(f"/api/v2/calls/{calls[0]['CallSid']}")).json()["events"]
        await server.stop()
        server = await start_server(tmp_path, receiver, http_port)  # the same database
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as client:
            after = (await client.get("/api/v2/queues/sales")).json()
    finally:
        await server.stop()
        await receiver.stop()
    heard_wait = tone_frames(recording, WAIT_HZ)
    heard_music = tone_frames(recording, MUSIC_HZ)
    heard_member = tone_frames(recording, MEMBER_HZ)
    print(f"caller heard: {heard_wait} wait, {heard_music} music, {heard_member} member frames")
    assert heard_wait > 50  # > 1 s of the wait document's <Play>
    assert heard_music < 10  # and not the queue's music
    assert heard_member > 25  # then the member
    assert first_frame(recording, WAIT_HZ) < first_frame(recording, MEMBER_HZ)
    asked = receiver.on("/wait")
    assert asked
    form = asked[0].form
    assert form["QueueSid"] == "sales"
    assert form["QueuePosition"] == "1"
    assert form["CurrentQueueSize"] == "1"
    assert {"QueueTime", "AvgQueueTime", "CallSid", "AccountSid", "From", "To"} <= set(form)
    assert form["To"] == WAITING
    assert all("x-callbridge-signature" in r.headers for r in asked)
    assert receiver.on("/after/wait")[0].form["QueueResult"] == "bridged"
    ignored = [e for e in events if e["name"] == "queue_wait_verb_ignored"]
    assert [e["data"] for e in ignored] == [{"verb": "Dial"}]  # once, however often fetched
    for stats in (before, after):
        assert stats["answered"] == 1
        assert stats["members"][0]["answered"] == 1
        assert stats["averageWait"] is not None
    assert after["averageWait"] == before["averageWait"]
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


async def test_leave_and_a_wait_url_that_is_down(tmp_path: Path, baresip: BaresipFactory) -> None:
    receiver = Receiver()
    application(receiver, tmp_path, down_url=f"http://127.0.0.1:{free_tcp_port()}/wait")
    await receiver.start()
    server = await start_server(tmp_path, receiver, free_tcp_port())
    try:
        member = await member_phone(baresip)
        # <Leave/>: out of the queue (the member stops ringing), on to the action.
        leaver = await baresip("leaver", host="127.0.10.6", tone_hz=CALLER_HZ)
        await leaver.dial(f"sip:{LEAVING}@127.0.0.1:{SIP_PORT}")
        await leaver.wait_event("CALL_ESTABLISHED", timeout=10)
        await member.wait_event("CALL_INCOMING", timeout=10)
        await leaver.wait_event("CALL_CLOSED", timeout=15)  # the action's <Hangup/>
        await member.wait_event("CALL_CLOSED", timeout=10)  # no longer rung
        await leaver.stop()
        # The wait URL is down: the queue's music, then the member.
        recording = await call_then_answer(baresip, member, DOWN, "caller")
        await receiver.wait_for(lambda: bool(receiver.on("/after/down")), timeout=10)
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as client:
            stats = (await client.get("/api/v2/queues/sales")).json()
            calls = (await client.get("/api/v2/calls", params={"to": DOWN})).json()["calls"]
            events = (await client.get(f"/api/v2/calls/{calls[0]['CallSid']}")).json()["events"]
    finally:
        await server.stop()
        await receiver.stop()
    left = receiver.on("/after/leave")
    assert [r.form["QueueResult"] for r in left] == ["leave"]
    assert [r.method for r in receiver.on("/wait-leave")] == ["GET"]
    assert [r.method for r in receiver.on("/wait-leave-2")] == ["GET"]
    assert receiver.on("/after/down")[0].form["QueueResult"] == "bridged"
    failed = [e for e in events if e["name"] == "queue_wait_failed"]
    assert len(failed) == 1
    assert "cannot fetch" in failed[0]["data"]["error"]
    heard_music = tone_frames(recording, MUSIC_HZ)
    heard_member = tone_frames(recording, MEMBER_HZ)
    print(f"caller heard: {heard_music} music frames, {heard_member} member frames")
    assert heard_music > 50
    assert heard_member > 25
    assert first_frame(recording, MUSIC_HZ) < first_frame(recording, MEMBER_HZ)
    assert (stats["answered"], stats["left"], stats["abandoned"]) == (1, 1, 0)
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
