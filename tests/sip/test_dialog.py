"""Dialog construction and in-dialog routing (RFC 3261 §12.1, §12.2.1.1, §16.12)."""

from __future__ import annotations

import json

import pytest
from aiosipua import SipRequest, SipResponse

from callbridge.sip.dialog import Dialog, DialogSnapshot, LocalContact
from callbridge.sip.message import Peer

LOCAL = LocalContact(host="127.0.0.1", port=5071, transport="udp")


def _invite() -> SipRequest:
    request = SipRequest(method="INVITE", uri="sip:1001@127.0.10.2")
    request.add_header("Via", "SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKx")
    request.add_header("From", '"Shop" <sip:100@127.0.0.1>;tag=ours')
    request.add_header("To", "<sip:1001@127.0.10.2>")
    request.add_header("Call-ID", "c1")
    request.add_header("CSeq", "2 INVITE")
    request.add_header("Contact", "<sip:100@127.0.0.1:5071>")
    return request


def _ok(record_route: list[str]) -> SipResponse:
    response = SipResponse(status_code=200, reason_phrase="OK")
    response.add_header("From", '"Shop" <sip:100@127.0.0.1>;tag=ours')
    response.add_header("To", "<sip:1001@127.0.10.2>;tag=theirs")
    response.add_header("Call-ID", "c1")
    response.add_header("CSeq", "2 INVITE")
    response.add_header("Contact", "<sip:1001@127.0.10.9:5080;transport=tcp>")
    for route in record_route:
        response.add_header("Record-Route", route)
    return response


def test_uac_dialog_targets_the_contact_without_routes() -> None:
    dialog = Dialog.as_uac(request=_invite(), response=_ok([]), local=LOCAL)
    assert dialog.key == ("c1", "ours", "theirs")
    assert dialog.next_hop() == Peer(transport="tcp", host="127.0.10.9", port=5080)
    bye = dialog.create_request("BYE")
    assert bye.uri == "sip:1001@127.0.10.9:5080;transport=tcp"
    assert bye.get_header("cseq") == "3 BYE"
    assert "tag=theirs" in (bye.get_header("to") or "")
    assert "tag=ours" in (bye.get_header("from") or "")


def test_uac_route_set_is_record_route_reversed_and_loose_routed() -> None:
    response = _ok(["<sip:127.0.40.2:5062;lr>", "<sip:127.0.40.1:5061;lr>"])
    dialog = Dialog.as_uac(request=_invite(), response=response, local=LOCAL)
    assert dialog.next_hop() == Peer(transport="udp", host="127.0.40.1", port=5061)
    ack = dialog.create_request("ACK", cseq=2)
    assert ack.get_header_values("route") == [
        "<sip:127.0.40.1:5061;lr>",
        "<sip:127.0.40.2:5062;lr>",
    ]
    assert ack.get_header("cseq") == "2 ACK"
    assert ack.uri == "sip:1001@127.0.10.9:5080;transport=tcp"


def test_uas_dialog_keeps_record_route_order_and_checks_cseq() -> None:
    invite = _invite()
    invite.add_header("Record-Route", "<sip:127.0.40.1:5061;lr>")
    dialog = Dialog.as_uas(request=invite, local_tag="mine", local=LOCAL)
    assert dialog.key == ("c1", "mine", "ours")
    assert dialog.next_hop() == Peer(transport="udp", host="127.0.40.1", port=5061)
    bye = SipRequest(method="BYE", uri="sip:x")
    bye.add_header("CSeq", "3 BYE")
    assert dialog.accepts_remote_cseq(bye)
    stale = SipRequest(method="INFO", uri="sip:x")
    stale.add_header("CSeq", "1 INFO")
    assert not dialog.accepts_remote_cseq(stale)


def _lines(request: SipRequest) -> list[bytes]:
    """The request's lines but Via (its branch is new for each request)."""
    return [line for line in bytes(request).split(b"\r\n") if not line.startswith(b"Via:")]


def test_a_snapshot_through_json_builds_the_same_in_dialog_requests() -> None:
    response = _ok(["<sip:127.0.40.2:5062;lr>", "<sip:127.0.40.1:5061;lr>"])
    dialog = Dialog.as_uac(request=_invite(), response=response, local=LOCAL)
    stored = json.loads(json.dumps(dialog.snapshot().to_json()))
    again = DialogSnapshot.from_json(stored).dialog(local=LOCAL)
    assert again.next_hop() == dialog.next_hop()
    original, rebuilt = dialog.create_request("BYE", cseq=9), again.create_request("BYE", cseq=9)
    assert _lines(rebuilt) == _lines(original)
    assert b'From: "Shop" <sip:100@127.0.0.1>;tag=ours' in _lines(rebuilt)
    assert b"Route: <sip:127.0.40.1:5061;lr>" in _lines(rebuilt)


@pytest.mark.parametrize(
    "change",
    [
        {"call_id": 5},
        {"transport": "sctp"},
        {"route_set": "<sip:proxy;lr>"},
        {"route_set": [1]},
        {"local_seq": "2"},
        {"local_seq": True},
        {"local_seq": 2**31},
        {"local_display": 3},
    ],
)
def test_a_snapshot_that_to_json_cannot_have_written_is_refused(change: dict[str, object]) -> None:
    good = Dialog.as_uac(request=_invite(), response=_ok([]), local=LOCAL).snapshot().to_json()
    with pytest.raises(ValueError, match="dialog snapshot"):
        DialogSnapshot.from_json({**good, **change})
    missing = dict(good)
    del missing["remote_tag"]
    with pytest.raises(ValueError, match="not a dialog snapshot"):
        DialogSnapshot.from_json(missing)
