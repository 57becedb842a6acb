"""The peer harness proven against the peers themselves (no Callbridge): SIPp scenarios
against each other, baresip against baresip, baresip against SIPp."""

from __future__ import annotations

import asyncio

import pytest

from audio_analysis import tone_frames

from .baresip import Baresip
from .conftest import BaresipFactory, SippUacFactory, SippUasFactory
from .sipp import SippResult, UasMode

pytestmark = pytest.mark.peers

CREDENTIALS = ("alice", "s3cret")
MEDIA_SECONDS = 1.5  # audio has no "enough received" event: let it flow this long


def assert_one_call(result: SippResult, *, ok: bool = True) -> None:
    expected = (1, 0) if ok else (0, 1)
    assert (result.successful, result.failed) == expected, result.errors or result.stats


@pytest.mark.parametrize(
    ("mode", "scenario", "options"),
    [
        (UasMode.ANSWER, "uac", {"pause_ms": 100}),
        (UasMode.ANSWER_THEN_BYE, "uac_expect_bye", {}),
        (UasMode.BUSY, "uac_busy", {}),
        (UasMode.DECLINE, "uac_decline", {}),
        (UasMode.RING_FOREVER, "uac_cancel", {"pause_ms": 200}),
        (UasMode.AUTH_401, "uac_auth", {"auth": CREDENTIALS, "pause_ms": 100}),
        (UasMode.AUTH_407, "uac_auth", {"auth": CREDENTIALS, "pause_ms": 100}),
    ],
)
async def test_sipp_uac_against_uas_scenario(
    sipp_uas: SippUasFactory,
    sipp_uac: SippUacFactory,
    mode: UasMode,
    scenario: str,
    options: dict[str, object],
) -> None:
    uas = await sipp_uas(mode, calls=1, bye_after_ms=200, credentials=CREDENTIALS)
    uac = await sipp_uac(uas.address, scenario, **options).run(timeout=20)
    assert uac.returncode == 0, uac.errors
    assert_one_call(uac)
    assert_one_call(await uas.wait(timeout=10))


async def test_sipp_auth_401_rejects_a_wrong_password(
    sipp_uas: SippUasFactory, sipp_uac: SippUacFactory
) -> None:
    uas = await sipp_uas(UasMode.AUTH_401, calls=1, credentials=CREDENTIALS)
    uac = await sipp_uac(uas.address, "uac_auth", auth=("alice", "wrong")).run(timeout=20)
    assert_one_call(uac, ok=False)
    assert_one_call(await uas.wait(timeout=10), ok=False)


async def test_sipp_uas_in_background_counts_calls_until_stopped(
    sipp_uas: SippUasFactory, sipp_uac: SippUacFactory
) -> None:
    uas = await sipp_uas(UasMode.ANSWER)
    uac = await sipp_uac(uas.address, calls=3, rate=20, pause_ms=50).run(timeout=20)
    assert (uac.successful, uac.failed) == (3, 0), uac.errors
    result = await uas.stop()
    assert (result.successful, result.failed) == (3, 0), result.errors


async def call(a: Baresip, b: Baresip) -> None:
    """a dials b; b answers by command unless it auto-answers; both established."""
    await a.dial(b.uri)
    if not b.auto_answer:
        await b.wait_event("CALL_INCOMING")
        await b.answer()
    await asyncio.gather(a.wait_event("CALL_ESTABLISHED"), b.wait_event("CALL_ESTABLISHED"))


async def test_baresip_call_carries_tone_and_dtmf(baresip: BaresipFactory) -> None:
    a, b = await asyncio.gather(baresip("a", tone_hz=440.0), baresip("b", tone_hz=700.0))
    await call(a, b)
    await asyncio.sleep(MEDIA_SECONDS)
    await a.send_dtmf("19#")
    for _ in range(3):
        await b.wait_event("CALL_DTMF_END")
    await a.hangup()
    await asyncio.gather(a.wait_event("CALL_CLOSED"), b.wait_event("CALL_CLOSED"))
    assert b.received_dtmf == "19#"
    assert tone_frames(b.recorded_wav, 440.0) > 25, "b did not hear a"
    assert tone_frames(a.recorded_wav, 700.0) > 25, "a did not hear b"


async def test_baresip_auto_answer_and_callee_hangup(baresip: BaresipFactory) -> None:
    a, b = await asyncio.gather(baresip("a"), baresip("b", auto_answer=True))
    await call(a, b)
    await b.hangup()
    closed = await a.wait_event("CALL_CLOSED")
    assert closed["direction"] == "outgoing"
    assert not [e for e in b.events if e["type"] == "CALL_INCOMING"]


async def test_baresip_rejects_with_486(baresip: BaresipFactory) -> None:
    a, b = await asyncio.gather(baresip("a"), baresip("b"))
    await a.dial(b.uri)
    await b.wait_event("CALL_INCOMING")
    await b.hangup()
    closed = await a.wait_event("CALL_CLOSED")
    assert "486" in closed.get("param", ""), closed


async def test_baresip_call_to_sipp_echo(baresip: BaresipFactory, sipp_uas: SippUasFactory) -> None:
    uas = await sipp_uas(UasMode.ANSWER, calls=1, rtp_echo=True)
    a = await baresip("a", tone_hz=440.0)
    await a.dial(f"sip:echo@{uas.address}")
    await a.wait_event("CALL_ESTABLISHED")
    await asyncio.sleep(MEDIA_SECONDS)
    await a.hangup()
    await a.wait_event("CALL_CLOSED")
    assert_one_call(await uas.wait(timeout=10))
    assert tone_frames(a.recorded_wav, 440.0) > 25, "no echo from SIPp"


@pytest.mark.parametrize(
    ("password", "event"), [("s3cret", "REGISTER_OK"), ("bad", "REGISTER_FAIL")]
)
async def test_baresip_registers_with_sipp_registrar(
    baresip: BaresipFactory, sipp_uas: SippUasFactory, password: str, event: str
) -> None:
    registrar = await sipp_uas(UasMode.REGISTRAR, calls=1, credentials=CREDENTIALS)
    peer = await baresip("alice", registrar=registrar.address, password=password)
    await peer.wait_event(event)
    assert_one_call(await registrar.wait(timeout=10), ok=event == "REGISTER_OK")
