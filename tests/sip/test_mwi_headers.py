"""RFC 3842 bodies and RFC 6665 headers (pure)."""

from __future__ import annotations

import pytest
from aiosipua import SipRequest

from callbridge.sip.event_headers import (
    EventHeader,
    TerminationReason,
    accepts,
    active_state,
    event_value,
    parse_event,
    requested_expires,
    terminated_state,
)
from callbridge.sip.message import SipParseError
from callbridge.sip.message_summary import (
    MessageSummary,
    MessageSummaryError,
    parse_message_summary,
)


def request(**headers: str) -> SipRequest:
    message = SipRequest(method="SUBSCRIBE", uri="sip:1001@127.0.0.1")
    for name, value in headers.items():
        message.add_header(name.replace("_", "-"), value)
    return message


def test_summary_body_round_trip() -> None:
    summary = MessageSummary(account="sip:1001@pbx", new=2, old=8)
    assert summary.body() == (
        b"Messages-Waiting: yes\r\nMessage-Account: sip:1001@pbx\r\nVoice-Message: 2/8\r\n"
    )
    assert parse_message_summary(summary.body()) == summary
    none = MessageSummary(account="sip:1001@pbx", new=0, old=3)
    assert b"Messages-Waiting: no" in none.body()


def test_summary_parses_what_other_notifiers_send() -> None:
    parsed = parse_message_summary(
        "messages-waiting: YES\nVoice-Message: 1/0 (1/0)\nFax-Message: 4/4\n\nextra text"
    )
    assert (parsed.waiting, parsed.new, parsed.old, parsed.account) == (True, 1, 0, "")


@pytest.mark.parametrize(
    "body", ["", "Messages-Waiting: maybe", "Messages-Waiting: yes\nVoice-Message: two/1"]
)
def test_bad_summaries(body: str) -> None:
    with pytest.raises(MessageSummaryError):
        parse_message_summary(body)


def test_summary_refuses_negative_counts_and_line_breaks() -> None:
    with pytest.raises(ValueError, match="negative"):
        MessageSummary(account="sip:a@b", new=-1, old=0)
    with pytest.raises(ValueError, match="line break"):
        MessageSummary(account="sip:a@b\r\nX: y", new=0, old=0)


def test_event_header() -> None:
    assert parse_event(request()) is None
    assert parse_event(request(Event="Message-Summary")) == EventHeader("message-summary")
    assert parse_event(request(o="message-summary ; id=7")) == EventHeader("message-summary", "7")
    assert event_value(EventHeader("message-summary", "7")) == "message-summary;id=7"
    for bad in ("", "a b", "message-summary;id=", 'x;id="q"'):
        with pytest.raises(SipParseError):
            parse_event(request(Event=bad))
    twice = request(Event="message-summary")
    twice.add_header("Event", "presence")
    with pytest.raises(SipParseError, match="more than one"):
        parse_event(twice)


def test_expires() -> None:
    assert requested_expires(request(), default=3600) == 3600
    assert requested_expires(request(Expires=" 0 "), default=3600) == 0
    assert requested_expires(request(Expires="9999999999"), default=1) == 2**32 - 1
    for bad in ("-1", "1.5", "soon", "12345678901"):
        with pytest.raises(SipParseError):
            requested_expires(request(Expires=bad), default=1)


def test_accept() -> None:
    kind = "application/simple-message-summary"
    assert accepts(request(), kind)
    assert accepts(request(Accept="text/plain, application/simple-message-summary"), kind)
    assert accepts(request(Accept="application/*;q=0.5"), kind)
    assert accepts(request(Accept="*/*"), kind)
    assert not accepts(request(Accept="application/pidf+xml"), kind)


def test_subscription_state() -> None:
    assert active_state(300) == "active;expires=300"
    assert active_state(-2) == "active;expires=0"
    assert terminated_state(TerminationReason.TIMEOUT) == "terminated;reason=timeout"
