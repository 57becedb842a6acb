"""Bridged-call relay throughput and added jitter of the in-process media plane.

N bridged calls: for call i an outside peer X_i talks to endpoint A_i, A_i is bridged to
B_i, and B_i talks to an outside peer Y_i; X_i and Y_i both send 20 ms G.711 packets, so
N calls are 2N relayed streams and 100*N packets/s.  The peers run in a separate process
(sends spread evenly over each 20 ms slot); the relay runs in this process's event loop,
whose CPU time is measured over the run.  Each packet carries its send time
(CLOCK_MONOTONIC, shared by both processes), so the receiver computes one-way latency and
the RFC 3550 §6.4.1 interarrival jitter the relay added.  Bounded run; prints figures.

    .venv/bin/python bench/bench_media_relay.py [--calls 400] [--seconds 10] [--transcode]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import selectors
import socket
import statistics
import struct
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from callbridge.media.g711 import ALAW_TO_ULAW, ULAW_TO_ALAW
from callbridge.media.inprocess import InProcessEndpoint, InProcessMediaPlane
from callbridge.media.plane import PCMA, PCMU, RemoteMedia

HOST = "127.0.0.1"
PORT_START = 32000
FRAME = 0.02
_HEADER = struct.Struct("!BBHII")
IDENTITY = bytes(range(256))


class StampCodec:
    """Send time as 16 nibble symbols that survive the relay's G.711 transcoding table.

    ``table`` is what the relay applies on the way (identity when the legs match); only
    byte values the table maps one-to-one are used, so the receiver can invert it.
    """

    def __init__(self, table: bytes) -> None:
        seen: dict[int, int] = {}
        for value in range(256):
            if len(seen) < 16 and table[value] not in seen and table.count(table[value]) == 1:
                seen[table[value]] = value
        self.symbols = bytes(seen.values())
        self.inverse = {image: nibble for nibble, image in enumerate(seen)}

    def encode(self, ns: int) -> bytes:
        return bytes(self.symbols[(ns >> (4 * k)) & 0xF] for k in range(16))

    def decode(self, data: bytes) -> int:
        inverse = self.inverse
        return sum(inverse.get(b, 0) << (4 * k) for k, b in enumerate(data[:16]))


@dataclass(frozen=True)
class PeerStats:
    sent: int
    received: int
    latencies_us: list[float]
    jitter_us: list[float]
    seq_gaps: int


def _peer_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    return sock


class _Receiver:
    """Per-socket latency and RFC 3550 §6.4.1 jitter (in µs) of what arrives."""

    def __init__(self) -> None:
        self.received = 0
        self.latencies: list[float] = []
        self.jitter = 0.0
        self.last_transit: float | None = None
        self.last_seq: int | None = None
        self.gaps = 0

    def take(self, data: bytes, now_ns: int, measuring: bool, stamp: StampCodec) -> None:
        seq = struct.unpack_from("!H", data, 2)[0]
        sent_ns = stamp.decode(data[12:])
        transit = (now_ns - sent_ns) / 1000.0
        if self.last_seq is not None and (seq - self.last_seq) & 0xFFFF != 1:
            self.gaps += 1
        self.last_seq = seq
        if self.last_transit is not None:
            self.jitter += (abs(transit - self.last_transit) - self.jitter) / 16
        self.last_transit = transit
        if measuring:
            self.received += 1
            self.latencies.append(transit)


def run_peers(conn: Connection, calls: int, seconds: float, warmup: float, transcode: bool) -> None:
    """Peer process: 2 sockets per call, paced senders, latency-measuring receivers.

    Even sockets are X peers (PCMU), odd ones Y peers (PCMA when transcoding)."""
    x_to_y = StampCodec(ULAW_TO_ALAW if transcode else IDENTITY)
    y_to_x = StampCodec(ALAW_TO_ULAW if transcode else IDENTITY)
    send_stamp = [x_to_y, y_to_x]  # by sender parity
    recv_stamp = [y_to_x, x_to_y]  # by receiver parity
    payload_types = [0, 8 if transcode else 0]
    socks = [_peer_socket() for _ in range(2 * calls)]
    conn.send([s.getsockname()[1] for s in socks])
    targets: list[int] = conn.recv()
    receivers = [_Receiver() for _ in socks]
    selector = selectors.DefaultSelector()
    for index, sock in enumerate(socks):
        selector.register(sock, selectors.EVENT_READ, index)
    payload = bytearray(_HEADER.size + 160)
    seqs = [0] * len(socks)
    start = time.monotonic() + 0.2
    end = start + warmup + seconds
    offsets = [(i % 20) * FRAME / 20 for i in range(len(socks))]
    order = sorted(range(len(socks)), key=lambda i: offsets[i])
    sent = 0
    slot = 0
    cursor = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        while cursor < len(order) and start + slot * FRAME + offsets[order[cursor]] <= now:
            i = order[cursor]
            pt = payload_types[i & 1]
            _HEADER.pack_into(payload, 0, 0x80, pt, seqs[i], seqs[i] * 160, 1000 + i)
            payload[12:28] = send_stamp[i & 1].encode(time.monotonic_ns())
            seqs[i] = (seqs[i] + 1) & 0xFFFF
            try:
                socks[i].sendto(payload, (HOST, targets[i]))
                sent += now >= start + warmup
            except BlockingIOError:
                pass
            cursor += 1
        if cursor == len(order):
            cursor = 0
            slot += 1
        next_due = start + slot * FRAME + offsets[order[cursor]]
        measuring = now >= start + warmup
        for key, _ in selector.select(max(0.0, next_due - time.monotonic())):
            sock, receiver = socks[key.data], receivers[key.data]
            while True:
                try:
                    data = sock.recv(2048)
                except BlockingIOError:
                    break
                receiver.take(data, time.monotonic_ns(), measuring, recv_stamp[key.data & 1])
    conn.send(
        PeerStats(
            sent=sent,
            received=sum(r.received for r in receivers),
            latencies_us=[x for r in receivers for x in r.latencies],
            jitter_us=[r.jitter for r in receivers],
            seq_gaps=sum(r.gaps for r in receivers),
        )
    )


async def _relay(calls: int, seconds: float, warmup: float, transcode: bool) -> None:
    plane = InProcessMediaPlane(host=HOST, port_start=PORT_START, port_end=PORT_START + 8 * calls)
    parent, child = mp.Pipe()
    peers = mp.get_context("fork").Process(
        target=run_peers, args=(child, calls, seconds, warmup, transcode)
    )
    peers.start()
    peer_ports: list[int] = await asyncio.to_thread(parent.recv)
    endpoints: list[InProcessEndpoint] = []
    for i in range(calls):
        a, b = await plane.allocate(), await plane.allocate()
        a.set_remote(RemoteMedia(HOST, peer_ports[2 * i], PCMU, 101))
        b.set_remote(RemoteMedia(HOST, peer_ports[2 * i + 1], PCMA if transcode else PCMU, 101))
        plane.bridge(a, b)
        endpoints += [a, b]
    parent.send([e.local_port for e in endpoints])
    await asyncio.sleep(0.2 + warmup)
    cpu0, wall0 = time.process_time(), time.monotonic()
    relayed0 = _relayed(endpoints)
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    relayed = _relayed(endpoints) - relayed0
    stats: PeerStats = await asyncio.to_thread(parent.recv)
    peers.join()
    await plane.close()
    _report(calls, transcode, relayed / wall, cpu / wall, stats)


def _relayed(endpoints: list[InProcessEndpoint]) -> int:
    return sum(e.session.packets_sent for e in endpoints)


def _report(calls: int, transcode: bool, pps: float, cpu: float, stats: PeerStats) -> None:
    lat = sorted(stats.latencies_us) or [0.0]
    loss = 1 - stats.received / stats.sent if stats.sent else 0.0
    print(f"calls={calls} streams={2 * calls} transcode={'PCMU<->PCMA' if transcode else 'no'}")
    print(f"  relayed        {pps:10.0f} packets/s (offered {100 * calls} packets/s)")
    per_packet = 1e6 * cpu / max(pps, 1)
    print(f"  relay CPU      {100 * cpu:10.1f} % of one core  ({per_packet:.1f} µs/packet)")
    print(f"  sequence gaps  {stats.seq_gaps:10d}  (lost or reordered packets seen by the peers)")
    print(f"  received/sent  {100 * (1 - loss):10.3f} %  (window edges make this ±0.05 %)")
    print(
        f"  latency µs     p50 {lat[len(lat) // 2]:.0f}  p99 {lat[int(len(lat) * 0.99)]:.0f}"
        f"  max {lat[-1]:.0f}"
    )
    jitter = sorted(stats.jitter_us) or [0.0]
    print(
        f"  RFC3550 jitter µs  mean {statistics.fmean(jitter):.0f}"
        f"  max {jitter[-1]:.0f} (per stream, relay-added)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--transcode", action="store_true")
    args = parser.parse_args()
    asyncio.run(_relay(args.calls, args.seconds, args.warmup, args.transcode))


if __name__ == "__main__":
    main()
