"""Mutated SIP messages against a real engine (issue 15): the generator and the runner
shared by ``tests/engine/test_sip_fuzz.py`` (a bounded run) and ``bench/bench_sip_fuzz.py``.

Valid INVITE (with SDP), REGISTER, OPTIONS and BYE messages are mutated deterministically
(a seeded ``random.Random``): bytes flipped, cut short, headers duplicated or dropped,
hostile Contact, Via, CSeq, Content-Length and SDP values, huge values.  Each is sent over
UDP (every ``tcp_every``-th on a TCP connection of its own) from loopback, and the run
checks what the issue asks: no traceback logged, a final response for every request whose
Via, Call-ID and CSeq can be read, the transaction table drained once the timers ran, and
no file descriptor left open (pooled RTP sockets aside).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiosipua import SipMessage, SipRequest

from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.engine.events import EndReason
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.transaction import Timers

TIMERS = Timers(t1=0.05, t2=0.2, t4=0.25, d=0.5)  # Timer H/J/L: 3.2 s
USERS = (("1001", "secret1001"), ("1002", "secret1002"))

SDP = (
    "v=0\r\no=- 7 7 IN IP4 {peer}\r\ns=-\r\nc=IN IP4 {peer}\r\nt=0 0\r\n"
    "m=audio 41000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
)

HEAD = (
    "{method} {uri} SIP/2.0\r\n"
    "Via: SIP/2.0/{transport} {peer}:{port};branch=z9hG4bK-fz{n}x;rport\r\n"
    "From: {from_};tag=f{n}\r\n"
    "To: {to}\r\n"
    "Call-ID: fz{n}x@{peer}\r\n"
    "CSeq: {cseq} {method}\r\n"
    "Max-Forwards: 70\r\n"
)

HOSTILE_CONTACTS = [
    "<sip:x@{peer}:{port}",
    "sip:x@{peer}:{port}>",
    "<<sip:x@{peer}>>",
    "<>",
    "*",
    '"\\"" <sip:x@{peer}>',
    "<sip:" + "a" * 3000 + "@{peer}>",
    "<sip:x@{peer}:99999999>",
    "<sip:x@[::1>",
    "<sip:x@{peer}>, <sip:y@{peer}",
    "<tel:+15550100>",
    "<sip:@>",
]
HOSTILE_VIAS = [
    "SIP/2.0/UDP {peer}:{port}",
    "SIP/2.0/UDP {peer}:99999;branch=z9hG4bK-fz{n}x",
    "SIP/2.0/UDP [::1;branch=z9hG4bK-fz{n}x",
    "SIP/2.0/UDP {peer}:{port};branch=z9hG4bK-fz{n}x;rport=abc;received=nothing",
    "SIP/2.0/XYZ {peer}:{port};branch=z9hG4bK-fz{n}x",
    "SIP/2.0/UDP {peer}:{port};branch=" + "z" * 5000,
    "SIP/2.0/UDP ;branch=z9hG4bK-fz{n}x",
    "SIP/3.0/UDP {peer}:{port};branch=z9hG4bK-fz{n}x",
]
HOSTILE_CSEQS = [
    "99999999999 {method}",
    "-1 {method}",
    "1 OPTIONS",
    "",
    "1",
    "2147483647 {method}",
    "1 " + "X" * 2000,
    "0x10 {method}",
]
HOSTILE_LENGTHS = ["-1", "99999999", "abc", "0", "5", "1e3", "", "18446744073709551617"]
HOSTILE_SDP = [
    ("m=audio 41000", "m=audio 70000"),
    ("m=audio 41000", "m=audio 99999999999999999999"),
    ("m=audio 41000", "m=audio -5"),
    ("c=IN IP4 {peer}", "c=IN IP4 media.example.invalid"),
    ("c=IN IP4 {peer}", "c=IN IP4 224.0.0.1"),
    ("c=IN IP4 {peer}", "c=IN IP6 {peer}"),
    ("c=IN IP4 {peer}", "c=IN IP4 999.1.1.1"),
    ("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/99999999999999999999"),
    ("RTP/AVP 0 8 101", "RTP/AVP 999 -1 x"),
    ("v=0", "v=" + "9" * 4000),
]


def seed_message(n: int, kind: str, *, peer: str, port: int, target: str, transport: str) -> str:
    """A valid message of ``kind``, unique by ``n`` (Call-ID ``fz<n>x@peer``, branch)."""
    values = {"n": n, "peer": peer, "port": port, "transport": transport.upper()}
    if kind == "INVITE":
        body = SDP.format(peer=peer)
        head = HEAD.format(
            method="INVITE",
            uri=f"sip:1002@{target}",
            from_=f'"Fuzz" <sip:caller{n}@{peer}>',
            to=f"<sip:1002@{target}>",
            cseq=1,
            **values,
        )
        extra = f"Contact: <sip:caller{n}@{peer}:{port}>\r\nContent-Type: application/sdp\r\n"
        return f"{head}{extra}Content-Length: {len(body)}\r\n\r\n{body}"
    if kind == "REGISTER":
        head = HEAD.format(
            method="REGISTER",
            uri=f"sip:{target}",
            from_=f"<sip:1001@{target}>",
            to=f"<sip:1001@{target}>",
            cseq=n + 1,
            **values,
        )
        auth = (
            f'Authorization: Digest username="1001", realm="callbridge", nonce="n{n}", '
            f'uri="sip:{target}", response="{n:032x}"\r\n'
            if n % 2
            else ""
        )
        extra = f"Contact: <sip:1001@{peer}:{port}>;expires=300\r\n{auth}"
        return f"{head}{extra}Content-Length: 0\r\n\r\n"
    if kind == "BYE":
        head = HEAD.format(
            method="BYE",
            uri=f"sip:callbridge@{target}",
            from_=f"<sip:caller{n}@{peer}>",
            to=f"<sip:callbridge@{target}>" + (";tag=nosuchdialog" if n % 2 else ""),
            cseq=2,
            **values,
        )
        return f"{head}Content-Length: 0\r\n\r\n"
    head = HEAD.format(
        method="OPTIONS",
        uri=f"sip:callbridge@{target}",
        from_=f"<sip:probe{n}@{peer}>",
        to=f"<sip:callbridge@{target}>",
        cseq=1,
        **values,
    )
    return f"{head}Accept: application/sdp\r\nContent-Length: 0\r\n\r\n"


def _lines(text: str) -> tuple[list[str], str]:
    head, _, body = text.partition("\r\n\r\n")
    return head.split("\r\n"), body


def _join(lines: list[str], body: str) -> str:
    return "\r\n".join(lines) + "\r\n\r\n" + body


def _replace_header(text: str, name: str, value: str) -> str:
    lines, body = _lines(text)
    out = [
        f"{name}: {value}" if line.lower().startswith(name.lower() + ":") else line
        for line in lines
    ]
    if out == lines:
        out.append(f"{name}: {value}")
    return _join(out, body)


Mutation = Callable[[random.Random, str, dict[str, object]], str | bytes]


def _hostile(name: str, choices: list[str]) -> Mutation:
    def mutate(rng: random.Random, text: str, values: dict[str, object]) -> str:
        return _replace_header(text, name, rng.choice(choices).format(**values))

    return mutate


def _duplicate_header(rng: random.Random, text: str, values: dict[str, object]) -> str:
    lines, body = _lines(text)
    index = rng.randrange(1, len(lines))
    lines.insert(rng.randrange(1, len(lines) + 1), lines[index])
    return _join(lines, body)


def _drop_header(rng: random.Random, text: str, values: dict[str, object]) -> str:
    lines, body = _lines(text)
    del lines[rng.randrange(1, len(lines))]
    return _join(lines, body)


def _sdp(rng: random.Random, text: str, values: dict[str, object]) -> str:
    old, new = rng.choice(HOSTILE_SDP)
    lines, body = _lines(text)
    body = body.replace(old.format(**values), new.format(**values))
    return _replace_header(_join(lines, body), "Content-Length", str(len(body.encode())))


def _huge(rng: random.Random, text: str, values: dict[str, object]) -> str:
    name = rng.choice(["X-Pad", "Subject", "Call-ID", "User-Agent", "Max-Forwards", "Expires"])
    size = rng.choice([1000, 8000, 30000])
    value = rng.choice(["a", "9", "%", ",", ";", "<"]) * size
    if name == "Call-ID":
        value = f"fz{values['n']}x-{value}"
    return _replace_header(text, name, value)


def _flip(rng: random.Random, text: str | bytes, values: dict[str, object]) -> bytes:
    data = bytearray(text.encode() if isinstance(text, str) else text)
    for _ in range(rng.randint(1, 6)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _truncate(rng: random.Random, text: str | bytes, values: dict[str, object]) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return data[: rng.randrange(1, len(data))]


def _inject(rng: random.Random, text: str, values: dict[str, object]) -> str:
    name = rng.choice(["Subject", "Contact", "To", "Via", "Route"])
    junk = rng.choice(["\x00", "\r\nX-Injected: 1", "\r", "\t\t", "\\", "\u202e", "\ufffd"])
    return _replace_header(text, name, f"x{junk}y")


TEXT_MUTATIONS: list[Mutation] = [
    _hostile("Contact", HOSTILE_CONTACTS),
    _hostile("Via", HOSTILE_VIAS),
    _hostile("CSeq", HOSTILE_CSEQS),
    _hostile("Content-Length", HOSTILE_LENGTHS),
    _duplicate_header,
    _drop_header,
    _sdp,
    _huge,
    _inject,
]


def mutations(
    count: int, *, seed: int, peer: str, port: int, target: str, transport: str = "udp"
) -> list[bytes]:
    """``count`` mutated messages; message ``n`` has Call-ID ``fz<n>x@<peer>`` unless the
    mutation itself changed it."""
    rng = random.Random(seed)
    kinds = ["INVITE", "REGISTER", "OPTIONS", "BYE"]
    out: list[bytes] = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        values: dict[str, object] = {"n": n, "peer": peer, "port": port, "method": kind}
        text = seed_message(n, kind, peer=peer, port=port, target=target, transport=transport)
        for _ in range(rng.choice([1, 1, 2, 3])):
            text = rng.choice(TEXT_MUTATIONS)(rng, text, values)  # type: ignore[arg-type]
        data: str | bytes = text
        roll = rng.random()
        if roll < 0.25:
            data = _flip(rng, data, values)
        elif roll < 0.35:
            data = _truncate(rng, data, values)
        out.append(data.encode() if isinstance(data, str) else data)
    return out


def addressable_call_id(data: bytes) -> str | None:
    """The Call-ID of a request we expect a final response to: one that (leniently) parses
    with Via, From, To, Call-ID and CSeq, is not an ACK and fits a UDP datagram."""
    try:
        message = SipMessage.parse(data)
    except Exception:
        return None
    if not isinstance(message, SipRequest) or message.method in ("ACK", ""):
        return None
    if not all(
        (message.get_header(h) or "").strip() for h in ("via", "from", "to", "call-id", "cseq")
    ):
        return None
    return (message.call_id or "").strip()


class TracebackCounter(logging.Handler):
    """Counts the records logged with a traceback (and keeps the first few)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.count = 0
        self.lines = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1
        if record.exc_info:
            self.count += 1
            if len(self.first) < 3:
                self.first.append(self.format(record))


def _tables(engine: Engine) -> tuple[int, int]:
    """(server transactions held, those unanswered), read off the layer itself so that the
    bench can measure an engine from before ``Engine.server_transactions`` existed."""
    layer = engine._transactions
    return layer.server_count, layer.pending_server_count


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class FuzzReport:
    sent: int = 0
    sent_tcp: int = 0
    expected: int = 0
    answered: int = 0
    missing: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    tracebacks: int = 0
    log_lines: int = 0
    first_tracebacks: list[str] = field(default_factory=list)
    fds_before: int = 0
    fds_after: int = 0
    rtp_sockets_pooled: int = 0
    transactions_left: int = 0
    pending_left: int = 0
    legs_left: int = 0
    rtp_ports_leased: int = 0

    @property
    def leaked_fds(self) -> int:
        return self.fds_after - self.fds_before - self.rtp_sockets_pooled


class Rejects:
    """The application: every incoming call is refused busy (486)."""

    async def handle(self, call: IncomingCall) -> None:
        await call.leg.hangup(EndReason.BUSY, 486)


def fuzz_engine(*, host: str, port: int, rtp: tuple[int, int], tts_dir: Path) -> Engine:
    engine = Engine(
        settings=EngineSettings(host=host, port=port, users=USERS, timers=TIMERS),
        media=InProcessMediaPlane(host=host, port_start=rtp[0], port_end=rtp[1]),
        tts=Tts(cache_dir=tts_dir),
    )
    engine.set_incoming_handler(Rejects())
    return engine


_CALL_ID = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*(.*?)[ \t]*\r?$", re.MULTILINE | re.IGNORECASE)


def _final_of(reply: bytes) -> tuple[str, int] | None:
    if not reply.startswith(b"SIP/2.0 "):
        return None
    try:
        status = int(reply[8:11])
    except ValueError:
        return None
    match = _CALL_ID.search(reply)
    if status < 200 or match is None:
        return None
    return match.group(1).decode("utf-8", "replace"), status


async def _over_tcp(host: str, port: int, data: bytes, finals: dict[str, int]) -> None:
    """One message on a connection of its own; read what comes back for a short while."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return
    try:
        writer.write(data)
        await writer.drain()
        buffer = b""
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), 0.5)
            if not chunk:
                break
            buffer += chunk
    except (TimeoutError, OSError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    for part in buffer.split(b"SIP/2.0 ")[1:]:
        found = _final_of(b"SIP/2.0 " + part)
        if found is not None:
            finals.setdefault(*found)


async def _send(sock: socket.socket, data: bytes, address: tuple[str, int]) -> bool:
    """Send one datagram (uvloop has no ``sock_sendto``); False when it cannot go."""
    for _ in range(100):
        try:
            sock.sendto(data, address)
            return True
        except BlockingIOError:
            await asyncio.sleep(0.001)
        except OSError:
            return False
    return False


async def run_fuzz(
    engine: Engine,
    messages: list[bytes],
    *,
    peer: str,
    peer_port: int,
    tcp_every: int = 0,
    rate: float = 400.0,
) -> FuzzReport:
    """Send ``messages`` to the running ``engine`` and check what came of them."""
    host, port = engine.settings.host, engine.settings.port
    report = FuzzReport(sent=len(messages))
    counter = TracebackCounter()
    counter.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(counter)
    root.setLevel(logging.INFO)
    plane = engine.media
    assert isinstance(plane, InProcessMediaPlane)
    pooled_before = plane.pool.held
    report.fds_before = open_fds()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind((peer, peer_port))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    finals: dict[str, int] = {}
    expected: set[str] = set()

    async def read() -> None:
        while True:
            found = _final_of(await loop.sock_recv(sock, 70000))
            if found is not None:
                finals.setdefault(*found)

    reader = loop.create_task(read())
    tcp: list[asyncio.Task[None]] = []
    try:
        for index, data in enumerate(messages):
            call_id = addressable_call_id(data)
            if tcp_every and index % tcp_every == tcp_every - 1:
                report.sent_tcp += 1
                tcp.append(loop.create_task(_over_tcp(host, port, data, finals)))
            else:
                if call_id is not None and len(data) <= 65000:
                    expected.add(call_id)
                if not await _send(sock, data, (host, port)):
                    expected.discard(call_id or "")
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tcp)
        # finals may be held back (REGISTER failures) up to 32*T1; then the timers drain
        deadline = loop.time() + 64 * TIMERS.t1 + 5
        while loop.time() < deadline:
            if expected <= finals.keys() and _tables(engine) == (0, 0) and not engine.legs:
                break
            await asyncio.sleep(0.1)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        sock.close()
        root.removeHandler(counter)
        root.setLevel(old_level)
    report.expected = len(expected)
    report.answered = len(expected & finals.keys())
    report.missing = sorted(expected - finals.keys())
    for status in finals.values():
        report.statuses[status] = report.statuses.get(status, 0) + 1
    report.tracebacks = counter.count
    report.log_lines = counter.lines
    report.first_tracebacks = counter.first
    report.rtp_sockets_pooled = plane.pool.held - pooled_before
    report.fds_after = open_fds()
    report.transactions_left, report.pending_left = _tables(engine)
    report.legs_left = len(engine.legs)
    report.rtp_ports_leased = plane.pool.leased
    return report
