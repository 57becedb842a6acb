"""seed-004 plans (the contract's examples, its SIP addresses -- shown obfuscated in the
stored copy -- as user@host), their refusals, Basic auth from a
URL, the withheld caller and the notify signer (pure)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from callbridge.calls.control.caller_identity import caller_number
from callbridge.calls.control.credentials import authorized_url
from callbridge.calls.control.notify import NotifyAuthorization, call_id_of
from callbridge.calls.control.plan import (
    Forward,
    ForwardTarget,
    Hangup,
    PlanError,
    Queue,
    Reject,
    RejectReason,
)
from callbridge.calls.control.plan_parser import parse_plan
from callbridge.store.records import DeliveryRecord
from callbridge.webhooks.request import WebhookRequest

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def test_the_seed_examples() -> None:
    example_1 = HEAD + (
        "<Response>\n    <Forward>\n        <Target>\n"
        "            <Number>022129191999</Number>\n        </Target>\n    </Forward>\n</Response>"
    )
    assert parse_plan(example_1) == Forward(targets=(ForwardTarget(numbers=("022129191999",)),))
    example_3b = HEAD + (
        "<Response><Forward>"
        '<Target ringtime="30"><Number>777a@fpbx.de</Number>'
        "<Number>022129191999</Number></Target>"
        '<Target ringtime="45"><Number>777b@fpbx.de</Number><Number>777c@fpbx.de</Number>'
        "<Number>022199998560</Number></Target></Forward></Response>"
    )
    plan = parse_plan(example_3b)
    assert isinstance(plan, Forward)
    assert [t.ringtime for t in plan.targets] == [30.0, 45.0]
    assert plan.targets[1].numbers == ("777b@fpbx.de", "777c@fpbx.de", "022199998560")
    example_4 = HEAD + (
        '<Response><Forward music_on_hold="true" forward_announcement="7684">'
        "<Target><Number>777a@fpbx.de</Number></Target></Forward></Response>"
    )
    plan = parse_plan(example_4)
    assert isinstance(plan, Forward)
    assert plan.music_on_hold
    assert plan.forward_announcement == "7684"
    assert plan.voicemail  # the default
    example_5 = HEAD + '<Response><Forward voicemail="true" voicemail_announcement="4"/></Response>'
    assert parse_plan(example_5) == Forward(voicemail_announcement="4")
    assert parse_plan(HEAD + "<Response>\n    <Reject />\n</Response>") == Reject()
    busy = parse_plan(HEAD + '<Response><Reject reason="busy" /></Response>')
    assert busy == Reject(reason=RejectReason.BUSY)
    assert parse_plan(HEAD + "<Response><Hangup /></Response>") == Hangup()
    assert parse_plan(HEAD + '<Response><Queue queue_id="123" /></Response>') == Queue(
        queue_id="123"
    )


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "not xml",
        "<Response/>",
        "<Response><Dial>1001</Dial></Response>",
        "<Reply><Hangup/></Reply>",
        "<Response><Hangup/><Reject/></Response>",
        '<Response><Reject reason="maybe"/></Response>',
        "<Response><Queue/></Response>",
        '<Response><Forward><Target ringtime="-1"><Number>1</Number></Target></Forward></Response>',
        '<Response><Forward><Target ringtime="nan"><Number>1</Number></Target></Forward>'
        "</Response>",
        "<Response><Forward><Target/></Forward></Response>",
        "<Response><Forward><Target><Number>rm -rf</Number></Target></Forward></Response>",
        '<Response><Forward music_on_hold="loud"/></Response>',
        '<Response><Forward colour="red"/></Response>',
        '<!DOCTYPE r [<!ENTITY a "aaaa">]><Response><Hangup/></Response>',
        "<Response>" + "<Forward>" * 5000 + "</Forward>" * 5000 + "</Response>",
    ],
)
def test_anything_else_is_an_error(body: str) -> None:
    with pytest.raises(PlanError):
        parse_plan(body)


def test_basic_auth_leaves_the_url() -> None:
    split = authorized_url("https://user:s%40cret@crm.example.com/placetel?x=1")
    assert split.url == "https://crm.example.com/placetel?x=1"
    assert "cret" not in repr(split)
    ((name, value),) = split.headers
    assert name == "Authorization"
    assert base64.b64decode(value.removeprefix("Basic ")) == b"user:s@cret"
    assert authorized_url("http://127.0.0.1:9/x").headers == ()


def test_notify_deliveries_get_their_authorization() -> None:
    signer = NotifyAuthorization((authorized_url("http://u:p@127.0.0.1:9/notify"),))
    request = WebhookRequest(method="POST", url="http://127.0.0.1:9/notify", headers=(), body=b"")

    def delivery(url: str) -> DeliveryRecord:
        return DeliveryRecord(
            id=1,
            call_sid="CA1",
            seq=1,
            url=url,
            method="POST",
            params={},
            status="pending",
            attempts=0,
            last_status_code=None,
            last_error=None,
            next_attempt_at=datetime.now(UTC),
            delivered_at=None,
        )

    signed = signer(delivery("http://127.0.0.1:9/notify"), request)
    assert ("Authorization", "Basic " + base64.b64encode(b"u:p").decode()) in signed.headers
    assert signer(delivery("http://127.0.0.1:9/other"), request) == request


def test_withheld_callers_are_anonymous() -> None:
    assert caller_number(from_user="4922", from_host="carrier", privacy=None) == "4922"
    assert caller_number(from_user="4922", from_host="carrier", privacy="id") == "anonymous"
    assert caller_number(from_user="4922", from_host="c", privacy="header;id") == "anonymous"
    assert caller_number(from_user="Anonymous", from_host="c", privacy=None) == "anonymous"
    assert caller_number(from_user="x", from_host="anonymous.invalid", privacy=None) == "anonymous"
    assert caller_number(from_user="4922", from_host="c", privacy="none") == "4922"


def test_call_id_is_sha256_hex() -> None:
    call_id = call_id_of("CA0123")
    assert len(call_id) == 64
    assert call_id == call_id.lower()
    assert call_id == call_id_of("CA0123") != call_id_of("CA0124")
