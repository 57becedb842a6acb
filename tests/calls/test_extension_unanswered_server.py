"""A registered phone calling an extension or a number nobody answers, on the real server
(``callbridge serve``): the caller gets what ``vocabulary.unanswered`` says for a call it
dialled itself (relayed).

- Extension 1002 has two phones (SIPp UASes registered as 1002), one busy (486) and one
  declining (603): both ring, and the caller (a baresip phone, 1001) gets 486 (busy beats
  declined).
- A number through the carrier trunk (a SIPp UAS) that answers 404: the phone gets the
  carrier's 404 (a number that does not exist); one that answers 503 (the carrier is
  unavailable): the phone gets 500, not a 503 that would say this server is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from peers.baresip import Baresip
from peers.conftest import BaresipFactory, SippUasFactory, sipp_host
from peers.net import free_tcp_port
from peers.phones import registered_phone
from peers.sipp import SCENARIOS, SippRun, UasMode
from peers.sipp_phone import register_sipp_phone
from server_config import trunk
from server_process import Server, write_config

pytestmark = pytest.mark.peers

SIP_PORT = 5800
RTP = (53800, 53999)
KEY = "extension-unanswered-key-0123456789"
PASSWORDS = {"1001": "secret1001", "1002": "secret1002"}
WAIT = 10.0


@dataclass(frozen=True)
class Pbx:
    server: Server
    carrier: str  # the host the default trunk sends numbers to (SIPp's port there)


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[Pbx]:
    http_port = free_tcp_port()
    carrier = sipp_host()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP,
        node="extension-unanswered",
        api_key=KEY,
        more=f"""
[[users]]
extension = "1001"
password = "{PASSWORDS["1001"]}"
[[users]]
extension = "1002"
password = "{PASSWORDS["1002"]}"
{trunk(f"sip:{carrier}:5060")}
""",
    )
    running = Server(config, http_port, tmp_path / "server.log")
    await running.start()
    yield Pbx(server=running, carrier=carrier)
    await running.stop()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


async def caller_phone(baresip: BaresipFactory) -> Baresip:
    return await registered_phone(
        baresip,
        "1001",
        registrar=f"127.0.0.1:{SIP_PORT}",
        password=PASSWORDS["1001"],
        timeout=WAIT,
        tone_hz=440.0,
    )


async def test_an_extension_whose_phones_are_busy_and_declining_gives_the_caller_486(
    pbx: Pbx, baresip: BaresipFactory, sipp_uas: SippUasFactory
) -> None:
    phones = []
    for mode in (UasMode.DECLINE, UasMode.BUSY):
        host = sipp_host()
        await register_sipp_phone(
            host, user="1002", password=PASSWORDS["1002"], registrar_port=SIP_PORT
        )
        phones.append(await sipp_uas(mode, host=host))
    caller = await caller_phone(baresip)
    await caller.dial(f"sip:1002@127.0.0.1:{SIP_PORT}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=WAIT)
    assert "486" in str(closed.get("param", "")), closed
    assert caller.recorded_wav is None  # never answered
    for phone, final in zip(phones, ("603 Decline", "486 Busy Here"), strict=True):
        trace = phone.message_file.read_text(errors="replace")
        assert "INVITE sip:1002@" in trace  # each phone was rung, and said no
        assert f"SIP/2.0 {final}" in trace


def carrier_answering(final: str, directory: Path) -> Path:
    """SIPp's uas_busy scenario answering ``final`` (e.g. "404 Not Found") after its 180."""
    text = (SCENARIOS / "uas_busy.xml").read_text()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"uas_{final.split()[0]}.xml"
    path.write_text(text.replace("486 Busy Here", final))
    return path


@pytest.mark.parametrize(
    ("carrier_final", "caller_gets"), [("404 Not Found", "404"), ("503 Service Unavailable", "500")]
)
async def test_a_number_the_carrier_refuses_gives_the_phone_the_carriers_answer(
    pbx: Pbx, baresip: BaresipFactory, tmp_path: Path, carrier_final: str, caller_gets: str
) -> None:
    scenario = carrier_answering(carrier_final, tmp_path / "scenarios")
    async with SippRun(scenario, workdir=tmp_path / "sipp", host=pbx.carrier, calls=None):
        caller = await caller_phone(baresip)
        await caller.dial(f"sip:+4930123456@127.0.0.1:{SIP_PORT}")
        closed = await caller.wait_event("CALL_CLOSED", timeout=WAIT)
    assert caller_gets in str(closed.get("param", "")), closed
