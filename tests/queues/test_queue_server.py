"""A queue through the real server (``callbridge serve``, uvloop): a baresip phone
registers as the member, a SIPp caller at the trunk's address calls the number routed to
the queue and is bridged to it; ``GET /api/v2/queues/{id}`` shows the answered call and
the member resting."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from peers.conftest import BaresipFactory, SippUacFactory
from peers.phones import registered_phone
from server_process import Server, write_config

pytestmark = pytest.mark.peers

KEY = "queue-server-key-0123456789abcdef"
SIP_PORT, HTTP_PORT = 5262, 5263


async def test_a_number_routed_to_a_queue_on_the_real_server(
    tmp_path: Path, baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=HTTP_PORT,
        rtp_ports=(48400, 48599),
        node="queue-test",
        api_key=KEY,
        more="""
[[users]]
extension = "1001"
password = "secret1001"
[[trunks]]
name = "carrier"
uri = "sip:127.0.10.2:5060"
default = true
inbound_addresses = ["127.0.10.0/24"]
[[projects]]
id = 1
[[queues]]
id = "sales"
project = 1
strategy = "roundrobin"
members = ["1001"]
wrapup = 30
announce_position_every = 0
overflow = '<Response><Forward><Target><Number>1001</Number></Target></Forward></Response>'
[[numbers]]
number = "+15550300"
queue = "sales"
""",
    )
    server = Server(config, HTTP_PORT, tmp_path / "server.log")
    await server.start()
    try:
        member = await registered_phone(
            baresip,
            "1001",
            registrar=f"127.0.0.1:{SIP_PORT}",
            password="secret1001",
            auto_answer=True,
        )
        run = sipp_uac(f"127.0.0.1:{SIP_PORT}", service="15550300", pause_ms=1000)
        result = await run.run()
        assert result.ok, result.errors or result.stats
        await member.wait_event("CALL_CLOSED", timeout=10)
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as client:
            queue = (await client.get("/api/v2/queues/sales")).json()
            unknown = await client.get("/api/v2/queues/nope")
        assert queue["answered"] == 1
        assert queue["members"] == [{"extension": "1001", "state": "wrapup", "answered": 1}]
        assert queue["averageWait"] is not None
        assert unknown.status_code == 404
    finally:
        await server.stop()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
