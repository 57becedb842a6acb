"""SIP over TCP on the real server (``callbridge serve``, on uvloop's event loop as in
production): SIPp with ``-t t1`` and baresip phones registered over TCP place and
receive calls (the server rings a phone on the connection it registered on), an outbound
API call reaches a SIPp UAS over TCP, and connections that only trickle
bytes (a slowloris) do not keep a real client out.  Under uvloop every TCP connection used
to be closed at once with a traceback, and outbound calls over TCP failed after 32 s."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from peers.baresip import Baresip
from peers.conftest import BaresipFactory, SippUacFactory, SippUasFactory
from peers.net import free_tcp_port
from peers.phones import registered_phone
from peers.sipp import UasMode
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "tcp-server-key-0123456789abcdef"
USERS = """
[[users]]
extension = "1001"
password = "secret1001"
[[users]]
extension = "1002"
password = "secret1002"
"""
WAIT = 15.0


async def start_server(tmp_path: Path, sip_keys: str = "") -> tuple[Server, str]:
    """The server with users 1001 and 1002; ``sip_keys`` are more lines of its [sip]."""
    sip_port, http_port = free_tcp_port(), free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=sip_port,
        http_port=http_port,
        rtp_ports=(44800, 44999),
        node="tcp-test",
        api_key=KEY,
        more=USERS,
    )
    config.write_text(config.read_text().replace("[sip]\n", f"[sip]\n{sip_keys}\n", 1))
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    return server, f"127.0.0.1:{sip_port}"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Server, str]]:
    server, address = await start_server(tmp_path)
    yield server, address
    await server.stop()
    assert_clean_log(tmp_path / "server.log")


def assert_clean_log(path: Path) -> None:
    text = path.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert "AssertionError" not in text


def registered_over(phone: Baresip) -> str:
    """The transport of the phone's last accepted REGISTER, from its log
    (``1001@127.0.0.1: {0/TCP/v4} 200 OK () [1 binding]``)."""
    lines = [line for line in phone.log_text().splitlines() if "200 OK" in line and "{" in line]
    assert lines, phone.log_text()[-2000:]
    return lines[-1].split("{", 1)[1].split("/")[1]


async def tcp_phone(baresip: BaresipFactory, user: str, registrar: str, **kw: object) -> Baresip:
    return await registered_phone(
        baresip,
        user,
        registrar=registrar,
        password=f"secret{user}",
        timeout=WAIT,
        transport="tcp",
        **kw,
    )


async def test_sipp_over_tcp_calls_a_phone_registered_over_tcp(
    served: tuple[Server, str], baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    _, registrar = served
    phone = await tcp_phone(baresip, "1001", registrar, auto_answer=True)
    result = await sipp_uac(registrar, service="1001", transport="t1", pause_ms=500).run()
    assert result.ok, result.errors or result.stats
    await phone.wait_event("CALL_CLOSED", timeout=WAIT)
    assert registered_over(phone) == "TCP"


async def test_a_phone_over_tcp_calls_a_phone_over_udp(
    served: tuple[Server, str], baresip: BaresipFactory
) -> None:
    _, registrar = served
    caller = await tcp_phone(baresip, "1001", registrar)
    callee = await registered_phone(
        baresip, "1002", registrar=registrar, password="secret1002", timeout=WAIT
    )
    assert (registered_over(caller), registered_over(callee)) == ("TCP", "UDP")
    await caller.dial(f"sip:1002@{registrar};transport=tcp")
    await callee.wait_event("CALL_INCOMING", timeout=WAIT)
    await callee.answer()
    await caller.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    await caller.hangup()
    await callee.wait_event("CALL_CLOSED", timeout=WAIT)


async def test_an_outbound_api_call_reaches_a_sipp_uas_over_tcp(
    served: tuple[Server, str], sipp_uas: SippUasFactory, receiver: Receiver
) -> None:
    server, _ = served
    uas = await sipp_uas(UasMode.ANSWER_THEN_BYE, transport="t1", bye_after_ms=500)
    receiver.documents["/app"] = '<Response><Pause length="5"/></Response>'
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
        created = await api.post(
            "/api/v2/calls",
            data={
                "to": f"sip:service@{uas.address};transport=tcp",
                "from": "15550001",
                "url": receiver.url("/app"),
                "statusCallback": receiver.url("/status"),
                "statusCallbackEvent": "answered completed",
            },
        )
        assert created.status_code == 201, created.text
    await receiver.wait_for(
        lambda: any(r.form.get("CallStatus") == "completed" for r in receiver.on("/status")),
        timeout=WAIT,
    )
    statuses = [r.form.get("CallStatus") for r in receiver.on("/status")]
    assert "in-progress" in statuses or "answered" in statuses, statuses
    result = await uas.stop()
    assert result.successful == 1, result.errors or result.stats


async def test_a_slowloris_over_tcp_does_not_keep_a_real_client_out(
    tmp_path: Path, baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    limits = "tcp_max_connections = 20\ntcp_max_per_source = 5\ntcp_read_seconds = 60"
    server, registrar = await start_server(tmp_path, limits)
    host, port = registrar.split(":")
    tricklers: list[socket.socket] = []
    try:
        phone = await registered_phone(
            baresip, "1001", registrar=registrar, password="secret1001", auto_answer=True
        )
        trickle = asyncio.create_task(slowloris(host, int(port), tricklers, sources=8, each=5))
        await asyncio.sleep(1.0)  # 40 connections trickling (and back when closed): table of 20
        try:
            for _ in range(3):
                uac = sipp_uac(registrar, service="1001", transport="t1", pause_ms=300)
                result = await uac.run()
                assert result.ok, result.errors or result.stats
                await phone.wait_event("CALL_CLOSED", timeout=WAIT)
        finally:
            trickle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await trickle
        assert len(tricklers) == 40
    finally:
        for sock in tricklers:
            sock.close()
        await server.stop()
    log_text = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log_text, log_text[-3000:]
    assert log_text.count("SIP/TCP connections closed") <= 6


async def slowloris(
    host: str, port: int, opened: list[socket.socket], *, sources: int, each: int
) -> None:
    """``sources`` * ``each`` connections from 127.0.30.x, each sending one byte of an
    INVITE's header every 0.1 s; one the server closes is opened again."""
    header = b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK" + b"a" * 500
    sources_of = [f"127.0.30.{n + 1}" for n in range(sources) for _ in range(each)]
    opened.extend([await trickler(source, host, port) for source in sources_of])
    offset = 0
    while True:
        byte = header[offset % len(header) : offset % len(header) + 1]
        for index, sock in enumerate(opened):
            try:
                sock.send(byte)
            except OSError:  # closed by the server (evicted, or refused): come back
                sock.close()
                with contextlib.suppress(OSError):
                    opened[index] = await trickler(sources_of[index], host, port)
        offset += 1
        await asyncio.sleep(0.1)


async def trickler(source: str, host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.bind((source, 0))
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return sock
