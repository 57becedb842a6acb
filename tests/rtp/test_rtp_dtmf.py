from __future__ import annotations

import pytest

from callbridge.rtp.dtmf import (
    DtmfReceiver,
    DtmfSender,
    InvalidDtmf,
    decode_event,
    encode_event,
    event_code,
)


def test_event_payload_round_trip() -> None:
    payload = encode_event(event=11, end=True, duration=800, volume=10)
    assert payload == bytes([11, 0x80 | 10, 0x03, 0x20])
    event = decode_event(payload)
    assert (event.digit, event.end, event.volume, event.duration) == ("#", True, 10, 800)


def test_digit_codes() -> None:
    assert [event_code(d) for d in "09*#AD"] == [0, 9, 10, 11, 12, 15]
    assert event_code("a") == 12
    with pytest.raises(InvalidDtmf):
        event_code("E")


def test_sender_paces_one_packet_per_tick_with_three_end_packets() -> None:
    sender = DtmfSender(digits="1", duration_ms=100, gap_ms=60)
    steps = []
    while (step := sender.step()) is not None:
        steps.append(step)
    assert len(steps) == 5 + 3 + 3
    packets = [s for s in steps if s.payload is not None]
    events = [decode_event(s.payload) for s in packets if s.payload is not None]
    assert [s.marker for s in packets] == [True] + [False] * 7
    assert [s.new_event for s in packets] == [True] + [False] * 7
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800, 800]
    assert [e.end for e in events] == [False] * 5 + [True] * 3
    assert all(s.payload is None for s in steps[8:])


def test_receiver_reports_each_digit_once() -> None:
    digits: list[str] = []
    receiver = DtmfReceiver(on_digit=digits.append)
    for timestamp, digit in ((1000, 5), (3000, 11)):
        for duration in (160, 320):
            receiver.receive(timestamp, encode_event(event=digit, end=False, duration=duration))
        for _ in range(3):
            receiver.receive(timestamp, encode_event(event=digit, end=True, duration=480))
    assert digits == ["5", "#"]


def test_receiver_reports_when_end_packets_were_lost() -> None:
    digits: list[str] = []
    receiver = DtmfReceiver(on_digit=digits.append)
    receiver.receive(1000, encode_event(event=1, end=False, duration=160))
    receiver.receive(2000, encode_event(event=2, end=False, duration=160))
    receiver.receive(2000, encode_event(event=2, end=True, duration=320))
    receiver.receive(1000, encode_event(event=1, end=True, duration=320))  # late, same ts as before
    assert digits == ["1", "2"]


def test_receiver_ignores_short_payloads() -> None:
    digits: list[str] = []
    DtmfReceiver(on_digit=digits.append).receive(1, b"\x01")
    assert digits == []
