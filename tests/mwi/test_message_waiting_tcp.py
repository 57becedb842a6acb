"""A subscriber over TCP gets its 401, 200 and NOTIFYs on the connection it opened."""

from __future__ import annotations

import asyncio
import re

from aiosipua import SipRequest, SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge
from mwi_setup import MWI_HOST, MWI_PORT, Mailboxes

from callbridge.engine.engine import Engine
from callbridge.sip.message import build_response, parse_message
from callbridge.sip.message_summary import parse_message_summary

URI = f"sip:1001@{MWI_HOST}:{MWI_PORT}"


def subscribe(port: int, cseq: int, authorization: str = "") -> bytes:
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"SUBSCRIBE {URI};transport=tcp SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.30.50:{port};branch=z9hG4bK-tcp-{cseq}\r\n"
        f"From: <sip:1001@{MWI_HOST}>;tag=tcp1\r\nTo: <sip:1001@{MWI_HOST}>\r\n"
        f"Call-ID: mwi-tcp@127.0.30.50\r\nCSeq: {cseq} SUBSCRIBE\r\n"
        f"Contact: <sip:1001@127.0.30.50:{port};transport=tcp>\r\n"
        f"Event: message-summary\r\nExpires: 600\r\n{auth}Content-Length: 0\r\n\r\n"
    ).encode()


async def read(reader: asyncio.StreamReader) -> SipRequest | SipResponse:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    found = re.search(rb"content-length\s*:\s*(\d+)", head, re.I)
    body = await reader.readexactly(int(found.group(1))) if found else b""
    return parse_message(head + body)


async def test_subscription_over_tcp(mwi_engine: Engine, mailboxes: Mailboxes) -> None:
    reader, writer = await asyncio.open_connection(
        MWI_HOST, MWI_PORT, local_addr=("127.0.30.50", 0)
    )
    port = writer.get_extra_info("sockname")[1]
    try:
        writer.write(subscribe(port, 1))
        challenge = await read(reader)
        assert isinstance(challenge, SipResponse)
        assert challenge.status_code == 401
        answer = answer_challenge(
            SipDigestAuth("1001", "secret1001"), challenge, 401, "SUBSCRIBE", f"{URI};transport=tcp"
        )
        assert answer is not None
        writer.write(subscribe(port, 2, answer[1]))
        ok = await read(reader)
        assert isinstance(ok, SipResponse)
        assert ok.status_code == 200
        for expected in ((False, 0, 0), (True, 5, 0)):
            notify = await read(reader)
            assert isinstance(notify, SipRequest)
            assert notify.method == "NOTIFY"
            summary = parse_message_summary(notify.body)
            assert (summary.waiting, summary.new, summary.old) == expected
            writer.write(bytes(build_response(notify, 200)))
            mailboxes.of["1001"] = (5, 0)
            mwi_engine.message_waiting.mailbox_changed(["1001"])
        (subscription,) = mwi_engine.message_waiting.subscriptions_of("1001")
        assert subscription.peer.transport == "tcp"
    finally:
        writer.close()
