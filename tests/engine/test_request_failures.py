"""Issue 15 (2, 3): every request that breaks while it is handled ends in a final response
(400 for what cannot be parsed, 500 otherwise) and gives back what it took (its server
transaction, its RTP port); ``/health`` says when the engine refuses everything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosipua import SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge
from engine_setup import ENGINE_HOST, ENGINE_PORT, FAST_TIMERS, USERS

from callbridge.api.app import create_http_app
from callbridge.engine import inbound_leg as inbound_leg_module
from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.message import parse_message
from raw_sip_peer import RawPeer, invite, register

CALLER = "127.0.31.1"


def plane_of(engine: Engine) -> InProcessMediaPlane:
    assert isinstance(engine.media, InProcessMediaPlane)
    return engine.media


async def drained(engine: Engine) -> None:
    """Every server transaction gone (bounded: Timer H/J is 64*T1 = 6.4 s here)."""
    for _ in range(200):
        if engine.server_transactions == 0 and not engine.legs:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{engine.server_transactions} transactions, {len(engine.legs)} legs")


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info]


async def test_invite_with_an_unclosed_contact_is_answered_400_and_takes_nothing(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Seen: 100 Trying, a traceback in the dialog's _uri_of, no final response, the
    transaction left proceeding and the RTP socket leased for ever."""
    async with RawPeer(CALLER, 5099) as peer:
        for n in range(20):
            await peer.send(invite(n, host=CALLER, port=5099, contact=f"<sip:x@{CALLER}:5099"))
        finals = await peer.wait_for({f"inv-{n}" for n in range(20)}, timeout=5)
    assert set(finals.values()) == {400}
    assert engine.pending_requests == 0
    assert plane_of(engine).pool.leased == 0
    assert tracebacks(caplog) == []
    await drained(engine)


async def test_a_failing_invite_handler_answers_500_and_returns_the_rtp_port(
    engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("a bug in the dialog")

    monkeypatch.setattr(inbound_leg_module, "InboundCall", broken)
    async with RawPeer(CALLER, 5099) as peer:
        for n in range(5):
            await peer.send(invite(n, host=CALLER, port=5099))
        finals = await peer.wait_for({f"inv-{n}" for n in range(5)}, timeout=5)
        assert peer.statuses("inv-0")[:2] == [100, 500]
    assert set(finals.values()) == {500}
    assert engine.pending_requests == 0
    assert plane_of(engine).pool.leased == 0
    assert engine.legs == {}
    # the bug's traceback once, then one line per request
    assert len(tracebacks(caplog)) == 1
    assert len([r for r in caplog.records if "a bug in the dialog" in r.getMessage()]) == 4
    await drained(engine)


async def test_a_failing_register_handler_answers_500(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise OverflowError("(34, 'Numerical result out of range')")

    monkeypatch.setattr(engine.registrar, "handle", broken)
    async with RawPeer(CALLER, 5099) as peer:
        await peer.send(register(1, host=CALLER, port=5099))
        assert await peer.wait_for({"reg-1"}, timeout=5) == {"reg-1": 500}
    assert engine.pending_requests == 0


async def test_thousands_of_wrong_registers_from_one_address_leave_sip_working(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The exact case of issue 15 (3): after 1027 failures from one address the back-off
    overflowed; every later REGISTER from there crashed and was never answered, until the
    table was full and everyone got 503.  Now each is answered and the phone registers."""
    count = 1100
    bogus = (
        f'Digest username="1001", realm="callbridge", nonce="x.y.z", uri="sip:{ENGINE_HOST}", '
        'response="00000000000000000000000000000000"'
    )
    async with RawPeer(CALLER, 5099) as peer:
        for n in range(count):
            await peer.send(register(n, host=CALLER, port=5099, authorization=bogus))
            if n % 50 == 49:
                await asyncio.sleep(0.01)
        finals = await peer.wait_for({f"reg-{n}" for n in range(count)}, timeout=30)
        assert len(finals) == count
        assert set(finals.values()) == {401}
        assert engine.pending_requests == 0
        # the real phone, at the same address
        await peer.send(register(count, host=CALLER, port=5099))
        await peer.wait_for({f"reg-{count}"}, timeout=10)
        challenge = next(r for r in peer.replies if b"reg-%d" % count in r)
        parsed = parse_message(challenge)
        assert isinstance(parsed, SipResponse)
        header = answer_challenge(
            SipDigestAuth("1001", dict(USERS)["1001"]), parsed, 401, "REGISTER", "sip:x"
        )
        assert header is not None
        _, value = header
        await peer.send(register(count + 1, host=CALLER, port=5099, authorization=value))
        finals = await peer.wait_for({f"reg-{count + 1}"}, timeout=10)
    assert finals[f"reg-{count + 1}"] == 200
    assert [b.contact for b in engine.registrar.lookup("1001")] == [f"sip:1001@{CALLER}:5099"]
    assert tracebacks(caplog) == []


def own_engine(tmp_path: Path, **settings: Any) -> Engine:
    return Engine(
        settings=EngineSettings(host=ENGINE_HOST, port=ENGINE_PORT, users=USERS, **settings),
        media=InProcessMediaPlane(host=ENGINE_HOST, port_start=42000, port_end=42199),
        tts=Tts(cache_dir=tmp_path),
    )


@pytest.fixture
async def small_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine whose table holds three unanswered requests."""
    instance = own_engine(tmp_path, timers=FAST_TIMERS, max_server_transactions=3)
    await instance.start()
    yield instance
    await instance.close()


class RingsForever:
    async def handle(self, call: IncomingCall) -> None:
        await call.leg.ring()
        await asyncio.Event().wait()


async def test_health_is_503_with_a_reason_while_the_engine_refuses_everything(
    small_engine: Engine,
) -> None:
    """Seen: every request got 503 while /health said ok."""
    small_engine.set_incoming_handler(RingsForever())
    # /health needs no call service nor keys
    app = create_http_app(engine=small_engine, calls=None, api_keys=None)  # type: ignore[arg-type]
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
        RawPeer(CALLER, 5099) as peer,
    ):
        assert (await client.get("/health")).json() == {"status": "ok", "legs": 0}
        for n in range(4):
            await peer.send(invite(n, host=CALLER, port=5099))
        assert await peer.wait_for({"inv-3"}, timeout=5) == {"inv-3": 503}
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "refusing"
        assert "transaction table full (3 of 3" in health.json()["reason"]
        for leg in list(small_engine.legs.values()):
            await leg.hangup()
        await peer.wait_for({f"inv-{n}" for n in range(3)}, timeout=5)
        assert (await client.get("/health")).status_code == 200
    await small_engine.close()
    assert small_engine.refusal() == "SIP is not serving"


async def test_an_offer_with_a_port_above_65535_is_refused_488(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15 (10): it was accepted, and each RTP packet of the call then raised."""
    async with RawPeer(CALLER, 5099) as peer:
        await peer.send(invite(1, host=CALLER, port=5099, rtp_port=70000))
        assert await peer.wait_for({"inv-1"}, timeout=5) == {"inv-1": 488}
    assert plane_of(engine).pool.leased == 0
    assert engine.legs == {}
    assert tracebacks(caplog) == []


class RingsThenAnswers:
    async def handle(self, call: IncomingCall) -> None:
        await call.leg.ring()
        await asyncio.sleep(1.5)  # five times Timer C
        await call.leg.answer()


async def test_a_long_ring_refreshes_its_180_and_outlives_timer_c(tmp_path: Path) -> None:
    """§13.3.1.1: the 180 is resent (every minute, a third of Timer C here) so that Timer C,
    which now ends an unanswered INVITE transaction, never cuts a call that rings."""
    engine = own_engine(tmp_path, timers=replace(FAST_TIMERS, c=0.3))
    engine.set_incoming_handler(RingsThenAnswers())
    await engine.start()
    try:
        async with RawPeer(CALLER, 5099) as peer:
            await peer.send(invite(1, host=CALLER, port=5099))
            assert await peer.wait_for({"inv-1"}, timeout=5) == {"inv-1": 200}
            statuses = peer.statuses("inv-1")
        assert statuses[0] == 100
        assert statuses.count(180) >= 5
        assert 408 not in statuses
        for leg in list(engine.legs.values()):
            await leg.hangup()
    finally:
        await engine.close()
