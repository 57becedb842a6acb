"""GET/POST /api/v2/calls/{sid}, GET /api/v2/calls and GET /api/v2/recordings/{id}.wav."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from api_fakes import T0, FakeCalls, Keys, call_record

from callbridge.store.records import CallEventRecord, DeliveryRecord, RecordingRecord

HOOK = "https://app.example.com/events"


def add_calls(fake_calls: FakeCalls, keys: Keys, count: int, **changes: object) -> list[str]:
    sids = []
    for i in range(count):
        sid = f"CA{i:03d}"
        fake_calls.add(
            call_record(
                sid, api_key_id=keys.main.id, created_at=T0 + timedelta(seconds=i), **changes
            )
        )
        sids.append(sid)
    return sids


async def test_call_detail_has_legs_recordings_events_and_webhooks(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    parent = fake_calls.add(
        call_record(
            "CA-A",
            api_key_id=keys.main.id,
            status="completed",
            status_callback=HOOK,
            secret_key="do-not-show",
            answered_at=T0,
            ended_at=T0 + timedelta(seconds=62),
            duration=62,
            hangup_cause="hung_up",
            hangup_by="remote",
            sip_code=200,
            recording_url="https://cb.example.com/api/v2/recordings/7.wav",
        )
    )
    for i in range(2):
        fake_calls.add(
            call_record(
                f"CA-B{i}",
                api_key_id=keys.main.id,
                parent_sid="CA-A",
                created_at=T0 + timedelta(seconds=i + 1),
            )
        )
    fake_calls.events["CA-A"] = (
        CallEventRecord(call_sid="CA-A", seq=1, name="initiated", at=T0, data={"status": "x"}),
    )
    fake_calls.deliveries["CA-A"] = (
        DeliveryRecord(
            id=3,
            call_sid="CA-A",
            seq=1,
            url=HOOK,
            method="POST",
            params={"CallStatus": "initiated", "apikey": "do-not-show"},
            status="delivered",
            attempts=1,
            next_attempt_at=T0,
            last_error=None,
            last_status_code=200,
            delivered_at=T0,
        ),
    )
    fake_calls.recordings[7] = RecordingRecord(
        id=7, call_sid="CA-A", path="/nowhere.wav", duration=61.5, created_at=T0
    )
    response = await client.get("/api/v2/calls/CA-A")
    assert response.status_code == 200
    body = response.json()
    assert "do-not-show" not in response.text
    assert body["CallSid"] == parent.sid
    assert (body["status"], body["duration"], body["hangupCause"], body["sipCode"]) == (
        "completed",
        62,
        "hung_up",
        200,
    )
    assert body["answeredAt"] == "2025-01-01T12:00:00+00:00"
    assert body["endedAt"] == "2025-01-01T12:01:02+00:00"
    assert body["recordingUrl"] == parent.recording_url
    assert [c["CallSid"] for c in body["children"]] == ["CA-B0", "CA-B1"]
    assert body["children"][0]["ParentCallSid"] == "CA-A"
    assert body["recordings"] == [
        {
            "id": 7,
            "duration": 61.5,
            "createdAt": "2025-01-01T12:00:00+00:00",
            "link": "/api/v2/recordings/7.wav",
        }
    ]
    assert body["events"] == [
        {"seq": 1, "name": "initiated", "at": "2025-01-01T12:00:00+00:00", "data": {"status": "x"}}
    ]
    assert body["webhooks"][0]["event"] == "initiated"
    assert (body["webhooks"][0]["status"], body["webhooks"][0]["lastStatusCode"]) == (
        "delivered",
        200,
    )


async def test_unknown_or_another_keys_call_is_404(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    fake_calls.add(call_record("CA-OTHER", api_key_id=keys.other.id), live=True)
    for response in (
        await client.get("/api/v2/calls/CA-NONE"),
        await client.get("/api/v2/calls/CA-OTHER"),
        await client.post("/api/v2/calls/CA-OTHER", data={"Status": "completed"}),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["id"] == "call_not_found"
    assert fake_calls.hung_up == []


async def test_hang_up(client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys) -> None:
    fake_calls.add(call_record("CA1", api_key_id=keys.main.id, status="in-progress"), live=True)
    response = await client.post("/api/v2/calls/CA1", data={"status": "Completed"})
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert fake_calls.hung_up == ["CA1"]
    again = await client.post("/api/v2/calls/CA1", json={"Status": "completed"})
    assert again.status_code == 409
    assert again.json()["error"]["id"] == "call_not_live"


async def test_redirect(client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys) -> None:
    fake_calls.add(call_record("CA1", api_key_id=keys.main.id), live=True)
    fake_calls.add(call_record("CA2", api_key_id=keys.main.id), live=False)
    response = await client.post(
        "/api/v2/calls/CA1", data={"Url": "https://app.example.com/next.xml", "method": "get"}
    )
    assert response.status_code == 200
    assert response.json()["CallSid"] == "CA1"
    default = await client.post("/api/v2/calls/CA1", json={"url": "http://app.example.com/b"})
    assert default.status_code == 200
    assert fake_calls.redirected == [
        ("CA1", "https://app.example.com/next.xml", "GET"),
        ("CA1", "http://app.example.com/b", "POST"),
    ]
    ended = await client.post("/api/v2/calls/CA2", data={"Url": "http://app.example.com/b"})
    assert ended.status_code == 409


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({}, "Status"),
        ({"Status": "ringing"}, "Status"),
        ({"Status": "completed", "Url": "http://a.example/"}, "Status"),
        ({"Url": "not a url"}, "Url"),
        ({"Url": "http://a.example/", "Method": "PATCH"}, "Method"),
        ({"Method": "GET"}, "Method"),
    ],
)
async def test_bad_updates_are_400(
    client: httpx.AsyncClient,
    fake_calls: FakeCalls,
    keys: Keys,
    fields: dict[str, str],
    name: str,
) -> None:
    fake_calls.add(call_record("CA1", api_key_id=keys.main.id), live=True)
    response = await client.post("/api/v2/calls/CA1", data=fields)
    assert response.status_code == 400
    assert name in response.json()["error"]["fields"]
    assert (fake_calls.hung_up, fake_calls.redirected) == ([], [])


async def test_list_pages_newest_first_with_cursor(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    add_calls(fake_calls, keys, 5)
    fake_calls.add(call_record("CA-OTHER", api_key_id=keys.other.id))
    first = (await client.get("/api/v2/calls", params={"limit": "2"})).json()
    assert [c["CallSid"] for c in first["calls"]] == ["CA004", "CA003"]
    assert first["next"] == f"/api/v2/calls?limit=2&cursor={first['nextCursor']}"
    second = (await client.get(first["next"])).json()
    assert [c["CallSid"] for c in second["calls"]] == ["CA002", "CA001"]
    third = (await client.get(second["next"])).json()
    assert [c["CallSid"] for c in third["calls"]] == ["CA000"]
    assert (third["nextCursor"], third["next"]) == (None, None)


async def test_list_filters(client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys) -> None:
    add_calls(fake_calls, keys, 2)
    fake_calls.add(
        call_record(
            "CA-CHILD",
            api_key_id=keys.main.id,
            parent_sid="CA000",
            status="completed",
            from_="1001",
            to="sip:bob@example.com",
        )
    )

    async def sids(**params: str) -> list[str]:
        response = await client.get("/api/v2/calls", params=params)
        assert response.status_code == 200, response.text
        return [c["CallSid"] for c in response.json()["calls"]]

    assert await sids(status="COMPLETED") == ["CA-CHILD"]
    assert await sids(parent="CA000") == ["CA-CHILD"]
    assert await sids(ParentCallSid="CA000") == ["CA-CHILD"]
    assert await sids(to="sip:bob@example.com") == ["CA-CHILD"]
    assert await sids(**{"from": "1001"}) == ["CA-CHILD"]
    assert await sids(direction="inbound") == []
    assert await sids(status="queued", direction="outbound") == ["CA001", "CA000"]
    filtered = (await client.get("/api/v2/calls", params={"status": "queued", "limit": "1"})).json()
    assert filtered["next"].startswith("/api/v2/calls?status=queued&limit=1&cursor=")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"status": "exploded"}, "status"),
        ({"direction": "sideways"}, "direction"),
    ],
)
async def test_bad_list_queries_are_400(
    client: httpx.AsyncClient, params: dict[str, str], name: str
) -> None:
    response = await client.get("/api/v2/calls", params=params)
    assert response.status_code == 400
    assert name in response.json()["error"]["fields"]


async def test_recording_is_served_to_its_calls_key_only(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys, tmp_path: Path
) -> None:
    wav = tmp_path / "CA1-1.wav"
    wav.write_bytes(b"RIFF....WAVEfmt ")
    fake_calls.add(call_record("CA1", api_key_id=keys.main.id))
    fake_calls.add(call_record("CA2", api_key_id=keys.other.id))
    fake_calls.recordings[1] = RecordingRecord(
        id=1, call_sid="CA1", path=str(wav), duration=1.0, created_at=T0
    )
    fake_calls.recordings[2] = RecordingRecord(
        id=2, call_sid="CA2", path=str(wav), duration=1.0, created_at=T0
    )
    fake_calls.recordings[3] = RecordingRecord(
        id=3, call_sid="CA1", path=str(tmp_path / "gone.wav"), duration=1.0, created_at=T0
    )
    response = await client.get("/api/v2/recordings/1.wav")
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert response.content == wav.read_bytes()
    for missing in ("2", "3", "99", "abc", "1" * 40):
        response = await client.get(f"/api/v2/recordings/{missing}.wav")
        assert response.status_code == 404, missing
        assert response.json()["error"]["id"] == "recording_not_found"
