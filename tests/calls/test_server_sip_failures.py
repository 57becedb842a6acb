"""Issue 15 (2, 3, 10) against the real server (``callbridge serve``: uvloop, the HTTP
worker): broken INVITEs and a stream of wrong REGISTERs from one address are each answered,
and leave the server answering everyone else, with ``/health`` ok and no traceback logged."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from peers.net import free_tcp_port
from raw_sip_peer import RawPeer, invite, register
from server_process import Server, write_config

pytestmark = pytest.mark.peers

API_KEY = "sip-failures-test-key-0123456789"
SIP_PORT = 5078
ATTACKER = "127.0.32.1"
OTHER = "127.0.32.2"
USERS = '[[users]]\nextension = "1001"\npassword = "secret1001"\n'
BOGUS = (
    'Digest username="1001", realm="callbridge", nonce="x.y.z", uri="sip:127.0.0.1", '
    'response="00000000000000000000000000000000"'
)


async def test_broken_requests_are_answered_and_leave_the_server_serving(tmp_path: Path) -> None:
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(44600, 44799),
        node="sip-failures",
        api_key=API_KEY,
        # The flood guards would shed this sender long before its 1027th failure (they
        # have tests of their own); off here, so the registrar's back-off is what is tried.
        sip="pike_requests = 0\nauth_failures_per_address = 100000\n"
        "auth_failures_per_user = 100000\n",
        more=USERS,
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    target = ("127.0.0.1", SIP_PORT)
    try:
        async with RawPeer(ATTACKER, 5099, target=target) as attacker:
            broken = f"<sip:x@{ATTACKER}:5099"  # '<' and no '>': a traceback in _uri_of
            for n in range(150):
                await attacker.send(invite(n, host=ATTACKER, port=5099, contact=broken))
            for n in range(150, 160):  # m=audio 70000
                await attacker.send(invite(n, host=ATTACKER, port=5099, rtp_port=70000))
            for n in range(1100):  # past the 1027 failures that overflowed the back-off
                await attacker.send(register(n, host=ATTACKER, port=5099, authorization=BOGUS))
            finals = await attacker.wait_for({f"inv-{n}" for n in range(160)}, timeout=20)
            invites = {k: v for k, v in finals.items() if k.startswith("inv-")}
            finals = await attacker.wait_for({f"reg-{n}" for n in range(1100)}, timeout=30)
            registers = {k: v for k, v in finals.items() if k.startswith("reg-")}
        assert sorted(set(invites.values())) == [400, 488]
        assert [n for n in range(150) if invites.get(f"inv-{n}") != 400] == []
        assert len(registers) == 1100
        assert set(registers.values()) == {401}
        async with RawPeer(OTHER, 5099, target=target) as other:
            await other.send(register(5000, host=OTHER, port=5099))
            assert await other.wait_for({"reg-5000"}, timeout=5) == {"reg-5000": 401}
        async with httpx.AsyncClient(base_url=server.url) as client:
            health = await client.get("/health")
        assert health.status_code == 200, health.text
    finally:
        await server.stop()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]
