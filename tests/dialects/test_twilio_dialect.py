"""Twilio's wording of a call (pure): the signature as Twilio's own validator computes it,
the status-callback parameters per event, the Call resource's fields."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from twilio.request_validator import RequestValidator

from callbridge.dialects.twilio_callbacks import TwilioCallDialect
from callbridge.dialects.twilio_resource import call_resource, rfc2822
from callbridge.store.records import CallRecord, DeliveryRecord
from callbridge.webhooks.params import CallbackEvent, CallOutcome
from callbridge.webhooks.request import build_request
from callbridge.webhooks.twilio_signature import (
    TWILIO_SIGNATURE_HEADER,
    AuthTokens,
    TwilioWebhookSigner,
    twilio_signature,
)

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
TOKEN = "cbk_a_token_0123456789"


def record(**changes: object) -> CallRecord:
    values: dict[str, object] = {
        "sid": "CA" + "1" * 32,
        "api_key_id": "key_1",
        "parent_sid": None,
        "direction": "outbound",
        "from_": "+15550001",
        "to": "sip:bob@example.com",
        "status": "in-progress",
        "url": None,
        "method": "POST",
        "status_callback": "https://example.com/status",
        "status_callback_method": "POST",
        "status_callback_events": ("initiated", "completed"),
        "secret_key": None,
        "optional": None,
        "created_at": T0,
        "answered_at": T0 + timedelta(seconds=2),
        "ended_at": None,
        "duration": None,
        "hangup_cause": None,
        "hangup_by": None,
        "sip_code": None,
        "recording_url": None,
        "node": "n",
    }
    values.update(changes)
    return CallRecord(**values)  # type: ignore[arg-type]


def test_the_signature_is_the_one_twilios_validator_computes() -> None:
    params = {"CallSid": "CA1", "To": "+1 555", "Body": "ä&=", "A": ""}
    url = "https://example.com:8443/hook?x=1&y=%2B2"
    ours = twilio_signature(token=TOKEN, url=url, params=params)
    assert ours == RequestValidator(TOKEN).compute_signature(url, params)
    assert RequestValidator(TOKEN).validate(url, params, ours)
    assert not RequestValidator(TOKEN + "x").validate(url, params, ours)


def delivery(params: dict[str, str], method: str = "POST") -> DeliveryRecord:
    return DeliveryRecord(
        id=1,
        call_sid="CA1",
        seq=1,
        url="http://127.0.0.1:9/status?a=1",
        method=method,
        params=params,
        status="pending",
        attempts=0,
        next_attempt_at=T0,
        last_error=None,
        last_status_code=None,
        delivered_at=None,
    )


def test_the_webhook_signer_signs_twilio_calls_whose_token_it_knows() -> None:
    tokens = AuthTokens()
    tokens.learn("acme", TOKEN)
    sign = TwilioWebhookSigner(tokens=tokens)
    twilio = {"AccountSid": "acme", "ApiVersion": "2010-04-01", "CallSid": "CA1"}
    for method in ("POST", "GET"):
        item = delivery(twilio, method)
        request = sign(item, build_request(item, optional=None, signing_secret=None, timestamp=1))
        [signature] = [v for k, v in request.headers if k == TWILIO_SIGNATURE_HEADER]
        posted = twilio if method == "POST" else {}
        assert RequestValidator(TOKEN).validate(request.url, posted, signature)
    for params in (
        {"AccountSid": "acme", "ApiVersion": "v2"},  # Callbridge's own callbacks
        {"AccountSid": "stranger", "ApiVersion": "2010-04-01"},  # no token known
    ):
        item = delivery(params)
        request = build_request(item, optional=None, signing_secret=None, timestamp=1)
        assert sign(item, request) == request


def test_auth_tokens_are_bounded_and_the_newest_wins() -> None:
    tokens = AuthTokens(limit=2)
    tokens.learn("a", "1")
    tokens.learn("b", "2")
    tokens.learn("a", "3")
    tokens.learn("c", "4")  # forgets b, the longest unused
    assert (tokens.token_of("a"), tokens.token_of("b"), tokens.token_of("c")) == ("3", None, "4")


def test_callback_params_per_event_are_twilios() -> None:
    dialect = TwilioCallDialect(account_sid="acme", tokens=AuthTokens())
    call = record(status="queued", answered_at=None)
    initiated = dialect.callback_params(
        call, CallbackEvent.INITIATED, outcome=None, at=T0, sequence=0
    )
    assert initiated == {
        "CallSid": call.sid,
        "AccountSid": "acme",
        "From": "+15550001",
        "To": "sip:bob@example.com",
        "Caller": "+15550001",
        "Called": "sip:bob@example.com",
        "CallStatus": "initiated",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
        "Timestamp": "Tue, 04 Mar 2025 05:06:07 +0000",
        "SequenceNumber": "0",
        "CallbackSource": "call-progress-events",
    }
    ended = record(status="completed", duration=61, ended_at=T0 + timedelta(seconds=63))
    completed = dialect.callback_params(
        ended,
        CallbackEvent.COMPLETED,
        outcome=CallOutcome(outcome="failed", sip_code=200),
        at=T0,
        sequence=3,
    )
    assert completed["CallStatus"] == "completed"  # answered: completed, as at Twilio
    assert (completed["CallDuration"], completed["Duration"]) == ("61", "2")
    assert completed["SipResponseCode"] == "200"
    busy = dialect.callback_params(
        record(status="busy", answered_at=None, ended_at=T0),
        CallbackEvent.COMPLETED,
        outcome=CallOutcome(outcome="busy", sip_code=486),
        at=T0,
        sequence=1,
    )
    assert (busy["CallStatus"], busy["SipResponseCode"], busy["CallDuration"]) == (
        "busy",
        "486",
        "0",
    )
    child = dialect.document_params(record(parent_sid="CA" + "2" * 32))
    assert all(type(value) is str for value in child.values())  # the HTTP worker marshals them
    assert child["Direction"] == "outbound-dial"
    assert child["ParentCallSid"] == "CA" + "2" * 32


def test_document_headers_sign_only_with_a_known_token() -> None:
    tokens = AuthTokens()
    dialect = TwilioCallDialect(account_sid="acme", tokens=tokens)
    assert dialect.document_headers("https://example.com/app", {"CallSid": "CA1"}) == ()
    tokens.learn("acme", TOKEN)
    [(name, value)] = dialect.document_headers("https://example.com/app", {"CallSid": "CA1"})
    assert name == TWILIO_SIGNATURE_HEADER
    assert RequestValidator(TOKEN).validate("https://example.com/app", {"CallSid": "CA1"}, value)


def test_the_call_resource_in_twilios_terms() -> None:
    ongoing = call_resource(record(), account_sid="acme")
    assert ongoing["status"] == "in-progress"
    assert ongoing["start_time"] == rfc2822(T0) == "Tue, 04 Mar 2025 05:06:07 +0000"
    assert ongoing["date_updated"] == "Tue, 04 Mar 2025 05:06:09 +0000"
    assert (ongoing["end_time"], ongoing["duration"]) == (None, None)
    assert ongoing["api_version"] == "2010-04-01"
    done = call_resource(
        replace(record(), status="no-answer", answered_at=None, ended_at=T0), account_sid="acme"
    )
    assert (done["status"], done["duration"]) == ("no-answer", "0")
    legacy = call_resource(record(status="answered", direction="inbound"), account_sid="acme")
    assert (legacy["status"], legacy["direction"]) == ("in-progress", "inbound")
