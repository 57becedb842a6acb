"""OriginateCall (seed-002) type=user, async=1, against the real server (``callbridge
serve``: uvloop, the HTTP worker) on loopback.

A raw UDP phone registers as user 1001 (digest) and answers every INVITE 486 at once (so
the user stays online); the client sends ``--rate`` signed JSON requests a second for
``--seconds``, each with its own customer number, and the phone matches each INVITE (its
From user) to the request.  Prints, per request, request sent → the agent's INVITE received
(p50/p99/max), request → reply, and how many requests failed or got no INVITE.

    unshare -rn sh -c 'ip link set lo up && .venv/bin/python bench/bench_originate.py'
        [--rate 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiosipua import SipRequest, SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from callbridge.dialects.originate_auth import expected_hash
from callbridge.sip.message import parse_message
from peers.net import free_tcp_port
from server_process import Server, write_config

SIP_PORT = 5244
AGENT = ("127.0.0.63", 5243)
CONFIG = """
[[trunks]]
name = "carrier"
uri = "sip:127.0.0.64:5060"
default = true
[[projects]]
id = 1
[[originate_users]]
username = "bench"
password = "bench-pass"
key = "bench-key"
[[users]]
extension = "1001"
password = "secret1001"
"""


class Phone:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(AGENT)
        self.sock.setblocking(False)
        self.invited: dict[str, float] = {}  # customer number -> when its INVITE came

    def send(self, text: str) -> None:
        self.sock.sendto(text.encode(), ("127.0.0.1", SIP_PORT))

    async def receive(self) -> SipRequest | SipResponse:
        data = await asyncio.get_running_loop().sock_recv(self.sock, 65535)
        return parse_message(data)

    def register_request(self, cseq: int, authorization: str = "") -> None:
        line = f"Authorization: {authorization}\r\n" if authorization else ""
        self.send(
            f"REGISTER sip:127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {AGENT[0]}:{AGENT[1]};branch=z9hG4bK-bench-{cseq}\r\n"
            f"From: <sip:1001@127.0.0.1>;tag=b\r\nTo: <sip:1001@127.0.0.1>\r\n"
            f"Call-ID: bench-reg\r\nCSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:1001@{AGENT[0]}:{AGENT[1]}>\r\n{line}"
            "Max-Forwards: 70\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
        )

    async def register(self) -> None:
        self.register_request(1)
        challenge = await self.receive()
        assert isinstance(challenge, SipResponse)
        answer = answer_challenge(
            SipDigestAuth("1001", "secret1001"), challenge, 401, "REGISTER", "sip:127.0.0.1"
        )
        assert answer is not None
        self.register_request(2, answer[1])
        ok = await self.receive()
        assert isinstance(ok, SipResponse)
        assert ok.status_code == 200, ok.status_code

    async def serve(self) -> None:
        while True:
            message = await self.receive()
            if not isinstance(message, SipRequest) or message.method != "INVITE":
                continue
            now = time.perf_counter()
            user = (message.get_header("from") or "").split("sip:", 1)[-1].split("@", 1)[0]
            self.invited.setdefault(user, now)
            headers = "".join(
                f"{name}: {value}\r\n"
                for name in ("Via", "From", "Call-ID", "CSeq")
                for value in message.get_header_values(name.lower())
            )
            self.send(
                f"SIP/2.0 486 Busy Here\r\n{headers}"
                f"To: {message.get_header('to')};tag=busy\r\nContent-Length: 0\r\n\r\n"
            )


def signed(customer: str, n: int) -> dict[str, object]:
    params: dict[str, object] = {
        "api_username": "bench",
        "api_password": "bench-pass",
        "data": {
            "project_id": 1,
            "caller_id": customer,
            "caller_id_name": "Bench",
            "type": "user",
            "destination": "1001",
            "external_id": f"bench-{n}",
            "async": 1,
            "vars": {"BACKEND_LINK": f"https://crm.example.com/?id={n}"},
        },
    }
    return {**params, "api_hash": expected_hash(params, "bench-key")}  # type: ignore[arg-type]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(rate: float, seconds: float) -> None:
    # The load generator and the phone in SCHED_BATCH (as bench_outbound_api.py's peers):
    # they do not preempt the server, whose latency is measured.
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    with tempfile.TemporaryDirectory() as tmp:
        http_port = free_tcp_port()
        config = write_config(
            Path(tmp),
            sip_port=SIP_PORT,
            http_port=http_port,
            rtp_ports=(47900, 47999),
            node="bench-originate",
            api_key="bench-api-key-0123456789abcdef",
            more=CONFIG,
        )
        server = Server(config, http_port, Path(tmp) / "server.log")
        await server.start()
        phone = Phone()
        try:
            await phone.register()
            serving = asyncio.create_task(phone.serve())
            sent: dict[str, float] = {}
            replies: list[float] = []
            failed = 0
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as api:

                async def one(n: int) -> None:
                    nonlocal failed
                    customer = f"0100{n:06d}"
                    body = signed(customer, n)
                    started = time.perf_counter()
                    sent[customer] = started
                    reply = (await api.post("/api/originate-call", json=body)).json()
                    replies.append(time.perf_counter() - started)
                    if reply["has_error"]:
                        failed += 1

                count = int(rate * seconds)
                tasks = []
                begin = time.perf_counter()
                for n in range(count):
                    delay = begin + n / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one(n)))
                await asyncio.gather(*tasks)
                await asyncio.sleep(2.0)
            serving.cancel()
        finally:
            phone.sock.close()
            await server.stop()
    to_invite = [(phone.invited[c] - t) * 1000 for c, t in sent.items() if c in phone.invited]
    reply_ms = [r * 1000 for r in replies]
    print(
        f"requests {len(sent)} at {rate:g}/s for {seconds:g} s; errors {failed}; "
        f"without INVITE {len(sent) - len(to_invite)}"
    )
    if to_invite:
        print(
            f"request -> agent INVITE: p50 {statistics.median(to_invite):.1f} ms, "
            f"p99 {percentile(to_invite, 0.99):.1f} ms, max {max(to_invite):.1f} ms"
        )
    if reply_ms:
        print(
            f"request -> reply:        p50 {statistics.median(reply_ms):.1f} ms, "
            f"p99 {percentile(reply_ms, 0.99):.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds))
