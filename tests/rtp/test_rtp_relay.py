from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Callable

import pytest

from callbridge.codecs.formats import PCMA, PCMU
from callbridge.codecs.g711 import ULAW_TO_ALAW
from callbridge.codecs.stream import RemoteMedia
from callbridge.rtp.packet import RtpHeader, build_packet, parse_header
from callbridge.rtp.pump import PacketPump
from callbridge.rtp.relay import RelayDirection
from callbridge.rtp.session import RtpSession


def _bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


async def _until(predicate: Callable[[], bool], *, attempts: int = 300) -> None:
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


class Rig:
    """peer X --(PCMU, te 101)--> session A ==relay==> session B --(PCMA, te 96)--> peer Y"""

    def __init__(self, pump: PacketPump) -> None:
        self.socks = [_bound() for _ in range(4)]
        self.x, a_sock, b_sock, self.y = self.socks
        self.a = RtpSession(sock=a_sock, pump=pump)
        self.b = RtpSession(sock=b_sock, pump=pump)
        self.a.set_remote(RemoteMedia("127.0.0.1", self.x.getsockname()[1], PCMU, 101))
        self.b.set_remote(RemoteMedia("127.0.0.1", self.y.getsockname()[1], PCMA, 96))
        self.relay = RelayDirection(source=self.a, target=self.b)
        self.a.forward = self.relay.forward
        self.got: list[bytes] = []
        pump.add(self.y, lambda data, addr: self.got.append(data))

    def send(self, packet: bytes) -> None:
        self.x.sendto(packet, ("127.0.0.1", self.a.local_port))

    def headers(self) -> list[RtpHeader]:
        return [parse_header(p) for p in self.got]

    def close(self) -> None:
        self.a.close()
        self.b.close()
        for sock in self.socks:
            sock.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    pump = PacketPump()
    built = Rig(pump)
    yield built
    built.close()
    pump.close()


async def test_relay_splices_sources_onto_one_stream(rig: Rig) -> None:
    payload = bytes(range(160))
    for seq in (100, 101, 102):
        rig.send(
            build_packet(payload_type=0, sequence=seq, timestamp=seq * 160, ssrc=1, payload=payload)
        )
    rig.send(build_packet(payload_type=13, sequence=103, timestamp=0, ssrc=1, payload=b"cn"))
    event = bytes([4, 0x8A, 0, 160])
    rig.send(
        build_packet(payload_type=101, sequence=103, timestamp=103 * 160, ssrc=1, payload=event)
    )
    for seq in (5000, 5001):  # the peer restarted with a new SSRC and sequence space
        stamp = 7 + (seq - 5000) * 160
        rig.send(
            build_packet(payload_type=0, sequence=seq, timestamp=stamp, ssrc=2, payload=payload)
        )
    await _until(lambda: len(rig.got) == 6)
    headers = rig.headers()
    assert {h.ssrc for h in headers} == {rig.b.ssrc}
    assert [(h.sequence - headers[0].sequence) & 0xFFFF for h in headers] == [0, 1, 2, 3, 4, 5]
    stamps = [(h.timestamp - headers[0].timestamp) & 0xFFFFFFFF for h in headers]
    assert stamps == [0, 160, 320, 480, 640, 800]
    assert [h.payload_type for h in headers] == [8, 8, 8, 96, 8, 8]
    assert [h.marker for h in headers] == [True, False, False, False, True, False]
    assert rig.got[0][12:] == payload.translate(ULAW_TO_ALAW)
    assert rig.got[3][12:] == event


async def test_csrc_and_padding_are_stripped(rig: Rig) -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 1, 0, 1, 160, 9) + struct.pack("!I", 77)
    rig.send(header + b"\xff" * 160 + b"\x00\x02")
    await _until(lambda: len(rig.got) == 1)
    assert len(rig.got[0]) == 12 + 160
    assert rig.got[0][12:] == (b"\xff" * 160).translate(ULAW_TO_ALAW)


async def test_detach_hands_the_stream_position_back(rig: Rig) -> None:
    rig.send(build_packet(payload_type=0, sequence=9, timestamp=9, ssrc=1, payload=bytes(160)))
    await _until(lambda: len(rig.got) == 1)
    rig.a.forward = None
    rig.relay.detach()
    rig.b.send_audio(bytes(320))
    await _until(lambda: len(rig.got) == 2)
    first, second = rig.headers()
    assert second.sequence == (first.sequence + 1) & 0xFFFF
    assert second.marker
    assert (second.timestamp - first.timestamp) & 0xFFFFFFFF >= 160


async def test_pump_stops_delivering_after_remove() -> None:
    pump = PacketPump(coalesce_s=0.0)
    socks = [_bound() for _ in range(20)]
    got: list[int] = []
    for index, sock in enumerate(socks):
        pump.add(sock, lambda data, addr, index=index: got.append(index))
    sender = _bound()
    for sock in socks:
        sender.sendto(b"x", sock.getsockname())
    await _until(lambda: len(got) == 20)
    assert sorted(got) == list(range(20))
    pump.remove(socks[0])
    sender.sendto(b"x", socks[0].getsockname())
    sender.sendto(b"x", socks[1].getsockname())
    await _until(lambda: len(got) == 21)
    await asyncio.sleep(0.02)
    assert got[20] == 1
    assert len(got) == 21
    pump.close()
    for sock in (*socks, sender):
        sock.close()
