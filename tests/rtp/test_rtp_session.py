from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from callbridge.codecs.formats import PCMA, PCMU
from callbridge.codecs.g711 import ulaw_encode
from callbridge.codecs.stream import RemoteMedia
from callbridge.rtp.packet import build_packet, parse_header
from callbridge.rtp.pump import PacketPump
from callbridge.rtp.session import RtpSession

FRAME = bytes(320)


def _bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


@pytest.fixture
async def pump() -> AsyncIterator[PacketPump]:
    shared = PacketPump()
    yield shared
    shared.close()


@pytest.fixture
async def pair(pump: PacketPump) -> AsyncIterator[tuple[RtpSession, RtpSession]]:
    socks = [_bound(), _bound()]
    a = RtpSession(sock=socks[0], pump=pump)
    b = RtpSession(sock=socks[1], pump=pump)
    a.set_remote(RemoteMedia("127.0.0.1", b.local_port, PCMU, 101))
    b.set_remote(RemoteMedia("127.0.0.1", a.local_port, PCMU, 101))
    yield a, b
    a.close()
    b.close()
    for sock in socks:
        sock.close()


async def _until(predicate: Callable[[], bool], *, attempts: int = 300) -> None:
    """Poll ``predicate`` every 10 ms; fail after ``attempts`` polls."""
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_frames_carry_rfc3550_sequence_timestamp_and_marker(
    pair: tuple[RtpSession, RtpSession],
) -> None:
    a, b = pair
    got: list[bytes] = []
    b.audio_sink = got.append
    a.begin_talkspurt()
    for _ in range(3):
        a.send_audio(FRAME)
    await _until(lambda: len(got) == 3)
    headers = [parse_header(p) for p in got]
    assert [h.marker for h in headers] == [True, False, False]
    assert {h.ssrc for h in headers} == {a.ssrc}
    assert [(h.sequence - headers[0].sequence) & 0xFFFF for h in headers] == [0, 1, 2]
    assert [(h.timestamp - headers[0].timestamp) & 0xFFFFFFFF for h in headers] == [0, 160, 320]
    assert got[0][12:] == ulaw_encode(FRAME)
    assert b.packets_received == 3


async def test_codec_follows_the_remote(pair: tuple[RtpSession, RtpSession]) -> None:
    a, b = pair
    got: list[bytes] = []
    b.audio_sink = got.append
    a.set_remote(RemoteMedia("127.0.0.1", b.local_port, PCMA, None))
    a.send_audio(FRAME)
    await _until(lambda: len(got) == 1)
    assert parse_header(got[0]).payload_type == 8


async def test_telephone_events_go_to_the_dtmf_receiver(
    pair: tuple[RtpSession, RtpSession],
) -> None:
    a, b = pair
    digits: list[str] = []
    audio: list[bytes] = []
    b.dtmf.on_digit = digits.append
    b.audio_sink = audio.append
    a.send_event(bytes([7, 0x8A, 0, 160]), timestamp=1234, marker=True)
    await _until(lambda: digits == ["7"])
    assert audio == []


async def test_comedia_latches_to_the_first_source_and_ignores_others(pump: PacketPump) -> None:
    own = _bound()
    session = RtpSession(sock=own, pump=pump)
    session.set_remote(RemoteMedia("127.0.0.1", 9, PCMU, None))  # SDP address nobody uses
    natted, stranger = _bound(), _bound()
    got: list[bytes] = []
    session.audio_sink = got.append
    packet = build_packet(payload_type=0, sequence=1, timestamp=1, ssrc=5, payload=b"\xff" * 160)
    natted.sendto(packet, ("127.0.0.1", session.local_port))
    await _until(lambda: len(got) == 1)
    stranger.sendto(packet, ("127.0.0.1", session.local_port))
    await asyncio.sleep(0.02)
    session.send_audio(FRAME)
    loop = asyncio.get_running_loop()
    reply = await asyncio.wait_for(loop.sock_recv(natted, 2048), 2)
    assert parse_header(reply).ssrc == session.ssrc
    assert len(got) == 1
    session.close()
    for sock in (own, natted, stranger):
        sock.close()


async def test_packets_before_set_remote_are_dropped(pump: PacketPump) -> None:
    own, peer = _bound(), _bound()
    session = RtpSession(sock=own, pump=pump)
    got: list[bytes] = []
    session.audio_sink = got.append
    peer.sendto(
        build_packet(payload_type=0, sequence=1, timestamp=1, ssrc=5, payload=b""),
        (
            "127.0.0.1",
            session.local_port,
        ),
    )
    await asyncio.sleep(0.02)
    assert got == []
    assert session.packets_received == 0
    session.close()
    own.close()
    peer.close()


async def test_nothing_is_sent_to_a_peer_on_hold_and_sending_resumes_with_a_marker(
    pair: tuple[RtpSession, RtpSession],
) -> None:
    a, b = pair
    got: list[bytes] = []
    b.audio_sink = got.append
    a.send_audio(FRAME)
    await _until(lambda: len(got) == 1)
    held = RemoteMedia("127.0.0.1", b.local_port, PCMU, 101, receives=False)
    a.set_remote(held)
    for _ in range(5):
        a.send_audio(FRAME)
    a.sendto(b"relayed", ("127.0.0.1", b.local_port))  # what a bridge relays is held back too
    sent_while_held = a.packets_sent
    a.set_remote(RemoteMedia("127.0.0.1", b.local_port, PCMU, 101))
    a.send_audio(FRAME)
    await _until(lambda: len(got) == 2)
    await asyncio.sleep(0.05)
    assert len(got) == 2
    assert sent_while_held == 1
    first, resumed = parse_header(got[0]), parse_header(got[1])
    assert resumed.marker
    assert (resumed.sequence - first.sequence) & 0xFFFF == 1  # no gap: nothing was sent
    assert (resumed.timestamp - first.timestamp) & 0xFFFFFFFF >= 6 * 160  # time went on


async def test_an_unsendable_address_drops_packets_with_one_log_line(
    pump: PacketPump, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15 (10): a port above 65535 made every packet raise OverflowError (about 50
    tracebacks a second per call); now packets are dropped and counted, logged once."""
    sock = _bound()
    session = RtpSession(sock=sock, pump=pump)
    try:
        session.set_remote(RemoteMedia("127.0.0.1", 70000, PCMU, 101))
        for _ in range(50):
            session.send_audio(FRAME)
        session.sendto(b"x" * 12, ("127.0.0.1", -1))
        assert session.send_errors == session.send_drops == 51
        assert len(caplog.records) == 1
        assert not caplog.records[0].exc_info
    finally:
        session.close()
        sock.close()
