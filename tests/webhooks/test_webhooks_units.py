"""Pure parts: signatures, request building, seed parameters, backoff schedule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

import pytest

from callbridge.store.records import CallRecord, DeliveryRecord
from callbridge.vocabulary import CallStatus
from callbridge.webhooks.backoff import Backoff
from callbridge.webhooks.errors import InvalidSignature, SignatureExpired
from callbridge.webhooks.params import (
    CallbackEvent,
    CallOutcome,
    callback_for,
    callback_timestamp,
    status_callback_params,
)
from callbridge.webhooks.request import append_query, build_request
from callbridge.webhooks.signing import SIGNATURE_HEADER, signature_header, verify

T0 = datetime(2025, 1, 1, tzinfo=UTC)
AT = datetime(2026, 12, 5, 14, 30, 1, 250_000, tzinfo=UTC)
SECRET = "whsec_test"


def delivery(*, url: str = "https://x.test/cb", method: str = "POST") -> DeliveryRecord:
    return DeliveryRecord(
        id=1,
        call_sid="CA1",
        seq=1,
        url=url,
        method=method,
        params={"CallSid": "CA1", "CallStatus": "ringing", "Called": "+1 555"},
        status="pending",
        attempts=0,
        next_attempt_at=T0,
        last_error=None,
        last_status_code=None,
        delivered_at=None,
    )


def call(**changes: object) -> CallRecord:
    record = CallRecord(
        sid="CA1",
        api_key_id=None,
        parent_sid=None,
        direction="outbound",
        from_="15550001111",
        to="19499300360",
        status=CallStatus.COMPLETED,
        url=None,
        method="POST",
        status_callback="https://x.test/cb",
        status_callback_method="GET",
        status_callback_events=("initiated", "Completed"),
        secret_key=None,
        optional=None,
        created_at=T0,
        answered_at=None,
        ended_at=None,
        duration=42,
        hangup_cause=None,
        hangup_by=None,
        sip_code=None,
        recording_url=None,
        node="n",
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def test_signature_round_trip_and_rotation() -> None:
    header = signature_header(secret=SECRET, timestamp=1000, payload=b"a=1")
    assert verify(header=header, payload=b"a=1", secret=SECRET, now=1100) == 1000
    rotated = header + ",v1=" + "0" * 64
    assert verify(header=rotated, payload=b"a=1", secret=SECRET, now=1000) == 1000


@pytest.mark.parametrize(
    ("header", "payload", "secret"),
    [
        ("t=1000,v1=" + "0" * 64, b"a=1", SECRET),
        (signature_header(secret=SECRET, timestamp=1000, payload=b"a=1"), b"a=2", SECRET),
        (signature_header(secret=SECRET, timestamp=1000, payload=b"a=1"), b"a=1", "other"),
        ("garbage", b"a=1", SECRET),
        ("t=1000", b"a=1", SECRET),
    ],
)
def test_bad_signatures_are_rejected(header: str, payload: bytes, secret: str) -> None:
    with pytest.raises(InvalidSignature):
        verify(header=header, payload=payload, secret=secret, now=1000)


def test_stale_signature_is_expired() -> None:
    header = signature_header(secret=SECRET, timestamp=1000, payload=b"")
    with pytest.raises(SignatureExpired):
        verify(header=header, payload=b"", secret=SECRET, now=1000 + 301)


def test_post_request_is_a_signed_form() -> None:
    request = build_request(delivery(), optional="?token=9", signing_secret=SECRET, timestamp=7)
    headers = dict(request.headers)
    assert (request.method, request.url) == ("POST", "https://x.test/cb?token=9")
    assert dict(parse_qsl(request.body.decode())) == delivery().params
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    verify(header=headers[SIGNATURE_HEADER], payload=request.body, secret=SECRET, now=7)


def test_get_request_carries_params_in_the_signed_query() -> None:
    request = build_request(
        delivery(url="https://x.test/cb?a=b", method="get"),
        optional="token=9",
        signing_secret=SECRET,
        timestamp=7,
    )
    base, _, query = request.url.partition("?")
    assert (request.method, base, request.body) == ("GET", "https://x.test/cb", b"")
    assert query.startswith("a=b&token=9&CallSid=CA1&")
    header = dict(request.headers)[SIGNATURE_HEADER]
    verify(header=header, payload=query.encode(), secret=SECRET, now=7)


def test_unsigned_without_secret() -> None:
    request = build_request(delivery(), optional=None, signing_secret=None, timestamp=7)
    assert SIGNATURE_HEADER not in dict(request.headers)
    assert request.url == "https://x.test/cb"


def test_append_query_keeps_fragment_and_existing_query() -> None:
    assert append_query("http://h/p?x=1#f", "&y=2") == "http://h/p?x=1&y=2#f"
    assert append_query("http://h/p", "") == "http://h/p"


def test_seed_params_on_completed_with_recording_and_secret() -> None:
    record = call(secret_key="k", recording_url="https://r/1.wav", parent_sid="CA0")
    outcome = CallOutcome(outcome=CallStatus.FAILED, sip_code=500)
    params = status_callback_params(record, CallbackEvent.COMPLETED, at=AT, outcome=outcome)
    assert params == {
        "Called": "19499300360",
        "ParentCallSid": "CA0",
        "CallStatus": "completed",
        "Direction": "Outbound",
        "CallSid": "CA1",
        "callSid": "CA1",
        "CallbackSource": "call-progress-event",
        "Timestamp": "Sat, 05 Dec 2026 14:30:01 +0000",
        "CallDuration": "42",
        "CallDurartion": "42",
        "CallOutcome": "failed",
        "SipResponseCode": "500",
        "RecordingURL": "https://r/1.wav",
        "apikey": "k",
    }


def test_completed_without_an_outcome_follows_the_call() -> None:
    busy = call(sip_code=486, status=CallStatus.BUSY)
    params = status_callback_params(busy, CallbackEvent.COMPLETED, at=AT)
    assert (params["CallOutcome"], params["SipResponseCode"]) == ("busy", "486")
    with pytest.raises(ValueError, match="unknown call outcome"):
        CallOutcome(outcome="hung_up", sip_code=200)  # type: ignore[arg-type]


def test_the_timestamp_is_rfc_2822_in_utc_whatever_the_zone_of_the_time() -> None:
    paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert callback_timestamp(paris) == "Sat, 05 Dec 2026 14:30:01 +0000"
    assert callback_timestamp(datetime(2026, 1, 9, 3, 4, 5, 999_999, tzinfo=UTC)) == (
        "Fri, 09 Jan 2026 03:04:05 +0000"
    )


def test_duration_and_recording_only_on_completed() -> None:
    params = status_callback_params(call(recording_url="u"), CallbackEvent.RINGING, at=AT)
    assert "CallDuration" not in params
    assert "RecordingURL" not in params
    assert params["ParentCallSid"] == "CA1"


def test_callback_only_for_subscribed_events() -> None:
    target = callback_for(call(), CallbackEvent.COMPLETED)
    assert target is not None
    assert (target.url, target.method) == ("https://x.test/cb", "GET")
    assert callback_for(call(), CallbackEvent.RINGING) is None
    assert callback_for(call(status_callback=None), CallbackEvent.COMPLETED) is None


def test_backoff_grows_caps_and_jitters() -> None:
    backoff = Backoff()
    assert [backoff.delay(n, 0.0) for n in (1, 2, 3, 9, 10, 500)] == [1, 2, 4, 256, 300, 300]
    assert backoff.delay(3, 0.999) == pytest.approx(4 * (1 - 0.2 * 0.999))
    assert not backoff.exhausted(11)
    assert backoff.exhausted(12)


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(base=0)
    with pytest.raises(ValueError, match="max_attempts"):
        Backoff(max_attempts=0)
