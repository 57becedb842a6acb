"""Bridged-call relay throughput and added jitter of the in-process media plane.

N bridged calls: for call i an outside peer X_i talks to endpoint A_i, A_i is bridged to
B_i, and B_i talks to an outside peer Y_i; X_i and Y_i both send 20 ms G.711 packets, so
N calls are 2N relayed streams and 100*N packets/s.  The peers run in a separate process
(sends spread evenly over each 20 ms slot); the relay runs in this process's event loop,
whose CPU time is measured over the run.  Each packet carries its send time
(CLOCK_MONOTONIC, shared by both processes), so the receiver computes one-way latency and
the RFC 3550 §6.4.1 interarrival jitter the relay added.

``--calls`` takes a list: each N runs on a fresh media plane, and the figure is the highest
N with at least 99.9 % of the packets delivered and a jitter p99 under 5 ms, where jitter p99
is the 99th percentile over all packets of |D(i-1, i)|, the per-packet transit-time
difference that RFC 3550 §6.4.1 smooths into J (so a stall shows up, not just an average).
The peers' own CPU is shown: near 100 % the generator, not the relay, limits the figures.
Bounded runs; loopback only.

    .venv/bin/python bench/bench_media_relay.py [--calls 100,200,300,400,500] [--seconds 10]
        [--transcode]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import selectors
import socket
import struct
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from callbridge.codecs.formats import PCMA, PCMU
from callbridge.codecs.g711 import ALAW_TO_ULAW, ULAW_TO_ALAW
from callbridge.codecs.stream import RemoteMedia
from callbridge.media.inprocess import InProcessEndpoint, InProcessMediaPlane

HOST = "127.0.0.1"
PORT_START = 50000  # clear of the test suites' RTP ranges
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


MIN_DELIVERED = 0.999
MAX_JITTER_P99_US = 5000.0


@dataclass(frozen=True)
class PeerStats:
    sent: int
    received: int
    latencies_us: list[float]
    jitter_us: list[float]  # RFC 3550 J per stream at the end of the run
    deltas_us: list[float]  # |D(i-1, i)| per packet
    seq_gaps: int
    cpu: float  # the peers' process, fraction of one core over the measured window


@dataclass(frozen=True)
class RunResult:
    calls: int
    pps: float
    relay_cpu: float
    peers_cpu: float
    delivered: float
    seq_gaps: int
    latency_p50_us: float
    latency_p99_us: float
    latency_max_us: float
    jitter_p99_us: float
    rfc3550_j_p99_us: float
    load: float

    @property
    def passed(self) -> bool:
        return self.delivered >= MIN_DELIVERED and self.jitter_p99_us < MAX_JITTER_P99_US


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
        self.deltas: list[float] = []
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
        delta = abs(transit - self.last_transit) if self.last_transit is not None else None
        if delta is not None:
            self.jitter += (delta - self.jitter) / 16
        self.last_transit = transit
        if measuring:
            self.received += 1
            self.latencies.append(transit)
            if delta is not None:
                self.deltas.append(delta)


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
    cpu_start: float | None = None
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if cpu_start is None and now >= start + warmup:
            cpu_start = time.process_time()
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
    cpu = (time.process_time() - cpu_start) / seconds if cpu_start is not None else 0.0
    conn.send(
        PeerStats(
            sent=sent,
            received=sum(r.received for r in receivers),
            latencies_us=[x for r in receivers for x in r.latencies],
            jitter_us=[r.jitter for r in receivers],
            deltas_us=[x for r in receivers for x in r.deltas],
            seq_gaps=sum(r.gaps for r in receivers),
            cpu=cpu,
        )
    )


async def _relay(calls: int, seconds: float, warmup: float, transcode: bool) -> RunResult:
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
    return _result(calls, relayed / wall, cpu / wall, stats)


def _relayed(endpoints: list[InProcessEndpoint]) -> int:
    return sum(e.session.packets_sent for e in endpoints)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _result(calls: int, pps: float, cpu: float, stats: PeerStats) -> RunResult:
    lat = sorted(stats.latencies_us) or [0.0]
    return RunResult(
        calls=calls,
        pps=pps,
        relay_cpu=cpu,
        peers_cpu=stats.cpu,
        delivered=stats.received / stats.sent if stats.sent else 0.0,
        seq_gaps=stats.seq_gaps,
        latency_p50_us=lat[len(lat) // 2],
        latency_p99_us=lat[int(len(lat) * 0.99)],
        latency_max_us=lat[-1],
        jitter_p99_us=_percentile(stats.deltas_us, 0.99),
        rfc3550_j_p99_us=_percentile(stats.jitter_us, 0.99),
        load=os.getloadavg()[0],
    )


def _print_header(seconds: float, transcode: bool) -> None:
    mode = "PCMU<->PCMA transcoding" if transcode else "PCMU both legs, no transcoding"
    print(
        f"Bridged calls through the in-process media plane: {mode}; 20 ms G.711 both ways;"
        f" {seconds:g} s per N; relay on one event loop (one core), peers in another process"
    )
    print(
        "  calls  packets/s  relay CPU  µs/pkt  peers CPU  delivered  gaps"
        "   latency µs p50/p99/max   jitter p99 µs  J p99 µs  load1"
    )


def _print_row(r: RunResult) -> None:
    per_packet = 1e6 * r.relay_cpu / max(r.pps, 1)
    verdict = "ok" if r.passed else "FAIL"
    print(
        f"  {r.calls:5d} {r.pps:10.0f} {100 * r.relay_cpu:9.1f}% {per_packet:7.1f}"
        f" {100 * r.peers_cpu:9.0f}% {100 * r.delivered:9.3f}% {r.seq_gaps:5d}"
        f"  {r.latency_p50_us:7.0f}/{r.latency_p99_us:.0f}/{r.latency_max_us:.0f}"
        f" {r.jitter_p99_us:14.0f} {r.rfc3550_j_p99_us:9.0f} {r.load:6.2f}  {verdict}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="100,200,300,400,500", help="N values, comma list")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--transcode", action="store_true")
    args = parser.parse_args()
    _print_header(args.seconds, args.transcode)
    results = []
    for calls in (int(n) for n in args.calls.split(",")):
        result = asyncio.run(_relay(calls, args.seconds, args.warmup, args.transcode))
        _print_row(result)
        results.append(result)
    best = max((r.calls for r in results if r.passed), default=0)
    print(
        f"highest N with >= {100 * MIN_DELIVERED:.1f} % delivered and jitter p99 <"
        f" {MAX_JITTER_P99_US / 1000:.0f} ms: {best} bridged calls"
        f" ({100 * best} relayed packets/s); delivered is ±0.05 % (window edges)"
    )
    busiest = max((r.peers_cpu for r in results), default=0.0)
    if busiest > 0.9:
        print(f"note: the peers process reached {100 * busiest:.0f} % of a core (generator-bound)")


if __name__ == "__main__":
    main()
