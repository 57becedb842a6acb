"""SDP offer/answer (RFC 3264) for one audio stream."""

from __future__ import annotations

import pytest
from aiosipua.sdp import parse_sdp

from callbridge.codecs.formats import PCMA, PCMU, Codec
from callbridge.codecs.stream import RemoteMedia
from callbridge.sip.sdp import (
    SdpNegotiationError,
    build_answer,
    build_offer,
    origin_of,
    parse_answer,
)

OPUS = Codec("opus", 111, 48000)


def sdp(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def test_offer_layout() -> None:
    offer = build_offer(host="192.0.2.5", port=4000, codecs=[PCMU, PCMA], session_id=7, version=2)
    assert offer == sdp(
        "v=0",
        "o=- 7 2 IN IP4 192.0.2.5",
        "s=callbridge",
        "c=IN IP4 192.0.2.5",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    )


def test_offer_ipv6() -> None:
    offer = build_offer(host="2001:db8::5", port=4000, codecs=[PCMU], session_id=1, version=1)
    assert b"c=IN IP6 2001:db8::5\r\n" in offer


def test_answer_picks_our_first_codec_the_offer_has() -> None:
    offer = sdp(
        "v=0",
        "o=- 1 1 IN IP4 198.51.100.7",
        "s=-",
        "t=0 0",
        "m=audio 5004 RTP/AVP 8 0 96",
        "c=IN IP4 198.51.100.7",
        "a=rtpmap:96 telephone-event/8000",
        "a=fmtp:96 0-15",
    )
    answer, remote = build_answer(offer, host="192.0.2.5", port=4000, codecs=[PCMU, PCMA])
    assert remote == RemoteMedia(host="198.51.100.7", port=5004, codec=PCMU, dtmf_payload_type=96)
    audio = parse_sdp(answer.decode()).audio
    assert audio is not None
    assert audio.formats == ["0", "96"]
    assert audio.attributes["fmtp"] == ["96 0-15"]
    assert audio.direction == "sendrecv"


def test_answer_without_rtpmap_for_static_types_and_session_level_c() -> None:
    offer = sdp(
        "v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 203.0.113.1", "t=0 0", "m=audio 7000 RTP/AVP 8"
    )
    _, remote = build_answer(offer, host="192.0.2.5", port=4000, codecs=[PCMU, PCMA])
    assert remote == RemoteMedia(host="203.0.113.1", port=7000, codec=PCMA, dtmf_payload_type=None)


def test_answer_mirrors_direction_and_keeps_dynamic_pt() -> None:
    offer = sdp(
        "v=0",
        "o=- 1 1 IN IP4 h",
        "s=-",
        "c=IN IP4 203.0.113.1",
        "t=0 0",
        "m=audio 7000 RTP/AVP 111",
        "a=rtpmap:111 OPUS/48000/2",
        "a=sendonly",
    )
    answer, remote = build_answer(offer, host="192.0.2.5", port=4000, codecs=[OPUS])
    assert remote.codec == OPUS
    assert b"a=recvonly" in answer


def _offer(*extra: str, address: str = "203.0.113.1", session: tuple[str, ...] = ()) -> bytes:
    return sdp(
        "v=0",
        "o=- 1 1 IN IP4 h",
        "s=-",
        f"c=IN IP4 {address}",
        "t=0 0",
        *session,
        "m=audio 7000 RTP/AVP 0",
        *extra,
    )


@pytest.mark.parametrize(
    ("offer", "answered", "receives"),
    [
        (_offer(), "sendrecv", True),
        (_offer("a=sendrecv"), "sendrecv", True),
        (_offer("a=recvonly"), "sendonly", True),
        (_offer("a=sendonly"), "recvonly", False),  # the peer holds the call
        (_offer("a=inactive"), "inactive", False),
        (_offer(session=("a=sendonly",)), "recvonly", False),  # session level (RFC 3264 §5.1)
        (_offer("a=sendrecv", session=("a=inactive",)), "sendrecv", True),  # the stream's wins
        (_offer(address="0.0.0.0"), "sendrecv", False),  # RFC 2543 hold (RFC 3264 §8.4)
    ],
)
def test_a_held_offer_is_answered_in_kind_and_gets_no_media(
    offer: bytes, answered: str, receives: bool
) -> None:
    answer, remote = build_answer(offer, host="192.0.2.5", port=4000, codecs=[PCMU])
    assert f"a={answered}".encode() in answer.splitlines()
    assert remote.receives is receives


@pytest.mark.parametrize(
    ("offer", "on_hold"),
    [
        (_offer(), False),
        (_offer("a=sendonly"), True),
        (_offer("a=recvonly"), True),  # sends nothing to us: its silence is no sign either
        (_offer("a=inactive"), True),
        (_offer(address="0.0.0.0"), True),
    ],
)
def test_only_a_two_way_stream_is_not_on_hold(offer: bytes, on_hold: bool) -> None:
    """The RTP timeout only watches a peer that says it sends and receives."""
    _, remote = build_answer(offer, host="192.0.2.5", port=4000, codecs=[PCMU])
    assert remote.on_hold is on_hold
    assert parse_answer(offer, [PCMU]).on_hold is on_hold


@pytest.mark.parametrize(
    ("direction", "receives"),
    [("sendrecv", True), ("recvonly", True), ("sendonly", False), ("inactive", False)],
)
def test_an_answer_that_takes_no_media_is_not_sent_any(direction: str, receives: bool) -> None:
    answer = _offer(f"a={direction}")
    assert parse_answer(answer, [PCMU]).receives is receives


@pytest.mark.parametrize(
    "offer",
    [
        sdp("v=0", "c=IN IP4 203.0.113.1", "t=0 0", "m=audio 7000 RTP/AVP 18"),  # G.729 only
        sdp("v=0", "c=IN IP4 203.0.113.1", "t=0 0", "m=video 7000 RTP/AVP 0"),  # no audio
        sdp("v=0", "c=IN IP4 203.0.113.1", "t=0 0", "m=audio 0 RTP/AVP 0"),  # rejected stream
        sdp("v=0", "t=0 0", "m=audio 7000 RTP/AVP 0"),  # no c=
        sdp("v=0", "m=audio seven RTP/AVP 0"),  # aiosipua raises ValueError
        sdp("v=0", "m=audio 7000 RTP/AVP 0", "a=rtpmap:x PCMU/8000"),
        b"\xff\xfe not text",
        b"",
    ],
)
def test_unusable_offers(offer: bytes) -> None:
    with pytest.raises(SdpNegotiationError):
        build_answer(offer, host="192.0.2.5", port=4000, codecs=[PCMU, PCMA])


def test_parse_answer_round_trip() -> None:
    offer = build_offer(host="192.0.2.5", port=4000, codecs=[PCMU, PCMA], session_id=1, version=1)
    answer, _ = build_answer(offer, host="198.51.100.9", port=6000, codecs=[PCMA])
    remote = parse_answer(answer, [PCMU, PCMA])
    assert remote == RemoteMedia(host="198.51.100.9", port=6000, codec=PCMA, dtmf_payload_type=101)


def test_parse_answer_with_media_level_c() -> None:
    answer = sdp(
        "v=0", "o=- 1 1 IN IP4 x", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
        "m=audio 6000 RTP/AVP 0", "c=IN IP4 198.51.100.9",
    )  # fmt: skip
    remote = parse_answer(answer, [PCMU])
    assert (remote.host, remote.codec, remote.dtmf_payload_type) == ("198.51.100.9", PCMU, None)


def test_parse_answer_rejects_codec_we_did_not_offer() -> None:
    answer = sdp("v=0", "c=IN IP4 198.51.100.9", "t=0 0", "m=audio 6000 RTP/AVP 8")
    with pytest.raises(SdpNegotiationError):
        parse_answer(answer, [PCMU])


def test_a_later_answer_keeps_the_origin_and_steps_the_version() -> None:
    # RFC 3264 §8: the o= line of a modified session differs only by version + 1.
    offer = build_offer(host="198.51.100.9", port=6000, codecs=[PCMU], session_id=5, version=9)
    first, _ = build_answer(offer, host="192.0.2.5", port=4000, codecs=[PCMU])
    origin = origin_of(first)
    assert origin is not None
    session_id, version = origin
    again, _ = build_answer(
        offer,
        host="192.0.2.5",
        port=4000,
        codecs=[PCMU],
        session_id=session_id,
        version=version + 1,
    )
    assert origin_of(again) == (session_id, version + 1)
    assert origin_of(
        build_offer(host="192.0.2.5", port=4000, codecs=[PCMU], session_id=0, version=3)
    ) == (0, 3)


@pytest.mark.parametrize("body", [b"", b"v=0\r\ns=-\r\n", b"v=0\r\no=- x 1 IN IP4 a\r\n"])
def test_origin_of_sdp_without_a_usable_o_line(body: bytes) -> None:
    assert origin_of(body) is None


def _offer_with(connection: str = "c=IN IP4 198.51.100.9", media: str = "m=audio 6000") -> bytes:
    return sdp("v=0", connection, "t=0 0", f"{media} RTP/AVP 0", "a=rtpmap:0 PCMU/8000")


@pytest.mark.parametrize(
    "offer",
    [
        _offer_with(media="m=audio 70000"),  # issue 15 (10): every packet raised OverflowError
        _offer_with(media="m=audio 65536"),
        _offer_with(connection="c=IN IP4 media.example.com"),  # a DNS lookup per packet
        _offer_with(connection="c=IN IP4 224.0.0.1"),
        _offer_with(connection="c=IN IP4 999.1.1.1"),
        _offer_with(connection="c=IN IP6 198.51.100.9"),
        _offer_with(connection="c=IN IP4 2001:db8::1"),
        _offer_with(connection="c=IN IP6 ::"),
    ],
    ids=[
        "port 70000",
        "port 65536",
        "host name",
        "multicast",
        "bad IPv4",
        "IP6 for v4",
        "IP4 for v6",
        "unspecified v6",
    ],
)
def test_offers_and_answers_with_unusable_ports_or_addresses_are_refused(offer: bytes) -> None:
    with pytest.raises(SdpNegotiationError):
        build_answer(offer, host="192.0.2.5", port=4000, codecs=[PCMU])
    with pytest.raises(SdpNegotiationError):
        parse_answer(offer, [PCMU])


@pytest.mark.parametrize(
    ("connection", "port"),
    [("c=IN IP4 198.51.100.9", 65535), ("c=IN IP6 2001:db8::1", 1), ("c=IN IP4 0.0.0.0", 6000)],
)
def test_edge_ports_and_addresses_are_taken(connection: str, port: int) -> None:
    _, remote = build_answer(
        _offer_with(connection, f"m=audio {port}"), host="192.0.2.5", port=4000, codecs=[PCMU]
    )
    assert remote.port == port
