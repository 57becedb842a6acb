"""``record = true`` on a ``[[numbers]]`` (real server: ``callbridge serve``): a baresip
caller at a trunk address sends a 1 kHz tone to a number whose application pauses; the
call is recorded from its answer and its recording published as an outbound call's
(the completed callback's ``RecordingURL``, the call's ``recordings``, the WAV itself),
holding the caller's tone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from audio_analysis import dominant_frequency, read_wav_mono, rms
from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from server_config import trunk
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "inbound-record-key-0123456789abcdef"
SIP_PORT = 5661
RTP_PORTS = (52700, 52799)
NUMBER = "+15550670"
TONE = 1000.0


def tone_frames(wav: Path) -> int:
    """20 ms frames of the recording loud and dominated by the caller's tone."""
    _, data = read_wav_mono(wav)
    frames = (data[i : i + 160] for i in range(0, len(data) - 160, 160))
    return sum(
        1
        for frame in frames
        if rms(frame) > 300 and dominant_frequency(frame, candidates=(440.0, TONE)) == TONE
    )


async def test_a_number_with_record_publishes_the_callers_audio(
    tmp_path: Path, receiver: Receiver, baresip: BaresipFactory
) -> None:
    receiver.documents["/app"] = '<Response><Pause length="3"/></Response>'
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP_PORTS,
        node="inbound-record-test",
        api_key=KEY,
        more=f"""
{trunk("sip:127.0.20.2:5060", default=False, inbound=("127.0.20.0/24",))}
[[numbers]]
number = "{NUMBER}"
voice_url = "{receiver.url("/app")}"
status_callback = "{receiver.url("/status")}"
api_key = "test"
record = true
""",
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        caller = await baresip("caller", tone_hz=TONE)
        await caller.dial(f"sip:{NUMBER}@127.0.0.1:{SIP_PORT}")
        await caller.wait_event("CALL_ESTABLISHED", timeout=15)
        await caller.wait_event("CALL_CLOSED", timeout=15)  # the server's BYE after 3 s
        await receiver.wait_for(
            lambda: any(r.form["CallStatus"] == "completed" for r in receiver.on("/status")),
            timeout=15,
        )
        completed = next(
            r.form for r in receiver.on("/status") if r.form["CallStatus"] == "completed"
        )
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            detail = (await api.get(f"/api/v2/calls/{completed['CallSid']}")).json()
            recording = await api.get(completed["RecordingURL"])
    finally:
        await server.stop()
    assert completed["CallOutcome"] == "completed"
    assert completed["RecordingURL"].startswith(f"{server.url}/api/v2/recordings/")
    assert detail["direction"] == "inbound"
    assert detail["recordingUrl"] == completed["RecordingURL"]
    assert len(detail["recordings"]) == 1
    assert recording.status_code == 200
    assert recording.content[:4] == b"RIFF"
    # About 3 s of the caller's tone (the pause), from the answer on.
    wav = tmp_path / "recording.wav"
    wav.write_bytes(recording.content)
    assert tone_frames(wav) > 75  # of about 150
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
