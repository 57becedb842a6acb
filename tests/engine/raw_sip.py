"""A bare SIP UDP client for tests that must send as an attacker does: many requests at
once without waiting for answers, from chosen loopback addresses."""

from __future__ import annotations

import asyncio
import itertools
import socket

from aiosipua import SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge

from callbridge.sip.message import parse_message

SDP = (
    "v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
_numbers = itertools.count(1)


class RawSip:
    """One UDP socket on ``host`` (an ephemeral port) talking to ``server``."""

    def __init__(self, host: str, server: tuple[str, int]) -> None:
        self.host = host
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self._answered: set[str] = set()  # branches whose final response came

    def close(self) -> None:
        self.sock.close()

    def request(
        self,
        method: str,
        *,
        user: str,
        from_user: str | None = None,
        from_host: str | None = None,
        call_id: str | None = None,
        cseq: int = 1,
        to_tag: str | None = None,
        from_tag: str | None = None,
        headers: dict[str, str] | None = None,
        body: str = "",
    ) -> bytes:
        n = next(_numbers)
        server = f"{self.server[0]}:{self.server[1]}"
        lines = [
            f"{method} sip:{user}@{server} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK-raw-{n}",
            f"From: <sip:{from_user or user}@{from_host or self.server[0]}>;tag={from_tag or n}",
            f"To: <sip:{user}@{self.server[0]}>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {call_id or f'raw-{n}@{self.host}'}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{from_user or user}@{self.host}:{self.port}>",
            "Max-Forwards: 70",
        ]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    async def responses(self, *, wait: float = 0.5, final: int | None = None) -> list[SipResponse]:
        """What arrives until ``wait`` seconds pass without a datagram, or until ``final``
        final responses (>= 200) came; retransmitted finals (no ACK is sent) are skipped."""
        loop = asyncio.get_running_loop()
        got: list[SipResponse] = []
        while final is None or sum(r.status_code >= 200 for r in got) < final:
            try:
                data = await asyncio.wait_for(loop.sock_recv(self.sock, 70000), wait)
            except TimeoutError:
                break
            message = parse_message(data)
            if not isinstance(message, SipResponse):
                continue
            branch = message.get_header_values("via")[0].rpartition("branch=")[2]
            if message.status_code >= 200:
                if branch in self._answered:
                    continue
                self._answered.add(branch)
            got.append(message)
        return got


def digest_answer(challenge: SipResponse, *, user: str, password: str, method: str) -> str:
    """The Authorization (401) or Proxy-Authorization (407) value answering ``challenge``."""
    answer = answer_challenge(
        SipDigestAuth(user, password), challenge, challenge.status_code, method, "sip:callbridge"
    )
    assert answer is not None
    return answer[1]


def finals(responses: list[SipResponse]) -> list[int]:
    return [r.status_code for r in responses if r.status_code >= 200]
