"""RFC 4028 negotiation, as pure functions over messages."""

from __future__ import annotations

import pytest
from aiosipua import SipRequest, SipResponse

from callbridge.sip.session_timer import (
    IntervalTooSmall,
    Refresher,
    SessionInterval,
    SessionTimerError,
    SessionTimerPolicy,
    accept_response,
    allows_update,
    answer_request,
    interval_after_422,
    negotiate,
    request_headers,
    response_headers,
)

POLICY = SessionTimerPolicy(session_expires=1800, min_se=90)


def invite(*headers: tuple[str, str]) -> SipRequest:
    request = SipRequest(method="INVITE", uri="sip:2000@192.0.2.1")
    for name, value in (
        ("Via", "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1"),
        ("From", "<sip:a@192.0.2.9>;tag=1"),
        ("To", "<sip:2000@192.0.2.1>"),
        ("Call-ID", "c1"),
        ("CSeq", "1 INVITE"),
        *headers,
    ):
        request.add_header(name, value)
    return request


def ok(*headers: tuple[str, str]) -> SipResponse:
    response = SipResponse(status_code=200, reason_phrase="OK")
    for name, value in headers:
        response.add_header(name, value)
    return response


@pytest.mark.parametrize(
    ("headers", "seconds", "refresher"),
    [
        ((), 1800, Refresher.UAS),  # no support: we apply ours and refresh it
        ((("Supported", "timer"),), 1800, Refresher.UAC),  # it supports: it refreshes
        ((("Supported", "100rel, timer"),), 1800, Refresher.UAC),
        ((("Supported", "timer"), ("Session-Expires", "600")), 600, Refresher.UAC),
        ((("Supported", "timer"), ("x", "600;refresher=uas")), 600, Refresher.UAS),
        ((("Supported", "timer"), ("Session-Expires", "7200")), 1800, Refresher.UAC),  # lowered
        ((("Session-Expires", "7200"), ("Min-SE", "3600")), 3600, Refresher.UAS),  # not below
        ((("Session-Expires", "300;refresher=uac"),), 300, Refresher.UAS),  # no support: us
    ],
)
def test_the_uas_takes_the_request_interval_within_its_policy(
    headers: tuple[tuple[str, str], ...], seconds: int, refresher: Refresher
) -> None:
    interval = answer_request(invite(*headers), POLICY)
    assert interval == SessionInterval(seconds=seconds, refresher=refresher)


def test_an_interval_below_our_min_se_is_refused_with_422() -> None:
    request = invite(("Supported", "timer"), ("Session-Expires", "60"))
    with pytest.raises(IntervalTooSmall) as caught:
        answer_request(request, POLICY)
    assert caught.value.min_se == 90
    interval, refusal = negotiate(request, POLICY)
    assert interval is None
    assert refusal is not None
    assert (refusal.status_code, refusal.get_header("min-se")) == (422, "90")


@pytest.mark.parametrize(
    "value", ["abc", "", "0", "-5", "99999999999", "600;refresher=nobody", "1e3"]
)
def test_a_malformed_session_expires_is_a_400(value: str) -> None:
    with pytest.raises(SessionTimerError):
        answer_request(invite(("Session-Expires", value)), POLICY)
    _, refusal = negotiate(invite(("Session-Expires", value)), POLICY)
    assert refusal is not None
    assert refusal.status_code == 400


def test_timers_off_apply_nothing_and_refuse_nothing() -> None:
    off = SessionTimerPolicy(session_expires=0)
    assert answer_request(invite(("Session-Expires", "1")), off) is None
    assert request_headers(off) == []
    assert accept_response(ok(("Session-Expires", "90")), off) is None


def test_the_2xx_names_the_interval_and_requires_timer_of_a_uac_that_supports_it() -> None:
    interval = SessionInterval(seconds=600, refresher=Refresher.UAC)
    with_support = response_headers(interval, invite(("Supported", "timer")))
    assert ("Session-Expires", "600;refresher=uac") in with_support
    assert ("Require", "timer") in with_support
    assert ("Require", "timer") not in response_headers(interval, invite())
    assert response_headers(None, invite()) == []


def test_our_requests_ask_for_our_interval_and_refreshes_name_us() -> None:
    assert dict(request_headers(POLICY)) == {
        "Supported": "timer",
        "Session-Expires": "1800",
        "Min-SE": "90",
    }
    refresh = dict(request_headers(POLICY, seconds=600, refresh=True))
    assert refresh["Session-Expires"] == "600;refresher=uac"
    assert dict(request_headers(POLICY, seconds=120, min_se=120))["Min-SE"] == "120"


def test_the_uac_reads_the_2xx() -> None:
    # A peer that supports timers turns them off by answering without one (RFC 4028 §7.2);
    # one that knows nothing of them keeps the interval asked for, and we refresh it.
    assert accept_response(ok(("Supported", "timer")), POLICY) is None
    assert accept_response(ok(), POLICY) == SessionInterval(seconds=1800, refresher=Refresher.UAC)
    assert accept_response(ok(), POLICY, asked=600) == (
        SessionInterval(seconds=600, refresher=Refresher.UAC)
    )
    assert accept_response(ok(("Session-Expires", "900;refresher=uas")), POLICY) == (
        SessionInterval(seconds=900, refresher=Refresher.UAS)
    )
    assert accept_response(ok(("Session-Expires", "900")), POLICY) == (
        SessionInterval(seconds=900, refresher=Refresher.UAC)
    )


def test_a_422_asks_again_with_its_min_se_only_when_larger() -> None:
    assert interval_after_422(ok(("Min-SE", "1900")), 1800) == 1900
    assert interval_after_422(ok(("Min-SE", "1800")), 1800) is None
    assert interval_after_422(ok(("Min-SE", "x")), 1800) is None
    assert interval_after_422(ok(), 1800) is None


def test_delays() -> None:
    interval = SessionInterval(seconds=1800, refresher=Refresher.UAC)
    assert (interval.refresh_delay, interval.expiry_delay) == (900, 1768)
    short = SessionInterval(seconds=90, refresher=Refresher.UAC)
    assert short.expiry_delay == 60


def test_allows_update() -> None:
    assert allows_update(invite(("Allow", "INVITE, ACK, BYE, update")))
    assert not allows_update(invite(("Allow", "INVITE, ACK, BYE")))
    assert not allows_update(invite())
