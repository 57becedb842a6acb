"""The engine against SIPp, a SIP stack nobody here wrote (loopback only).

Outbound: answered (audio echoed back), busy, declined, no answer (CANCEL), the caller
giving up while it rings, the 200-after-CANCEL race, unreachable, 401 and 407 challenges,
the callee hanging up, TCP.  Inbound: SIPp's stock ``uac`` scenario.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from aiosipua.headers import parse_address
from engine_setup import ENGINE_HOST, ENGINE_PORT, TRUNK_HOST, TRUNK_PORT

from audio_analysis import goertzel_power, read_wav_mono, rms
from callbridge.engine.engine import Engine, IncomingCall
from callbridge.engine.events import Answered, EndReason, LegEndedError, Party, Ringing, Trying
from callbridge.engine.indialog import DialogSession
from callbridge.engine.routing import Trunk
from callbridge.engine.uas import InboundCall
from callbridge.media.inprocess import InProcessEndpoint
from callbridge.media.plane import MediaDialog
from callbridge.media.sources import ToneSource
from peers.sipp import SippRun

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed"),
]

NUMBER = "15550100"


def trunk_peer(scenario: str, tmp_path: Path, **options: Any) -> SippRun:
    """SIPp as the engine's carrier (the default trunk's address), running ``scenario``."""
    return SippRun(scenario, workdir=tmp_path, host=TRUNK_HOST, port=TRUNK_PORT, **options)


def tone_frames(path: Path, frequency: float) -> int:
    """20 ms frames of the recording where ``frequency`` clearly dominates."""
    _, samples = read_wav_mono(path)
    count = 0
    for start in range(0, len(samples) - 160, 160):
        frame = samples[start : start + 160].astype(float)
        if rms(frame) < 500:
            continue
        if goertzel_power(frame, frequency) > 20 * goertzel_power(frame, frequency * 1.37):
            count += 1
    return count


async def test_answered_call_carries_audio_both_ways(engine: Engine, tmp_path: Path) -> None:
    async with trunk_peer("uas", tmp_path, rtp_echo=True) as peer:
        leg = await engine.originate(NUMBER, caller_id="100", caller_name="Shop")
        await leg.wait_answered()
        leg.record(tmp_path / "echo.wav")
        assert await leg.play(ToneSource(frequencies=(1000,), duration_s=1.0))
        leg.stop_recording()
        ended = await leg.hangup()
        result = await peer.wait()
    assert ended.by is Party.LOCAL
    assert [type(e) for e in leg.history] == [Trying, Ringing, Answered, type(ended)]
    assert (result.successful, result.failed) == (1, 0), result.errors
    assert tone_frames(tmp_path / "echo.wav", 1000) > 25, "the echoed tone did not come back"


@pytest.mark.parametrize(
    ("scenario", "reason", "code"),
    [("uas_busy", EndReason.BUSY, 486), ("uas_decline", EndReason.DECLINED, 603)],
)
async def test_rejected_call_ends_with_cause_and_is_acked(
    engine: Engine, tmp_path: Path, scenario: str, reason: EndReason, code: int
) -> None:
    async with trunk_peer(scenario, tmp_path) as peer:
        leg = await engine.originate(NUMBER)
        with pytest.raises(LegEndedError):
            await leg.wait_answered()
        result = await peer.wait()
    ended = await leg.wait_ended()
    assert (ended.reason, ended.sip_code, ended.by) == (reason, code, Party.REMOTE)
    assert (result.successful, result.failed) == (1, 0), result.errors


async def test_no_answer_is_cancelled_at_the_ring_timeout(engine: Engine, tmp_path: Path) -> None:
    async with trunk_peer("uas_ring_cancel", tmp_path) as peer:
        leg = await engine.originate(NUMBER, ring_timeout=1.0)
        ended = await leg.wait_ended()
        result = await peer.wait()
    assert (ended.reason, ended.by) == (EndReason.NO_ANSWER, Party.LOCAL)
    assert Ringing() in leg.history
    assert (result.successful, result.failed) == (1, 0), result.errors


async def test_caller_gives_up_while_it_rings(engine: Engine, tmp_path: Path) -> None:
    async with trunk_peer("uas_ring_cancel", tmp_path) as peer:
        leg = await engine.originate(NUMBER)
        async for event in leg.events():
            if isinstance(event, Ringing):
                break
        ended = await leg.hangup()
        result = await peer.wait()
    assert (ended.reason, ended.by) == (EndReason.CANCELLED, Party.LOCAL)
    assert (result.successful, result.failed) == (1, 0), result.errors


async def test_200_after_cancel_is_acked_then_ended_with_bye(
    engine: Engine, tmp_path: Path
) -> None:
    async with trunk_peer("uas_answer_after_cancel", tmp_path) as peer:
        leg = await engine.originate(NUMBER, ring_timeout=0.5)
        ended = await leg.wait_ended()
        result = await peer.wait()
    assert ended.reason is EndReason.NO_ANSWER
    assert (result.successful, result.failed) == (1, 0), result.errors


async def test_callee_hangs_up(engine: Engine, tmp_path: Path) -> None:
    async with trunk_peer("uas_answer_then_bye", tmp_path) as peer:
        leg = await engine.originate(NUMBER)
        await leg.wait_answered()
        ended = await leg.wait_ended()
        result = await peer.wait()
    assert (ended.reason, ended.by) == (EndReason.HUNG_UP, Party.REMOTE)
    assert leg.media.packets_sent > 10  # silence from the answer on, though nothing played
    assert (result.successful, result.failed) == (1, 0), result.errors


async def test_unreachable_destination_times_out(engine: Engine) -> None:
    leg = await engine.originate("sip:nobody@127.0.10.99:5999", ring_timeout=30)
    ended = await leg.wait_ended()
    assert ended.reason is EndReason.UNREACHABLE


async def test_tcp_call(engine: Engine, tmp_path: Path) -> None:
    async with trunk_peer("uas", tmp_path, transport="t1") as peer:
        leg = await engine.originate(f"sip:service@{TRUNK_HOST}:{TRUNK_PORT};transport=tcp")
        await leg.wait_answered()
        await leg.hangup()
        result = await peer.wait()
    assert (result.successful, result.failed) == (1, 0), result.errors


@pytest.fixture
def trunks() -> tuple[Trunk, ...]:
    return (
        Trunk(
            name="carrier",
            uri=f"sip:{TRUNK_HOST}:{TRUNK_PORT}",
            default=True,
            username="alice",
            password="s3cret",
        ),
    )


@pytest.mark.parametrize("scenario", ["uas_auth_401", "uas_auth_407"])
async def test_challenge_is_answered_once(engine: Engine, tmp_path: Path, scenario: str) -> None:
    # Only the 401 scenario can verify the digest (SIPp's verifyauth reads Authorization only).
    credentials = {"user": "alice", "password": "s3cret"} if "401" in scenario else {}
    async with trunk_peer(scenario, tmp_path, variables=credentials) as peer:
        leg = await engine.originate(NUMBER)
        await leg.wait_answered()
        await leg.hangup()
        result = await peer.wait()
    assert (result.successful, result.failed) == (1, 0), result.errors


class AnswerAndPlay:
    def __init__(self) -> None:
        self.calls: list[IncomingCall] = []
        self.signalling: list[object] = []  # kept: a closed leg lets go of its own

    async def handle(self, call: IncomingCall) -> None:
        self.calls.append(call)
        self.signalling.append(call.leg.signalling)
        await call.leg.ring()
        await call.leg.answer()
        await call.leg.play(ToneSource(frequencies=(440,), duration_s=None))


async def test_inbound_calls_from_stock_uac(engine: Engine, tmp_path: Path) -> None:
    handler = AnswerAndPlay()
    engine.set_incoming_handler(handler)
    uac = SippRun(
        "uac",
        workdir=tmp_path,
        host=TRUNK_HOST,
        target=f"{ENGINE_HOST}:{ENGINE_PORT}",
        calls=3,
        service="2000",
        pause_ms=500,
    )
    async with uac:
        result = await uac.wait()
    assert (result.successful, result.failed) == (3, 0), result.errors
    assert [c.dialled for c in handler.calls] == ["2000"] * 3
    for call in handler.calls:
        ended = await call.leg.wait_ended()
        assert (ended.reason, ended.by) == (EndReason.HUNG_UP, Party.REMOTE)
        assert call.leg.media.packets_sent > 0  # the tone went out (stock uac sends no RTP)


async def test_the_media_plane_knows_each_dialog(engine: Engine, tmp_path: Path) -> None:
    """The plane negotiates SDP per dialog, named as its INVITE names it: Call-ID, the
    caller's From tag, the callee's To tag (outbound: ours then SIPp's; inbound: the
    reverse)."""
    async with trunk_peer("uas", tmp_path, rtp_echo=True) as peer:
        leg = await engine.originate(NUMBER, caller_id="100")
        await leg.wait_answered()
        signalling = leg.signalling
        await leg.hangup()
        await peer.wait()
    assert isinstance(signalling, DialogSession)
    assert signalling.dialog is not None
    assert isinstance(leg.media, InProcessEndpoint)
    assert leg.media.dialog == MediaDialog(
        call_id=signalling.dialog.call_id,
        from_tag=signalling.dialog.local_tag,
        to_tag=signalling.dialog.remote_tag,
    )
    assert leg.media.dialog.call_id == leg.sip_call_id

    handler = AnswerAndPlay()
    engine.set_incoming_handler(handler)
    uac = SippRun(
        "uac",
        workdir=tmp_path,
        host=TRUNK_HOST,
        target=f"{ENGINE_HOST}:{ENGINE_PORT}",
        calls=1,
        service="2000",
        pause_ms=300,
    )
    async with uac:
        result = await uac.wait()
    assert (result.successful, result.failed) == (1, 0), result.errors
    [call] = handler.calls
    inbound = handler.signalling[0]
    assert isinstance(inbound, InboundCall)
    assert isinstance(call.leg.media, InProcessEndpoint)
    caller_tag = parse_address(call.request.get_header("from") or "").tag
    assert call.leg.media.dialog == MediaDialog(
        call_id=call.request.call_id or "", from_tag=caller_tag or "", to_tag=inbound.local_tag
    )
