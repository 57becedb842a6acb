"""send_bye (RFC 3261 §15.1.1): it returns as soon as the BYE is handed to its transaction;
until the BYE's final answer the dialog answers a crossing BYE 200 and anything else 481,
then it is forgotten (whatever the answer: 200, 481, Timer F's 408, or the layer closing)."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from aiosipua import SipRequest, SipResponse

from callbridge.engine.bye import byes_answered, send_bye
from callbridge.engine.ports import DialogHandler, SipStack
from callbridge.sip.dialog import Dialog, LocalContact
from callbridge.sip.message import Peer, build_response
from callbridge.sip.transaction import ServerTransaction

LOCAL = LocalContact(host="127.0.0.1", port=5071, transport="udp")
PEER = Peer(transport="udp", host="127.0.10.2", port=5060)
KEY = ("c1", "ours", "theirs")


def _dialog() -> Dialog:
    invite = SipRequest(method="INVITE", uri="sip:1001@127.0.10.2")
    invite.add_header("From", "<sip:100@127.0.0.1>;tag=ours")
    invite.add_header("To", "<sip:1001@127.0.10.2>")
    invite.add_header("Call-ID", "c1")
    invite.add_header("CSeq", "1 INVITE")
    ok = SipResponse(status_code=200, reason_phrase="OK")
    ok.add_header("To", "<sip:1001@127.0.10.2>;tag=theirs")
    ok.add_header("Contact", "<sip:1001@127.0.10.2:5060>")
    return Dialog.as_uac(request=invite, response=ok, local=LOCAL)


class Transaction:
    def __init__(self, request: SipRequest) -> None:
        self.request = request
        self.final: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()


class Stack:
    """The part of the SIP stack send_bye uses."""

    def __init__(self) -> None:
        self.dialogs: dict[tuple[str, str, str], DialogHandler] = {}
        self.sent: list[Transaction] = []

    def register_dialog(self, key: tuple[str, str, str], handler: DialogHandler) -> None:
        self.dialogs[key] = handler

    def unregister_dialog(self, key: tuple[str, str, str]) -> None:
        self.dialogs.pop(key, None)

    def send_request(self, request: SipRequest, peer: Peer) -> Transaction:
        self.sent.append(Transaction(request))
        return self.sent[-1]


class Answers:
    """A server transaction that records its responses."""

    def __init__(self) -> None:
        self.statuses: list[int] = []

    def respond(self, response: SipResponse) -> None:
        self.statuses.append(response.status_code)


def _from_peer(method: str, cseq: int) -> SipRequest:
    request = SipRequest(method=method, uri="sip:100@127.0.0.1:5071")
    request.add_header("Via", "SIP/2.0/UDP 127.0.10.2:5060;branch=z9hG4bK-peer")
    request.add_header("From", "<sip:1001@127.0.10.2>;tag=theirs")
    request.add_header("To", "<sip:100@127.0.0.1>;tag=ours")
    request.add_header("Call-ID", "c1")
    request.add_header("CSeq", f"{cseq} {method}")
    return request


@pytest.mark.parametrize("answer", [200, 481, 408, None])
async def test_the_dialog_stands_in_until_the_bye_is_answered(answer: int | None) -> None:
    stack = Stack()
    send_bye(cast(SipStack, stack), _dialog())  # not awaited: nothing waits for the answer
    [bye] = stack.sent
    assert bye.request.method == "BYE"
    handler = stack.dialogs[KEY]
    for method, cseq, status in (("BYE", 2, 200), ("INFO", 3, 481), ("INVITE", 4, 481)):
        answers = Answers()
        handler.on_request(_from_peer(method, cseq), cast(ServerTransaction, answers), PEER)
        assert answers.statuses == [status], method
    handler.on_request(_from_peer("ACK", 4), None, PEER)  # nothing to answer
    if answer is None:
        bye.final.cancel()  # the transaction layer closed
    else:
        bye.final.set_result(build_response(bye.request, answer))
    await asyncio.sleep(0)
    assert KEY not in stack.dialogs


async def test_a_2xx_retransmitted_after_the_bye_is_not_acked_again() -> None:
    stack = Stack()
    send_bye(cast(SipStack, stack), _dialog())
    stack.dialogs[KEY].on_retransmitted_2xx(SipResponse(status_code=200), PEER)
    assert len(stack.sent) == 1  # the BYE only


async def test_a_closing_stack_waits_for_its_byes_answers_up_to_a_bound() -> None:
    stack = Stack()
    send_bye(cast(SipStack, stack), _dialog())
    [bye] = stack.sent
    others: list[object] = [object()]  # a live dialog's handler: not waited for
    waiting = asyncio.ensure_future(byes_answered([*others, *stack.dialogs.values()], timeout=30))
    await asyncio.sleep(0)
    assert not waiting.done()
    bye.final.set_result(build_response(bye.request, 200))
    await waiting  # returns once answered
    send_bye(cast(SipStack, stack), _dialog())
    await byes_answered(stack.dialogs.values(), timeout=0.01)  # never answered: the bound
    assert not stack.sent[-1].final.done()
