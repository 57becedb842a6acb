"""A SIPp UAS as a user's registered phone: a digest REGISTER of ``user`` sent from
``host``:SIPp's port before SIPp binds it, so the registrar sends the user's INVITEs to the
SIPp that is started there next (SIPp's UAS scenarios cannot register themselves)."""

from __future__ import annotations

import asyncio
import socket

from aiosipua import SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge

from callbridge.sip.message import parse_message

from .sipp import SIP_PORT as SIPP_PORT


async def register_sipp_phone(host: str, *, user: str, password: str, registrar_port: int) -> None:
    """Register ``user`` (``password``) at 127.0.0.1:``registrar_port`` with the contact
    ``host``:SIPp's port; AssertionError unless the registrar accepts it."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, SIPP_PORT))
        sock.setblocking(False)
        async with asyncio.timeout(5):
            registrar = ("127.0.0.1", registrar_port)
            sock.sendto(_register(host, user, registrar_port, 1), registrar)
            challenge = parse_message(await loop.sock_recv(sock, 65535))
            assert isinstance(challenge, SipResponse)
            assert challenge.status_code == 401
            uri = f"sip:127.0.0.1:{registrar_port}"
            answer = answer_challenge(
                SipDigestAuth(user, password), challenge, 401, "REGISTER", uri
            )
            assert answer is not None
            sock.sendto(_register(host, user, registrar_port, 2, answer[1]), registrar)
            ok = parse_message(await loop.sock_recv(sock, 65535))
            assert isinstance(ok, SipResponse)
            assert ok.status_code == 200, ok


def _register(host: str, user: str, port: int, cseq: int, authorization: str = "") -> bytes:
    auth_line = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{SIPP_PORT};branch=z9hG4bK-reg-{host}-{cseq}\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag=reg\r\nTo: <sip:{user}@127.0.0.1>\r\n"
        f"Call-ID: reg-{user}-{host}\r\nCSeq: {cseq} REGISTER\r\n"
        f"Contact: <sip:{user}@{host}:{SIPP_PORT}>\r\n{auth_line}"
        "Max-Forwards: 70\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
    ).encode()
