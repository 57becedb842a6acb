"""parse_voice_xml: documents translated into programs, and clear errors for invalid ones."""

from __future__ import annotations

import pytest

from callbridge.callflow import (
    Dial,
    DialGroup,
    DialTarget,
    Enqueue,
    Gather,
    Hangup,
    InvalidProgram,
    Pause,
    Play,
    Program,
    Record,
    Redirect,
    Reject,
    Say,
    SendDigits,
)
from callbridge.callflow.verbs import Leave
from callbridge.dialects import DialectError, InvalidDocument, parse_voice_xml

BASE = "http://www.didforsale.com/apidemo/9499300360-authenticate.xml"


def parse(body: str) -> Program:
    return parse_voice_xml(body.encode(), BASE)


def test_pin_example() -> None:
    document = b"""<?xml version="1.0" encoding="UTF-8"?>
    <Response>
        <Say>Your pin is 8 9 70</Say>
    </Response>"""
    assert parse_voice_xml(document, BASE) == Program(
        verbs=(Say(text="Your pin is 8 9 70"),), base_url=BASE
    )


def test_say_attributes() -> None:
    (say,) = parse(
        '<Response><Say voice="alice" language="en-GB" loop="3">Hi</Say></Response>'
    ).verbs
    assert say == Say(text="Hi", voice="alice", language="en-GB", loop=3)


def test_gather_with_nested_prompts() -> None:
    (gather,) = parse(
        """<Response>
          <Gather numDigits="4" timeout="10" finishOnKey="*" action="/pin" method="get">
            <Say>Enter your pin</Say>
            <Pause length="1.5"/>
            <Play loop="2">beep.wav</Play>
          </Gather>
        </Response>"""
    ).verbs
    assert gather == Gather(
        num_digits=4,
        timeout=10,
        finish_on_key="*",
        action="http://www.didforsale.com/pin",
        method="GET",
        prompts=(
            Say(text="Enter your pin"),
            Pause(length=1.5),
            Play(url="http://www.didforsale.com/apidemo/beep.wav", loop=2),
        ),
    )


def test_gather_finish_key_may_be_disabled() -> None:
    (gather,) = parse('<Response><Gather finishOnKey=""/></Response>').verbs
    assert gather == Gather(finish_on_key="")


def test_dial_groups_ring_in_sequence() -> None:
    (dial,) = parse(
        """<Response>
          <Dial callerId="+18005797676" timeout="15" timeLimit="600" action="after"
                record="record-from-answer">
            <Group timeout="20">
              <Number sendDigits="ww101">+1 (949) 930-0360</Number>
              <Sip>sip:desk@pbx.example.com</Sip>
            </Group>
            <Group><User>alice</User></Group>
          </Dial>
        </Response>"""
    ).verbs
    assert dial == Dial(
        groups=(
            DialGroup(
                targets=(
                    DialTarget(kind="number", address="+19499300360", send_digits="ww101"),
                    DialTarget(kind="sip", address="sip:desk@pbx.example.com"),
                ),
                ring_timeout=20,
            ),
            DialGroup(targets=(DialTarget(kind="user", address="alice"),), ring_timeout=15),
        ),
        caller_id="+18005797676",
        time_limit=600,
        action="http://www.didforsale.com/apidemo/after",
        record=True,
    )


def test_dial_without_groups_rings_everyone_at_once() -> None:
    (dial,) = parse("<Response><Dial><Number>101</Number><User>bob</User></Dial></Response>").verbs
    assert isinstance(dial, Dial)
    assert len(dial.groups) == 1
    assert [t.address for t in dial.groups[0].targets] == ["101", "bob"]
    assert dial.groups[0].ring_timeout == 30


def test_dial_text_is_a_number() -> None:
    (dial,) = parse("<Response><Dial timeout='5'> 18005797676 </Dial></Response>").verbs
    target = DialTarget(kind="number", address="18005797676")
    assert dial == Dial(groups=(DialGroup(targets=(target,), ring_timeout=5),))


def test_the_other_verbs() -> None:
    program = parse(
        """<Response>
          <SendDigits>WW1w23</SendDigits>
          <Record maxLength="30" finishOnKey="#" action="https://vm.example/done"
                  playBeep="false" timeout="3"/>
          <Enqueue waitUrl="hold.xml">support</Enqueue>
          <Redirect method="GET">next.xml</Redirect>
          <Reject reason="busy"/>
          <Hangup/>
        </Response>"""
    )
    assert program.verbs == (
        SendDigits(digits="WW1w23"),
        Record(
            max_length=30,
            finish_on_key="#",
            action="https://vm.example/done",
            play_beep=False,
            timeout=3,
        ),
        Enqueue(queue="support", wait_url="http://www.didforsale.com/apidemo/hold.xml"),
        Redirect(url="http://www.didforsale.com/apidemo/next.xml", method="GET"),
        Reject(reason="busy"),
        Hangup(),
    )


def test_an_empty_response_is_an_empty_program() -> None:
    assert parse("<Response/>").verbs == ()


def test_dialect_errors_are_invalid_programs() -> None:
    assert issubclass(InvalidDocument, DialectError)
    assert issubclass(DialectError, InvalidProgram)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<Request><Say>hi</Say></Request>", "root element must be <Response>"),
        ("<response/>", "root element must be <Response>"),
        ('<Response xmlns="urn:x"/>', "root element must be <Response>"),
        ("<Response><Foo/></Response>", "unknown verb <Foo>"),
        ("<Response><say>hi</say></Response>", "unknown verb <say>"),
        ("<Response>hello<Say>hi</Say></Response>", "stray text"),
        ("<Response><Say/></Response>", "<Say> needs text"),
        ("<Response><Say><b>hi</b></Say></Response>", "<Say> cannot contain <b>"),
        ('<Response><Say loop="twice">hi</Say></Response>', 'loop="twice"'),
        ('<Response><Say loop="-1">hi</Say></Response>', "loop must be"),
        ('<Response><Say speed="2">hi</Say></Response>', "unknown attribute 'speed'"),
        ('<Response><Gather numdigits="4"/></Response>', "unknown attribute 'numdigits'"),
        ('<Response><Gather numDigits="four"/></Response>', "expected an integer"),
        ('<Response><Gather timeout="-3"/></Response>', "timeout must be positive"),
        ('<Response><Gather method="PUT"/></Response>', "expected get or post"),
        ('<Response><Gather finishOnKey="x"/></Response>', "finishOnKey"),
        ("<Response><Gather><Dial>1</Dial></Gather></Response>", "<Gather> cannot contain"),
        ('<Response><Pause length="inf"/></Response>', "finite"),
        ('<Response><Pause length="soon"/></Response>', "a number of seconds"),
        ('<Response><Record playBeep="maybe"/></Response>', "expected false or true"),
        ("<Response><Play>file:///etc/passwd</Play></Response>", "not an http(s) URL"),
        ("<Response><Redirect>javascript:alert(1)</Redirect></Response>", "not an http(s) URL"),
        ("<Response><Reject reason='later'/></Response>", "expected busy or rejected"),
        ("<Response><SendDigits>12x</SendDigits></Response>", "invalid character"),
        ("<Response><Dial/></Response>", "at least one target"),
        ("<Response><Dial><Group/></Dial></Response>", "at least one target"),
        ("<Response><Dial>1<Number>2</Number></Dial></Response>", "not both"),
        (
            "<Response><Dial><Group><User>a</User></Group><Number>2</Number></Dial></Response>",
            "cannot mix <Group>",
        ),
        ("<Response><Dial><Client>a</Client></Dial></Response>", "cannot contain <Client>"),
        ("<Response><Dial><Number>call me</Number></Dial></Response>", "invalid number"),
        ('<Response><Dial callerId="">1</Dial></Response>', 'callerId=""'),
        ("<Response><Hangup>now</Hangup></Response>", "takes no text"),
        ("<Response><Pause><Say>x</Say></Pause></Response>", "<Pause> cannot contain"),
    ],
)
def test_invalid_documents_say_why(body: str, message: str) -> None:
    with pytest.raises(InvalidDocument) as raised:
        parse(body)
    assert message in str(raised.value)


def test_enqueue_wait_url_method_and_leave() -> None:
    program = parse(
        '<Response><Enqueue waitUrl="/wait" waitUrlMethod="GET" action="after">sales</Enqueue>'
        "<Leave/></Response>"
    )
    assert program.verbs == (
        Enqueue(
            queue="sales",
            wait_url="http://www.didforsale.com/wait",
            wait_method="GET",
            action="http://www.didforsale.com/apidemo/after",
        ),
        Leave(),
    )
    with pytest.raises(InvalidDocument):
        parse('<Response><Enqueue waitUrl="/wait" waitUrlMethod="PUT">sales</Enqueue></Response>')
    with pytest.raises(InvalidDocument):
        parse("<Response><Leave>now</Leave></Response>")
    with pytest.raises(InvalidDocument):
        parse('<Response><Enqueue waitUrl="file:///etc/passwd">sales</Enqueue></Response>')
