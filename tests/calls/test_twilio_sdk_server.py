"""The Twilio-compatible Calls API driven by Twilio's own Python SDK (``twilio``) against
the real server (``callbridge serve``), its base URL pointed at loopback: the SDK places a
call to a SIPp UAS with TwiML built by its ``VoiceResponse``, fetches, lists and hangs it
up; the status callbacks arrive at a real HTTP server with Twilio's parameters and pass the
SDK's ``RequestValidator``; errors come back as ``TwilioRestException`` with Twilio's
codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from peers.conftest import SippUasFactory
from peers.net import free_tcp_port
from peers.sipp import SippRun, UasMode
from server_process import Server, write_config
from webhook_receiver import Received, Receiver

pytestmark = pytest.mark.peers

API_KEY = "twilio-sdk-test-key-0123456789"
ACCOUNT = "test"  # the key's name in write_config: the AccountSid
SIP_PORT = 5095
TWILIO_BASE = "https://api.twilio.com"
EVENTS = ["initiated", "ringing", "answered", "completed"]


class LoopbackHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client with ``https://api.twilio.com`` rewritten to the server
    under test (and no proxy from the environment): nothing leaves loopback."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        assert self.session is not None
        self.session.trust_env = False
        self._base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        assert url.startswith(TWILIO_BASE), url
        return super().request(method, self._base_url + url[len(TWILIO_BASE) :], *args, **kwargs)


def sdk_client(server: Server, *, token: str = API_KEY, account_sid: str | None = None) -> Client:
    return Client(
        ACCOUNT, token, account_sid=account_sid, http_client=LoopbackHttpClient(server.url)
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(45600, 45799),
        node="twilio-sdk-test",
        api_key=API_KEY,
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    yield server
    await server.stop()


def statuses(receiver: Receiver, sid: str) -> list[Received]:
    return [r for r in receiver.on("/status") if r.form.get("CallSid") == sid]


async def test_the_sdk_places_fetches_lists_and_hangs_up_a_call_running_its_twiml(
    server: Server, receiver: Receiver, sipp_uas: SippUasFactory
) -> None:
    uas: SippRun = await sipp_uas(UasMode.ANSWER)
    receiver.documents["/after"] = '<Response><Pause length="60"/></Response>'
    twiml = VoiceResponse()
    twiml.say("Hello from the Twilio SDK.")
    twiml.pause(length=1)
    twiml.redirect(receiver.url("/after"))
    client = sdk_client(server)

    call = await asyncio.to_thread(
        client.calls.create,
        to=f"sip:service@{uas.address}",
        from_="+15550001",
        twiml=str(twiml),
        status_callback=receiver.url("/status"),
        status_callback_event=EVENTS,
        record=True,
    )
    assert call.sid.startswith("CA")
    assert len(call.sid) == 34
    assert call.account_sid == ACCOUNT
    assert call.status in ("queued", "ringing")
    assert call.direction == "outbound-api"
    assert call.api_version == "2010-04-01"
    assert call._from == "+15550001"
    assert call.to == f"sip:service@{uas.address}"
    assert call.date_created is not None
    assert call.date_created.tzinfo is not None
    assert call.uri == f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json"

    # The TwiML ran: its <Say> and <Pause>, then its <Redirect> fetched /after, with
    # Twilio's parameters, once the answered callback was out.
    await receiver.wait_for(lambda: bool(receiver.on("/after")), timeout=30)
    [fetch] = receiver.on("/after")
    assert fetch.form["CallSid"] == call.sid
    assert fetch.form["AccountSid"] == ACCOUNT
    assert fetch.form["CallStatus"] == "in-progress"
    assert fetch.form["Direction"] == "outbound-api"
    assert fetch.form["ApiVersion"] == "2010-04-01"
    validator = RequestValidator(API_KEY)
    assert validator.validate(
        receiver.url("/after"), fetch.form, fetch.headers["x-twilio-signature"]
    )
    answered = [r for r in statuses(receiver, call.sid) if r.form["CallStatus"] == "in-progress"]
    assert answered
    assert receiver.requests.index(answered[0]) < receiver.requests.index(fetch)

    fetched = await asyncio.to_thread(client.calls(call.sid).fetch)
    assert fetched.status == "in-progress"
    assert fetched.start_time is not None
    assert fetched.end_time is None
    assert fetched.duration is None

    listed = await asyncio.to_thread(client.calls.list, limit=20)
    assert call.sid in [each.sid for each in listed]
    live = await asyncio.to_thread(client.calls.list, status="in-progress", to=call.to)
    assert [each.sid for each in live] == [call.sid]

    # Update with Twiml: it replaces the running document (its <Redirect> shows it ran);
    # then with Url and Method=GET: that document, fetched with a signed query.
    replaced = VoiceResponse()
    replaced.say("Replaced.")
    replaced.redirect(receiver.url("/replaced"))
    receiver.documents["/replaced"] = '<Response><Pause length="60"/></Response>'
    updated = await asyncio.to_thread(client.calls(call.sid).update, twiml=str(replaced))
    assert updated.status == "in-progress"
    await receiver.wait_for(lambda: bool(receiver.on("/replaced")), timeout=15)
    receiver.documents["/by-url"] = '<Response><Pause length="60"/></Response>'
    await asyncio.to_thread(
        client.calls(call.sid).update, url=receiver.url("/by-url?step=3"), method="GET"
    )
    await receiver.wait_for(lambda: bool(receiver.on("/by-url")), timeout=15)
    [by_url] = receiver.on("/by-url")
    assert by_url.method == "GET"
    assert by_url.query_params["step"] == "3"
    assert by_url.query_params["CallSid"] == call.sid
    full_url = f"{receiver.url('/by-url')}?{by_url.query}"
    assert validator.validate(full_url, {}, by_url.headers["x-twilio-signature"])

    ended = await asyncio.to_thread(client.calls(call.sid).update, status="completed")
    assert ended.sid == call.sid
    await receiver.wait_for(
        lambda: any(r.form["CallStatus"] == "completed" for r in statuses(receiver, call.sid)),
        timeout=15,
    )
    final = await asyncio.to_thread(client.calls(call.sid).fetch)
    assert final.status == "completed"
    assert final.end_time is not None
    assert final.duration is not None
    assert int(final.duration) >= 1
    recordings = await asyncio.to_thread(client.calls(call.sid).recordings.list)
    assert len(recordings) == 1
    assert recordings[0].call_sid == call.sid
    async with httpx.AsyncClient(base_url=server.url, auth=(ACCOUNT, API_KEY)) as raw:
        audio = await raw.get(f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recordings[0].sid}.wav")
    assert audio.status_code == 200
    assert audio.content[:4] == b"RIFF"

    # Every callback: Twilio's parameters, signed so the SDK's validator accepts it.
    received = statuses(receiver, call.sid)
    assert [r.form["CallStatus"] for r in received] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [r.form["SequenceNumber"] for r in received] == ["0", "1", "2", "3"]
    for each in received:
        form = each.form
        assert form["AccountSid"] == ACCOUNT
        assert form["ApiVersion"] == "2010-04-01"
        assert form["Direction"] == "outbound-api"
        assert form["CallbackSource"]
        assert form["From"] == "+15550001"
        assert form["To"] == call.to
        assert form["Timestamp"].endswith("+0000")
        signature = each.headers["x-twilio-signature"]
        assert validator.validate(receiver.url("/status"), form, signature), form
        assert not RequestValidator("another-token").validate(
            receiver.url("/status"), form, signature
        )
        assert not validator.validate(receiver.url("/status"), {**form, "To": "x"}, signature)
    completed = received[-1].form
    assert int(completed["CallDuration"]) >= 1
    assert completed["SipResponseCode"] == "200"


async def test_errors_come_back_in_twilios_shape_with_its_codes(
    server: Server, sipp_uas: SippUasFactory
) -> None:
    busy: SippRun = await sipp_uas(UasMode.BUSY)
    client = sdk_client(server)

    with pytest.raises(TwilioRestException) as unknown:
        await asyncio.to_thread(client.calls("CA" + "0" * 32).fetch)
    assert (unknown.value.status, unknown.value.code) == (404, 20404)

    with pytest.raises(TwilioRestException) as bad_to:
        await asyncio.to_thread(
            client.calls.create, to="not a number", from_="+15550001", url="http://127.0.0.1/x"
        )
    assert (bad_to.value.status, bad_to.value.code) == (400, 21211)
    with pytest.raises(TwilioRestException) as no_url:
        await asyncio.to_thread(client.calls.create, to="+15550002", from_="+15550001")
    assert no_url.value.code == 21205
    with pytest.raises(TwilioRestException) as bad_twiml:
        await asyncio.to_thread(
            client.calls.create, to="+15550002", from_="+15550001", twiml="<Response><Say>"
        )
    assert bad_twiml.value.code == 12100

    # Two calls that end busy; the list pages through them one by one (next_page_uri).
    sids = []
    for _ in range(2):
        call = await asyncio.to_thread(
            client.calls.create,
            to=f"sip:service@{busy.address}",
            from_="+15550001",
            twiml="<Response><Hangup/></Response>",
        )
        sids.append(call.sid)
    for sid in sids:
        for _ in range(100):
            if (await asyncio.to_thread(client.calls(sid).fetch)).status == "busy":
                break
            await asyncio.sleep(0.1)
    paged = await asyncio.to_thread(client.calls.list, status="busy", page_size=1)
    assert sorted(each.sid for each in paged) == sorted(sids)
    first = await asyncio.to_thread(client.calls.page, status="busy", page_size=1)
    assert first.next_page_url is not None
    second = await asyncio.to_thread(first.next_page)
    assert second is not None
    assert sorted(each.sid for page in (first, second) for each in page) == sorted(sids)
    assert second.previous_page_url is not None
    assert second.next_page_url is None

    with pytest.raises(TwilioRestException) as ended:
        await asyncio.to_thread(client.calls(sids[0]).update, status="completed")
    assert (ended.value.status, ended.value.code) == (400, 21220)

    # Another account's URL: not found (the SDK raises TwilioRestException for a fetch; a
    # failed page of a list is its plain TwilioException).
    other = sdk_client(server, account_sid="someone-else")
    with pytest.raises(TwilioRestException) as foreign:
        await asyncio.to_thread(other.calls(sids[0]).fetch)
    assert (foreign.value.status, foreign.value.code) == (404, 20404)

    # A wrong auth token: 401 in Twilio's shape.
    wrong = sdk_client(server, token="not-the-key-0123456789")
    with pytest.raises(TwilioRestException) as refused:
        await asyncio.to_thread(wrong.calls(sids[0]).fetch)
    assert (refused.value.status, refused.value.code) == (401, 20003)
    async with httpx.AsyncClient(base_url=server.url) as raw:
        reply = await raw.get(f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json")
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].lower().startswith("basic")
    body = reply.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == 20003
    assert body["status"] == 401
