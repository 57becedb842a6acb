"""``/metrics`` and the JSON log on the real server (``callbridge serve``): two calls to
SIPp (one answered and hung up by the callee, one busy) move the numbers (calls by
outcome, SIP requests and responses, webhook attempts, document fetches); every log line
is one JSON object, a call's lines carry its CallSid and leg, each call ends with one CDR
line, and each HTTP request has an ``X-Request-Id`` (the client's, or a new one)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from peers.net import free_tcp_port
from peers.sipp import SippRun, UasMode
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

API_KEY = "metrics-test-key-0123456789"
SIP_PORT = 5161
CARRIER = "127.0.10.161"
BUSY_PEER = "127.0.10.162"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(numbers: Samples, name: str, **labels: str) -> float:
    return numbers.get((name, tuple(sorted(labels.items()))), 0.0)


async def place(api: httpx.AsyncClient, to: str, receiver: Receiver) -> str:
    created = await api.post(
        "/api/v2/calls",
        data={
            "to": to,
            "from": "15550001",
            "url": receiver.url("/app"),
            "statusCallback": receiver.url("/status"),
            "statusCallbackEvent": "initiated answered completed",
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["CallSid"])


async def test_metrics_move_and_the_json_log_names_calls_and_requests(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.documents["/app"] = '<Response><Pause length="20"/></Response>'
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(46100, 46199),
        node="metrics-test",
        api_key=API_KEY,
        more=(
            'scopes = ["call", "metrics"]\n'
            '[log]\nformat = "json"\n'
            f'[[trunks]]\nname = "carrier"\nuri = "sip:{CARRIER}:5060"\ndefault = true\n'
        ),
    )
    log_path = tmp_path / "server.log"
    server = Server(config, http_port, log_path)
    callee = SippRun(UasMode.ANSWER_THEN_BYE, workdir=tmp_path, host=CARRIER, pause_ms=500)
    busy = SippRun(UasMode.BUSY, workdir=tmp_path, host=BUSY_PEER)
    await server.start()
    try:
        async with (
            callee,
            busy,
            httpx.AsyncClient(base_url=server.url, headers={"apikey": API_KEY}) as api,
        ):
            anonymous = await api.get("/metrics", headers={"apikey": ""})
            before = await api.get("/metrics", headers={"X-Request-Id": "scrape-1"})
            answered = await place(api, "15550100", receiver)
            refused = await place(api, f"sip:callee@{BUSY_PEER}:5060", receiver)
            await receiver.wait_for(
                lambda: (
                    sum(r.form.get("CallStatus") == "completed" for r in receiver.accepted) == 2
                ),
                timeout=20,
            )
            bearer = {"Authorization": f"Bearer {API_KEY}", "X-Request-Id": "bad id\x7f"}
            # A webhook's duration is counted once its response is read, which may be just
            # after the receiver has seen the request: scrape until the last one is in.
            for _ in range(100):
                after = await api.get("/metrics", headers=bearer)
                if after.status_code != 200 or webhooks_timed(after.text) >= 5 + webhooks_timed(
                    before.text
                ):
                    break
                await asyncio.sleep(0.05)
            await callee.wait(timeout=10)
    finally:
        await server.stop()

    assert anonymous.status_code == 401
    assert before.status_code == after.status_code == 200, after.text
    assert after.headers["content-type"].startswith("text/plain")
    old, new = samples(before.text), samples(after.text)

    def moved(name: str, **labels: str) -> float:
        return value(new, name, **labels) - value(old, name, **labels)

    assert moved("callbridge_calls_ended_total", outcome="completed") == 1
    assert moved("callbridge_calls_ended_total", outcome="busy") == 1
    assert moved("callbridge_sip_requests_received_total", method="BYE") == 1
    assert moved("callbridge_sip_responses_sent_total", code="200") >= 1
    # initiated, answered, completed; initiated, completed (the busy call)
    assert moved("callbridge_webhook_attempts_total") == 5
    assert value(new, "callbridge_webhook_failures_total") == 0
    assert moved("callbridge_webhook_duration_seconds_count") == 5
    assert moved("callbridge_document_fetch_attempts_total") == 1  # the answered call's
    assert moved("callbridge_document_fetch_duration_seconds_count") == 1
    assert value(new, "callbridge_calls_live") == 0
    assert value(new, "callbridge_legs_live") == 0
    assert value(new, "callbridge_sip_registrations") == 0
    assert ("callbridge_event_loop_lag_seconds", ()) in new
    assert value(new, "callbridge_http_worker_restarts_total") == 0

    # The request id: the client's when sane, else a new one; echoed and on its lines.
    assert before.headers["x-request-id"] == "scrape-1"
    made = after.headers["x-request-id"]
    assert len(made) == 32
    assert made != "scrape-1"

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any(
        "GET /metrics" in line["message"] and line["context"]["request_id"] == "scrape-1"
        for line in access
    )
    assert any(line.get("context", {}).get("request_id") == made for line in access)

    cdrs = {
        line["fields"]["call_sid"]: line for line in lines if line["logger"] == "callbridge.cdr"
    }
    assert set(cdrs) == {answered, refused}
    cdr: dict[str, Any] = cdrs[answered]["fields"]
    assert (cdr["from"], cdr["to"], cdr["direction"]) == ("15550001", "15550100", "outbound")
    assert (cdr["outcome"], cdr["sip_code"]) == ("completed", 200)
    assert isinstance(cdr["duration"], int)
    assert (cdrs[refused]["fields"]["outcome"], cdrs[refused]["fields"]["sip_code"]) == (
        "busy",
        486,
    )
    for sid, line in cdrs.items():
        assert line["context"]["call_sid"] == sid
        assert line["context"]["leg_id"]
    assert "Traceback" not in log_path.read_text()


def webhooks_timed(metrics: str) -> float:
    """How many webhook requests ``metrics`` has timed so far."""
    return value(samples(metrics), "callbridge_webhook_duration_seconds_count")
