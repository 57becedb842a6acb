"""Strict SIP parsing (RFC 3261 §7, RFC 4475 torture style) and response building (§8.2.6)."""

from __future__ import annotations

import pytest
from aiosipua import SipRequest, SipResponse

from callbridge.sip.message import (
    MAX_MESSAGE_SIZE,
    Peer,
    SipParseError,
    build_ack,
    build_cancel,
    build_response,
    ensure_branch,
    new_branch,
    new_call_id,
    new_tag,
    parse_message,
    reason_phrase,
    record_source,
    response_to_malformed,
)

INVITE_HEADERS = [
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport",
    "Max-Forwards: 70",
    'From: "Alice" <sip:alice@example.com>;tag=9fxced76sl',
    "To: <sip:bob@example.com>",
    "Call-ID: 3848276298220188511@example.com",
    "CSeq: 2 INVITE",
    "Contact: <sip:alice@192.0.2.10:5060>",
]


def wire(start: str, headers: list[str], body: bytes = b"", *, length: bool = True) -> bytes:
    lines = [start, *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def invite(headers: list[str] | None = None, body: bytes = b"") -> bytes:
    return wire("INVITE sip:bob@example.com SIP/2.0", headers or INVITE_HEADERS, body)


def invite_with_length(value: str, body: bytes = b"") -> bytes:
    headers = [*INVITE_HEADERS, f"Content-Length: {value}"]
    return wire("INVITE sip:bob@example.com SIP/2.0", headers, body, length=False)


def without(name: str) -> list[str]:
    return [h for h in INVITE_HEADERS if not h.lower().startswith(name.lower() + ":")]


def replaced(name: str, value: str) -> list[str]:
    return [*without(name), f"{name}: {value}"]


# --- round trips ---

COMPACT = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9\r\n"
    b"f: <sip:alice@example.com>;tag=9fxced76sl\r\n"
    b"t: <sip:bob@example.com>\r\n"
    b"i: abc@example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Subject: folded\r\n  across lines\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\r\n"
)
CANONICAL = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9\r\n"
    b"From: <sip:alice@example.com>;tag=9fxced76sl\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: abc@example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Subject: folded across lines\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\r"
)


def test_compact_folded_request_serialises_canonically() -> None:
    message = parse_message(COMPACT)
    assert isinstance(message, SipRequest)
    assert bytes(message) == CANONICAL
    assert bytes(parse_message(CANONICAL)) == CANONICAL


def test_response_round_trip_is_byte_exact() -> None:
    raw = wire(
        "SIP/2.0 180 Ringing",
        [
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;received=192.0.2.10",
            "From: <sip:alice@example.com>;tag=9fxced76sl",
            "To: <sip:bob@example.com>;tag=8321234356",
            "Call-ID: abc@example.com",
            "CSeq: 1 INVITE",
        ],
    )
    message = parse_message(raw)
    assert isinstance(message, SipResponse)
    assert (message.status_code, message.reason_phrase) == (180, "Ringing")
    assert bytes(message) == raw


def test_leading_crlf_ignored_and_extra_body_cut() -> None:
    """§7.5 and §18.3: bytes beyond Content-Length in a datagram are discarded."""
    message = parse_message(b"\r\n\r\n" + invite(body=b"abcd") + b"trailing junk")
    assert message.body == b"abcd"


def test_rfc4475_tortuous_invite_is_accepted() -> None:
    """RFC 4475 §3.1.1.1 (wsinv), trimmed: LWS, folding, odd case, compact forms."""
    body = b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.3\r\n"
    head = (
        "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
        "TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
        'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n'
        "  ;\r\n  tag = 98asjd8\r\n"
        "MaX-fOrWaRdS: 0068\r\n"
        "Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
        f"Content-Length   : {len(body)}\r\n"
        "cseq: 0009\r\n  INVITE\r\n"
        "Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n"
        "s :\r\n"
        "NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
        "UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"
        "Content-Type: application/sdp\r\n"
        "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"
        "  branch  =   z9hG4bK9ikj8  ,\r\n"
        " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n"
        'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n'
        "      newvalue ;\r\n  secondparam ; q = 0.33\r\n"
        "\r\n"
    )
    message = parse_message(head.encode() + body)
    assert isinstance(message, SipRequest)
    assert [v.host for v in message.via] == ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
    assert message.via[1].branch == "z9hG4bK9ikj8"
    assert message.cseq is not None
    assert message.cseq.seq == 9
    assert message.body == body


# --- torture: everything below must be rejected ---

MALFORMED: dict[str, bytes] = {
    "garbage start line": b"HELLO\r\n\r\n",
    "binary junk": bytes(range(1, 200)),
    "empty": b"",
    "no blank line": invite()[:-4],
    "missing Via": invite(without("Via")),
    "missing From": invite(without("From")),
    "missing To": invite(without("To")),
    "missing Call-ID": invite(without("Call-ID")),
    "missing CSeq": invite(without("CSeq")),
    "empty Call-ID": invite(replaced("Call-ID", "")),
    "CSeq not a number": invite(replaced("CSeq", "two INVITE")),
    "CSeq without method": invite(replaced("CSeq", "2")),
    "CSeq too large": invite(replaced("CSeq", "36893488147419103232 INVITE")),
    "CSeq method mismatch": invite(replaced("CSeq", "2 OPTIONS")),
    "two CSeq": invite([*INVITE_HEADERS, "CSeq: 3 INVITE"]),
    "two Call-ID": invite([*INVITE_HEADERS, "Call-ID: other@example.com"]),
    "Content-Length not a number": wire(
        "OPTIONS sip:b@example.com SIP/2.0",
        [*without("CSeq"), "CSeq: 1 OPTIONS", "Content-Length: four"],
        length=False,
    ),
    "Content-Length negative": invite_with_length("-1"),
    "Content-Length beyond body": invite_with_length("9999", b"v=0\r\n"),
    "two Content-Length": invite([*INVITE_HEADERS, "l: 0"]),
    "Max-Forwards out of range": invite(replaced("Max-Forwards", "300")),
    "Via bad port": invite(replaced("Via", "SIP/2.0/UDP 192.0.2.10:50a0;branch=z9hG4bKx")),
    "Via no sent-by": invite(replaced("Via", "SIP/2.0/UDP")),
    "Via wrong protocol": invite(replaced("Via", "HTTP/1.1/TCP host;branch=z9hG4bKx")),
    "header without colon": invite([*INVITE_HEADERS, "NoColonHere"]),
    "space in Request-URI": wire("INVITE sip:bob @example.com SIP/2.0", INVITE_HEADERS),
    "double space in request line": wire("INVITE  sip:bob@example.com SIP/2.0", INVITE_HEADERS),
    "Request-URI without scheme": wire("INVITE bob SIP/2.0", INVITE_HEADERS),
    "status code too short": wire("SIP/2.0 20 OK", INVITE_HEADERS),
    "status code not a number": wire("SIP/2.0 2x0 OK", INVITE_HEADERS),
    "status code out of range": wire("SIP/2.0 700 Odd", INVITE_HEADERS),
    "unbalanced To": invite(replaced("To", "<sip:bob@example.com")),
    "unclosed Contact (issue 15)": invite(replaced("Contact", "<sip:alice@192.0.2.10")),
    "Contact closed before opened": invite(replaced("Contact", ">sip:alice@192.0.2.10<")),
    "empty Contact URI": invite(replaced("Contact", "<>")),
    "second Contact unclosed": invite(replaced("Contact", "<sip:a@192.0.2.10>, <sip:b@192.0.2.10")),
    "non-UTF-8 header": invite(replaced("Subject", "caf\xe9")).replace(b"caf\xc3\xa9", b"caf\xe9"),
    "NUL in header": invite(replaced("Subject", "a\x00b")),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_is_rejected(raw: bytes) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(raw)
    assert caught.value.status == 400


def test_unknown_version_is_505() -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(wire("INVITE sip:bob@example.com SIP/7.0", INVITE_HEADERS))
    assert caught.value.status == 505


def test_oversized_is_513() -> None:
    body = b"x" * MAX_MESSAGE_SIZE
    with pytest.raises(SipParseError) as caught:
        parse_message(invite(body=body))
    assert caught.value.status == 513


def test_response_to_malformed_request_is_addressed_back() -> None:
    raw = invite(replaced("CSeq", "2 OPTIONS"))
    with pytest.raises(SipParseError) as caught:
        parse_message(raw)
    response = response_to_malformed(raw, caught.value)
    assert response is not None
    assert response.status_code == 400
    assert response.get_header("call-id") == "3848276298220188511@example.com"
    parsed = parse_message(bytes(response))
    assert isinstance(parsed, SipResponse)
    assert parsed.status_code == 400


@pytest.mark.parametrize("raw", [MALFORMED["missing Via"], MALFORMED["garbage start line"]])
def test_no_response_when_unaddressable(raw: bytes) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(raw)
    assert response_to_malformed(raw, caught.value) is None


# --- building ---


def test_build_response_copies_and_tags() -> None:
    """§8.2.6.2: Via (all), From, To (+tag), Call-ID, CSeq."""
    request = parse_message(
        invite([*INVITE_HEADERS, "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKp"])
    )
    assert isinstance(request, SipRequest)
    response = build_response(
        request, 200, to_tag="t1", body=b"v=0\r\n", content_type="application/sdp"
    )
    parsed = parse_message(bytes(response))
    assert isinstance(parsed, SipResponse)
    assert parsed.reason_phrase == "OK"
    assert parsed.get_header_values("via") == request.get_header_values("via")
    assert parsed.get_header("to") == "<sip:bob@example.com>;tag=t1"
    assert parsed.get_header("cseq") == "2 INVITE"
    assert parsed.content_type == "application/sdp"
    assert parsed.body == b"v=0\r\n"
    in_dialog = parse_message(invite(replaced("To", "<sip:bob@example.com>;tag=t1")))
    assert isinstance(in_dialog, SipRequest)
    kept = build_response(in_dialog, 500, to_tag="other")
    assert kept.get_header("to") == "<sip:bob@example.com>;tag=t1"


def test_build_response_extra_headers_and_reason() -> None:
    request = parse_message(invite())
    assert isinstance(request, SipRequest)
    response = build_response(request, 503, headers={"Retry-After": "5"})
    assert response.reason_phrase == "Service Unavailable"
    assert response.get_header("retry-after") == "5"
    assert build_response(request, 499).reason_phrase == reason_phrase(499) == "Client Error"
    injected = build_response(request, 488, "Not Here\r\nX-Evil: 1")
    assert b"X-Evil" not in bytes(injected).split(b"\r\n")[1]


def test_cancel_and_ack_share_the_branch() -> None:
    """§9.1 and §17.1.1.3."""
    request = parse_message(invite([*INVITE_HEADERS, "Route: <sip:proxy.example.com;lr>"]))
    assert isinstance(request, SipRequest)
    cancel = build_cancel(request)
    assert (cancel.method, cancel.uri) == ("CANCEL", request.uri)
    assert cancel.get_header_values("via") == request.get_header_values("via")[:1]
    assert cancel.get_header("cseq") == "2 CANCEL"
    assert cancel.get_header("route") == "<sip:proxy.example.com;lr>"
    busy = build_response(request, 486, to_tag="b1")
    ack = build_ack(request, busy)
    assert ack.get_header("to") == "<sip:bob@example.com>;tag=b1"
    assert ack.get_header("cseq") == "2 ACK"
    assert isinstance(parse_message(bytes(ack)), SipRequest)


def test_record_source_adds_received_and_rport() -> None:
    """RFC 3581 §4: received is added even when it equals sent-by, when rport was asked."""
    request = parse_message(invite())
    assert isinstance(request, SipRequest)
    record_source(request, Peer(transport="udp", host="203.0.113.9", port=40000))
    top = request.via[0]
    assert (top.received, top.rport, top.branch) == ("203.0.113.9", "40000", "z9hG4bK74bf9")
    assert bytes(request).split(b"\r\n")[1].startswith(b"Via: ")


def test_ensure_branch_adds_via_when_missing() -> None:
    request = SipRequest(method="OPTIONS", uri="sip:b@example.com")
    request.add_header("To", "<sip:b@example.com>")
    branch = ensure_branch(request, transport="tcp", sent_by="192.0.2.1:5060")
    assert branch.startswith("z9hG4bK")
    assert request.get_header("via") == f"SIP/2.0/TCP 192.0.2.1:5060;branch={branch};rport"
    assert ensure_branch(request, transport="tcp", sent_by="x") == branch


def test_identifiers_are_unique() -> None:
    assert new_branch().startswith("z9hG4bK")
    assert len({new_branch() for _ in range(100)}) == 100
    assert len({new_tag() for _ in range(100)}) == 100
    assert new_call_id("192.0.2.1").endswith("@192.0.2.1")


def test_peer_is_a_frozen_keyword_value() -> None:
    peer = Peer(transport="tcp", host="::1", port=5060)
    assert peer == Peer(transport="tcp", host="::1", port=5060)
    assert len({peer, Peer(transport="tcp", host="::1", port=5060)}) == 1


@pytest.mark.parametrize(
    "contact",
    ["*", "sip:alice@192.0.2.10", '"Doe, J" <sip:a@192.0.2.10>;expires=60, <sip:b@h>'],
)
def test_well_formed_contacts_are_accepted(contact: str) -> None:
    message = parse_message(invite(replaced("Contact", contact)))
    assert ", ".join(message.get_header_values("contact")) == contact
