"""A carrier is not rate-limited as one phone (the real server, ``callbridge serve``): SIPp at
a trunk's address places more calls than ``[sip] pike_requests`` lets one source send, and
every one is answered and completes; the same INVITEs from an address that is no trunk's
hit the per-source limit (503, then dropped).  A trunk with ``max_requests_per_second``
gets 503 past it, each time (none dropped)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from peers.conftest import SippUacFactory, sipp_host
from peers.net import free_tcp_port
from raw_sip_peer import RawPeer, invite
from server_config import trunk
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

SIP_PORT = 5741
RTP_PORTS = (53250, 53399)
KEY = "trunk-pike-key-0123456789abcdef"
NUMBER = "+15550158"
PIKE_REQUESTS = 10
CALLS = 3 * PIKE_REQUESTS
STRANGER = "127.0.57.3"  # no trunk's address
METERED = "127.0.57.4"  # a trunk with a limit of its own


async def test_a_trunk_is_not_held_to_the_per_source_limit(
    tmp_path: Path, sipp_uac: SippUacFactory
) -> None:
    receiver = Receiver()
    receiver.documents["/app"] = '<Response><Pause length="10"/></Response>'
    await receiver.start()
    carrier = sipp_host()
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP_PORTS,
        node="trunk-pike-test",
        api_key=KEY,
        sip=f"pike_requests = {PIKE_REQUESTS}\npike_window_seconds = 60\n",
        more=f"""
{trunk(f"sip:{carrier}:5060")}
[[trunks]]
name = "metered"
uri = "sip:{METERED}:5060"
max_requests_per_second = 5
[[numbers]]
number = "{NUMBER}"
voice_url = "{receiver.url("/app")}"
api_key = "test"
""",
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        # The carrier: three times the per-source limit, all at once; SIPp hangs up first.
        run = sipp_uac(
            f"127.0.0.1:{SIP_PORT}",
            host=carrier,
            service=NUMBER[1:],
            calls=CALLS,
            rate=CALLS,
            pause_ms=300,
        )
        result = await run.run(timeout=60)
        assert result.ok, result.errors or result.stats
        assert result.successful == CALLS
        assert len(receiver.on("/app")) == CALLS

        # Anyone else sending the same: the per-source limit holds.
        async with RawPeer(STRANGER, 5060, target=("127.0.0.1", SIP_PORT)) as stranger:
            for n in range(CALLS):
                data = invite(n, host=STRANGER, port=5060, target="127.0.0.1")
                await stranger.send(data.replace(b"1002@", NUMBER[1:].encode() + b"@"))
            await asyncio.sleep(1.0)  # the dropped ones are never answered
            finals = list(stranger.finals().values())
        assert finals.count(503) == 1  # the first refused, with Retry-After; the rest dropped
        assert len(finals) == PIKE_REQUESTS + 1

        # A trunk with a limit of its own: past it 503, every time, none dropped.
        async with RawPeer(METERED, 5060, target=("127.0.0.1", SIP_PORT)) as metered:
            for n in range(CALLS):  # to no number: 404 when served
                await metered.send(invite(n, host=METERED, port=5060, target="127.0.0.1"))
            answers = await metered.wait_for({f"inv-{n}" for n in range(CALLS)}, timeout=10)
        assert len(answers) == CALLS
        refused = list(answers.values()).count(503)
        assert 0 < refused < CALLS  # 5 a second (a burst of 5): the first ones were served
    finally:
        await server.stop()
        await receiver.stop()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert f"SIP flood from {STRANGER}" in log
    assert f"SIP flood from {carrier}" not in log
