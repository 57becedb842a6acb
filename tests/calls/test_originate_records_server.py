"""seed-002's type=user and type=queue originations are calls of the calls table, on the
real server (``callbridge serve``): the agent leg (a baresip phone, or the queue's member)
and, as its child, the customer leg (SIPp behind the default trunk, echoing what it hears),
each with the request's ``external_id``, its status changes, events, outcome and status
callbacks (through the outbox, to the originate user's ``status_callback``), listed by
``GET /api/v2/calls?external_id=`` for the originate user's API key, and hung up through
the call API; ``GET /api/originate-call?external_id=`` reads them back, after a restart
too; the agent's phones ring for the user's ``agent_ring_timeout``; an origination is a
call of the key's ``max_concurrent``."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from callback_support import classify, tone_start
from originate_support import (
    CUSTOMER,
    SHOWN_NUMBER,
    auth,
    carrier_invites,
    no_legs,
    php_example,
    signed,
    state_of,
)

from peers.baresip import Baresip
from peers.conftest import BaresipFactory, SippUasFactory
from peers.net import free_tcp_port
from peers.phones import registered_phone
from peers.sipp import SippRun, UasMode
from server_config import project, trunk, users
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is not installed"),
]

SIP_PORT = 5600
RTP = (52000, 52199)
KEY = "origrows-e2e-key-0123456789abcdef"
CRM_KEY = "origrows-crm-key-0123456789abcdef"  # the originate user's: one call at a time
AGENT_TONE = 700.0
EVERY_EVENT = "initiated ringing answered completed"


def pbx(carrier: str, status_url: str) -> str:
    return f"""
{trunk(f"sip:{carrier}", name="default-trunk")}
[[api_keys]]
key = "{CRM_KEY}"
name = "crm"
max_concurrent = 1
{project(1, "Sales")}
[[originate_users]]
username = "your_api_usr"
password = "your_api_pass"
key = "your_api_key"
project = 1
api_key = "crm"
status_callback = "{status_url}"
status_callback_event = "{EVERY_EVENT}"
agent_ring_timeout = 3
customer_ring_timeout = 20
{users("1001", "1002", project=1)}
[[queues]]
id = "test-queue"
project = 1
members = ["1002"]
member_timeout = 10
announce_position_every = 0
"""


@pytest.fixture
async def carrier(sipp_uas: SippUasFactory) -> SippRun:
    return await sipp_uas(UasMode.ANSWER)  # and echoes the RTP it receives


@pytest.fixture
async def crm() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def port() -> int:
    return free_tcp_port()


@pytest.fixture
def config(tmp_path: Path, port: int, carrier: SippRun, crm: Receiver) -> Path:
    return write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=port,
        rtp_ports=RTP,
        node="origrows-e2e",
        api_key=KEY,
        more=pbx(carrier.address, crm.url("/status")),
    )


@pytest.fixture
async def server(config: Path, port: int, tmp_path: Path) -> AsyncIterator[Server]:
    running = Server(config, port, tmp_path / "server.log")
    await running.start()
    yield running
    await running.stop()


async def agent_phone(baresip: BaresipFactory, extension: str) -> Baresip:
    return await registered_phone(
        baresip,
        extension,
        registrar=f"127.0.0.1:{SIP_PORT}",
        password=f"secret{extension}",
        tone_hz=AGENT_TONE,
    )


async def stored_calls(api: httpx.AsyncClient, external_id: str) -> list[dict[str, Any]]:
    listed = await api.get("/api/v2/calls", params={"external_id": external_id})
    assert listed.status_code == 200, listed.text
    calls: list[dict[str, Any]] = listed.json()["calls"]
    return calls


async def events_of(api: httpx.AsyncClient, sid: str) -> list[dict[str, Any]]:
    detail = await api.get(f"/api/v2/calls/{sid}")
    assert detail.status_code == 200, detail.text
    events: list[dict[str, Any]] = detail.json()["events"]
    return events


def callbacks(crm: Receiver, sid: str) -> list[dict[str, str]]:
    return [hook.form for hook in crm.on("/status") if hook.form.get("CallSid") == sid]


async def test_a_user_origination_is_the_agent_call_and_its_child_the_customer_s(
    server: Server, carrier: SippRun, crm: Receiver, baresip: BaresipFactory
) -> None:
    agent = await agent_phone(baresip, "1001")
    reply = await php_example(server, TYPE="user", DESTINATION="1001", EXTERNAL_ID="rows-1")
    assert reply["results"] == ["Call successfully originated for user: 1001"], reply
    await agent.wait_event("CALL_INCOMING", timeout=10)
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": CRM_KEY}) as api:
        [ringing] = await stored_calls(api, "rows-1")  # stored before the agent answers
        assert (ringing["to"], ringing["from"], ringing["direction"]) == (
            "1001",
            CUSTOMER,
            "outbound",
        )
        await agent.answer()
        bridged = await state_of(api, "rows-1", "in_progress")
        assert bridged["status"] == "in_progress", bridged
        await asyncio.sleep(2.0)  # the agent talks to the (echoing) customer
        await agent.hangup()
        done = await state_of(api, "rows-1", "completed")
        assert done["status"] == "completed", done
        assert await no_legs(api)
        customer, first = await stored_calls(api, "rows-1")  # newest first
        assert first["CallSid"] == done["call_sid"]
        assert customer["CallSid"] == done["customer_call_sid"]
        assert first["ParentCallSid"] is None
        assert customer["ParentCallSid"] == first["CallSid"]
        assert (customer["to"], customer["from"]) == (CUSTOMER, SHOWN_NUMBER)
        for call in (first, customer):
            assert call["externalId"] == "rows-1"
            assert call["status"] == "completed", call
            assert call["answeredAt"] is not None
            assert call["endedAt"] is not None
        assert first["hangupBy"] == "remote"  # the agent hung up
        agent_events = await events_of(api, first["CallSid"])
        names = [e["name"] for e in agent_events]
        assert names == ["initiated", "originate", "ringing", "answered", "completed"], names
        assert agent_events[1]["data"] == {
            "type": "user",
            "destination": "1001",
            "project_id": 1,
            "caller_id": CUSTOMER,
        }
        assert agent_events[-1]["data"]["outcome"] == "completed"
        customer_events = [e["name"] for e in await events_of(api, customer["CallSid"])]
        assert customer_events[0] == "initiated", customer_events
        assert customer_events[-2:] == ["answered", "completed"], customer_events
        # Each leg's status callbacks, through the outbox, in order.
        await crm.wait_for(lambda: len(callbacks(crm, customer["CallSid"])) >= 4, timeout=15)
        await crm.wait_for(lambda: len(callbacks(crm, first["CallSid"])) >= 4, timeout=15)
        for call in (first, customer):
            sent = callbacks(crm, call["CallSid"])
            statuses = [hook["CallStatus"] for hook in sent]
            assert statuses == EVERY_EVENT.split(), statuses
            assert {hook["ExternalId"] for hook in sent} == {"rows-1"}
            assert sent[-1]["CallOutcome"] == "completed"
        assert {h["ParentCallSid"] for h in callbacks(crm, customer["CallSid"])} == {
            first["CallSid"]
        }
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as other:
        assert await stored_calls(other, "rows-1") == []  # the originate user's key's calls
    [invite] = carrier_invites(carrier)
    assert f"INVITE sip:{CUSTOMER}@" in invite
    heard = classify(agent.recorded_wav, {"echo": (AGENT_TONE,)})
    assert heard[tone_start(heard, "echo") :].count("echo") > 50, "no audio through the bridge"


async def test_an_agent_who_lets_it_ring_rings_for_the_user_s_timeout(
    server: Server, carrier: SippRun, crm: Receiver, baresip: BaresipFactory
) -> None:
    agent = await agent_phone(baresip, "1001")
    reply = await php_example(server, TYPE="user", DESTINATION="1001", EXTERNAL_ID="rows-2")
    assert reply["has_error"] is False, reply
    await agent.wait_event("CALL_INCOMING", timeout=10)
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": CRM_KEY}) as api:
        # agent_ring_timeout = 3 (the default, 30, would outlast state_of's 10 s)
        missed = await state_of(api, "rows-2", "agent_not_answered")
        assert missed["status"] == "agent_not_answered", missed
        assert missed["detail"] == "User 1001 did not answer in time"
        assert "customer_call_sid" not in missed
        [call] = await stored_calls(api, "rows-2")
        assert (call["status"], call["answeredAt"]) == ("no-answer", None)
        await crm.wait_for(lambda: len(callbacks(crm, call["CallSid"])) >= 3, timeout=15)
        sent = callbacks(crm, call["CallSid"])
        assert [hook["CallStatus"] for hook in sent] == ["initiated", "ringing", "completed"]
        assert sent[-1]["CallOutcome"] == "no-answer"
    assert carrier_invites(carrier) == []  # the customer was never dialled


async def test_a_queue_origination_records_the_member_who_answered(
    server: Server, carrier: SippRun, baresip: BaresipFactory
) -> None:
    member = await agent_phone(baresip, "1002")
    reply = await php_example(server, TYPE="queue", DESTINATION="test-queue", EXTERNAL_ID="rows-3")
    assert reply["results"] == ["Call successfully originated for queue: test-queue"], reply
    await member.wait_event("CALL_INCOMING", timeout=10)
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": CRM_KEY}) as api:
        ringing = await state_of(api, "rows-3", "agent_ringing")
        assert ringing["status"] == "agent_ringing", ringing
        await member.answer()
        assert (await state_of(api, "rows-3", "in_progress"))["status"] == "in_progress"
        await member.hangup()
        done = await state_of(api, "rows-3", "completed")
        assert done["status"] == "completed", done
        assert (done["type"], done["destination"]) == ("queue", "test-queue")
        customer, first = await stored_calls(api, "rows-3")
        assert (first["to"], first["status"]) == ("test-queue", "completed")
        assert customer["ParentCallSid"] == first["CallSid"]
        names = [e["name"] for e in await events_of(api, first["CallSid"])]
        assert names[:3] == ["initiated", "originate", "member"], names
        assert names[-2:] == ["answered", "completed"], names
        [joined] = [e for e in await events_of(api, first["CallSid"]) if e["name"] == "member"]
        assert joined["data"] == {"extension": "1002"}
        assert await no_legs(api)


async def test_the_state_is_read_from_the_store_after_a_restart(
    config: Path, port: int, tmp_path: Path, baresip: BaresipFactory
) -> None:
    first = Server(config, port, tmp_path / "server.log")
    await first.start()
    try:
        agent = await agent_phone(baresip, "1001")
        reply = await php_example(first, TYPE="user", DESTINATION="1001", EXTERNAL_ID="rows-4")
        assert reply["has_error"] is False, reply
        await agent.wait_event("CALL_INCOMING", timeout=10)
        await agent.answer()
        async with httpx.AsyncClient(base_url=first.url) as api:
            before = await state_of(api, "rows-4", "in_progress")
            assert before["status"] == "in_progress", before
            await agent.hangup()
            before = await state_of(api, "rows-4", "completed")
            assert before["status"] == "completed", before
    finally:
        await first.stop()
    again = Server(config, port, tmp_path / "server-again.log")
    await again.start()
    try:
        async with httpx.AsyncClient(base_url=again.url) as api:
            after = await signed(api, {**auth(), "external_id": "rows-4"})
            assert after["results"] == [before], after
            wrong = await signed(
                api, {"api_username": "your_api_usr", "api_password": "x", "external_id": "rows-4"}
            )
            assert wrong["has_error"] is True, wrong
            assert wrong["results"] == [], wrong
    finally:
        await again.stop()


async def test_the_call_api_hangs_it_up_and_the_key_s_limit_counts_it(
    server: Server, baresip: BaresipFactory
) -> None:
    agent = await agent_phone(baresip, "1001")
    reply = await php_example(server, TYPE="user", DESTINATION="1001", EXTERNAL_ID="rows-5")
    assert reply["has_error"] is False, reply
    await agent.wait_event("CALL_INCOMING", timeout=10)
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": CRM_KEY}) as api:
        over = await php_example(
            server, TYPE="queue", DESTINATION="test-queue", EXTERNAL_ID="rows-6"
        )
        assert over == {
            "has_error": True,
            "messages": ["Cannot call now: at most 1 concurrent calls"],
            "results": [],
        }
        assert await stored_calls(api, "rows-6") == []
        await agent.answer()
        bridged = await state_of(api, "rows-5", "in_progress")
        assert bridged["status"] == "in_progress", bridged
        hung_up = await api.post(
            f"/api/v2/calls/{bridged['customer_call_sid']}", data={"Status": "completed"}
        )
        assert hung_up.status_code == 200, hung_up.text
        done = await state_of(api, "rows-5", "completed")
        assert done["status"] == "completed", done
        for call in await stored_calls(api, "rows-5"):
            assert (call["status"], call["hangupBy"]) == ("completed", "local"), call
        assert await no_legs(api)
        again = await php_example(
            server, TYPE="queue", DESTINATION="test-queue", EXTERNAL_ID="rows-7"
        )
        assert again["has_error"] is False, again  # the permit was given back


async def test_a_crash_during_the_call_is_closed_in_the_store_and_read_back(
    config: Path, port: int, tmp_path: Path, baresip: BaresipFactory
) -> None:
    crashed = Server(config, port, tmp_path / "server.log")
    await crashed.start()
    agent = await agent_phone(baresip, "1001")
    reply = await php_example(crashed, TYPE="user", DESTINATION="1001", EXTERNAL_ID="rows-8")
    assert reply["has_error"] is False, reply
    await agent.wait_event("CALL_INCOMING", timeout=10)
    await agent.answer()
    async with httpx.AsyncClient(base_url=crashed.url) as api:
        live = await state_of(api, "rows-8", "in_progress")
        assert live["status"] == "in_progress", live
    await crashed.kill()
    again = Server(config, port, tmp_path / "server-again.log")
    await again.start()
    try:
        async with httpx.AsyncClient(base_url=again.url, headers={"apikey": CRM_KEY}) as api:
            after = await signed(api, {**auth(), "external_id": "rows-8"})
            [state] = after["results"]
            assert state["status"] == "completed", state  # closed by the new start
            assert (state["call_sid"], state["customer_call_sid"]) == (
                live["call_sid"],
                live["customer_call_sid"],
            )
            for call in await stored_calls(api, "rows-8"):
                assert call["hangupCause"] == "server restarted during the call", call
            # Each leg's dialog the crash left up gets its BYE from the new run.
            await agent.wait_event("CALL_CLOSED", timeout=15)
            for sid in (state["call_sid"], state["customer_call_sid"]):
                detail: dict[str, Any] = {}
                for _ in range(100):
                    detail = (await api.get(f"/api/v2/calls/{sid}")).json()
                    if any(e["name"] == "dialog_ended" for e in detail["events"]):
                        break
                    await asyncio.sleep(0.05)
                [ended] = [e for e in detail["events"] if e["name"] == "dialog_ended"]
                assert ended["data"]["after"] == "restart", ended
    finally:
        await again.stop()


async def test_a_queue_origination_hung_up_while_its_member_rings_cancels_the_ringing(
    server: Server, carrier: SippRun, baresip: BaresipFactory
) -> None:
    """The call API hangs up a type=queue origination whose member (1002, manual answer,
    ``member_timeout`` 10 s) still rings: the member's phone gets its CANCEL then, not
    after its ring time, and the agent call is ``canceled`` with the hang-up as its cause
    (a ring time run out would be ``no-answer``)."""
    member = await agent_phone(baresip, "1002")
    reply = await php_example(server, TYPE="queue", DESTINATION="test-queue", EXTERNAL_ID="rows-9")
    assert reply["has_error"] is False, reply
    await member.wait_event("CALL_INCOMING", timeout=10)
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": CRM_KEY}) as api:
        [ringing] = await stored_calls(api, "rows-9")
        hung_up = await api.post(
            f"/api/v2/calls/{ringing['CallSid']}", data={"Status": "completed"}
        )
        assert hung_up.status_code == 200, hung_up.text
        await member.wait_event("CALL_CLOSED", timeout=5)  # its ring time is 10 s
        call: dict[str, Any] = {}
        for _ in range(100):
            [call] = await stored_calls(api, "rows-9")
            if call["endedAt"] is not None:
                break
            await asyncio.sleep(0.05)
        assert call["status"] == "canceled", call
        assert call["hangupCause"] == "hung up through the API before the customer was dialled"
        assert call["answeredAt"] is None
        assert await no_legs(api)
        again = await php_example(
            server, TYPE="queue", DESTINATION="test-queue", EXTERNAL_ID="rows-10"
        )
        assert again["has_error"] is False, again  # the permit was given back
        await member.wait_event("CALL_INCOMING", timeout=10)  # 1002 is free again
    assert not [e for e in member.events if e["type"] == "CALL_ESTABLISHED"]
    assert carrier_invites(carrier) == []  # the customer was never dialled
