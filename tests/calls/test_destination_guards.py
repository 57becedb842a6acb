"""The destination policy holds inside the documents an API key's calls run: a <Dial> to a
premium number or a SIP URI the key may not call, or with a caller ID it may not show,
rings nobody (DialCallStatus failed) and the call's events say what was refused by which
rule; the service itself refuses such a call before storing anything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import MappingProxyType

import pytest
from call_world import CallWorld, Unlimited

from callbridge.calls.audio import HttpAudioLoader
from callbridge.calls.audio_cache import AudioCache
from callbridge.calls.destination_policy import (
    DestinationPolicy,
    DestinationRefused,
    KeyRules,
    TrunkAddress,
)
from callbridge.calls.request import OutboundCallRequest
from callbridge.calls.service import CallbridgeCalls, CallServiceSettings
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.httpclient.client import HttpClient
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.records import CallFilters
from callbridge.store.repository import ApiKeyRepository
from peers.conftest import SippUasFactory
from peers.sipp import SippRun, UasMode
from webhook_receiver import LOOPBACK_ALLOWED

pytestmark = pytest.mark.peers

CALLER_ID = "15550001"
NODE = "guards-node"


@pytest.fixture
async def carrier(sipp_uas: SippUasFactory) -> SippRun:
    return await sipp_uas(UasMode.ANSWER)


@pytest.fixture
async def guarded(
    world: CallWorld, database: Database, carrier: SippRun, tmp_path: Path
) -> AsyncIterator[tuple[CallbridgeCalls, str]]:
    """A call service whose key ``restricted`` may call numbers through the carrier (SIPp)
    only, showing only its own number."""
    key = await ApiKeyRepository(database=database, clock=SystemClock()).create(name="restricted")
    policy = DestinationPolicy(
        keys=MappingProxyType({key.record.id: KeyRules(caller_ids=(CALLER_ID,))}),
        trunks=(TrunkAddress(name="carrier", host=carrier.host, port=carrier.port, default=True),),
    )
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        calls = CallbridgeCalls(
            engine=world.engine,
            repository=world.repository,
            clock=SystemClock(),
            http=client,
            audio=HttpAudioLoader(
                client=client,
                cache=AudioCache(directory=tmp_path / "audio", ttl=300.0, max_bytes=1 << 24),
            ),
            limiter=Unlimited(),
            settings=CallServiceSettings(
                node=NODE,
                public_url="http://127.0.0.1:8080",
                recordings_dir=tmp_path / "recordings",
                translate=parse_voice_xml,
            ),
            policy=policy,
        )
        try:
            yield calls, key.record.id
        finally:
            await calls.close()


async def refusals(calls: CallbridgeCalls, sid: str, *, count: int) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for _ in range(200):
        detail = await calls.get_call(sid, api_key_id=None)
        found = [dict(e.data) for e in detail.events if e.name == "dial_refused"]
        if len(found) >= count and detail.call.status == "completed":
            break
        await asyncio.sleep(0.05)
    return found


async def test_a_dial_in_the_keys_document_is_refused_by_its_rules(
    world: CallWorld, guarded: tuple[CallbridgeCalls, str], carrier: SippRun
) -> None:
    calls, key_id = guarded
    world.receiver.documents["/app"] = (
        '<Response><Dial action="/dialled">'
        "<Number>+19005550000</Number><Sip>sip:someone@127.0.10.254</Sip>"
        "</Dial></Response>"
    )
    world.receiver.documents["/dialled"] = (
        '<Response><Dial callerId="+15559999" action="/second"><Number>+15551234</Number>'
        "</Dial></Response>"
    )
    world.receiver.documents["/second"] = "<Response><Hangup/></Response>"
    call = await calls.place_call(
        OutboundCallRequest(
            api_key_id=key_id,
            to=f"sip:+15550123@{carrier.address}",  # a number through the carrier: allowed
            from_=CALLER_ID,
            url=world.receiver.url("/app"),
        )
    )
    refused = await refusals(calls, call.sid, count=3)
    assert [(r["to"], r["rule"]) for r in refused] == [
        ("+19005550000", "denied_prefixes"),
        ("sip:someone@127.0.10.254", "allow_sip_uris"),
        ("+15559999", "caller_ids"),
    ]
    assert [r.form["DialCallStatus"] for r in world.receiver.on("/dialled")] == ["failed"]
    assert [r.form["DialCallStatus"] for r in world.receiver.on("/second")] == ["failed"]
    children = await calls.list_calls(
        CallFilters(api_key_id=key_id, parent_sid=call.sid), cursor=None, limit=10
    )
    assert children.calls == ()  # nobody was rung


@pytest.mark.parametrize(
    ("to", "from_", "url", "rule"),
    [
        ("sip:anyone@127.0.10.254", CALLER_ID, "/app", "allow_sip_uris"),
        ("+19005550000", CALLER_ID, "/app", "denied_prefixes"),
        ("+15551234", "+15559999", "/app", "caller_ids"),
        ("+15551234", "sip:anyone@127.0.10.254", None, "allow_sip_uris"),  # click to call
    ],
)
async def test_the_service_refuses_before_storing_anything(
    world: CallWorld,
    guarded: tuple[CallbridgeCalls, str],
    to: str,
    from_: str,
    url: str | None,
    rule: str,
) -> None:
    calls, key_id = guarded
    request = OutboundCallRequest(
        api_key_id=key_id,
        to=to,
        from_=from_,
        url=None if url is None else world.receiver.url(url),
    )
    with pytest.raises(DestinationRefused) as refused:
        await calls.place_call(request)
    assert refused.value.rule == rule
    listed = await calls.list_calls(CallFilters(api_key_id=key_id), cursor=None, limit=10)
    assert listed.calls == ()
