"""SDP offer/answer for one audio stream (RFC 3264, RFC 4566, RFC 4733 telephone-event).

Pure functions over aiosipua's SDP model.  aiosipua's ``parse_sdp`` raises bare ValueError on
a non-numeric port or payload type and returns empty defaults for short lines, so every parse
goes through :func:`_parse`, which turns both into :class:`SdpNegotiationError`.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence

from aiosipua.sdp import Codec as SdpCodec
from aiosipua.sdp import (
    ConnectionData,
    MediaDescription,
    Origin,
    SdpMessage,
    parse_sdp,
    serialize_sdp,
)

from callbridge.codecs.formats import TELEPHONE_EVENT_PT, Codec
from callbridge.codecs.stream import RemoteMedia

TELEPHONE_EVENT = "telephone-event"
DTMF_EVENTS = "0-16"
PTIME = "20"
_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


class SdpNegotiationError(ValueError):
    """The peer's SDP is unusable: unparseable, no audio, or no codec in common (§6 RFC 3264)."""


def build_offer(
    *,
    host: str,
    port: int,
    codecs: Sequence[Codec],
    dtmf_payload_type: int = TELEPHONE_EVENT_PT,
    session_id: int,
    version: int,
    direction: str = "sendrecv",
) -> bytes:
    """RFC 3264 §5: one audio stream with our codecs plus telephone-event 0-16;
    ``direction`` ``sendonly`` puts the peer on hold (§8.4), ``sendrecv`` resumes."""
    if direction not in _DIRECTIONS:
        raise ValueError(f"unknown SDP direction {direction!r}")
    media = _audio(port, codecs, dtmf_payload_type, DTMF_EVENTS, direction)
    return _session(host, session_id, version, media)


def build_answer(
    offer: bytes,
    *,
    host: str,
    port: int,
    codecs: Sequence[Codec],
    session_id: int | None = None,
    version: int = 1,
) -> tuple[bytes, RemoteMedia]:
    """RFC 3264 §6.1: our first codec the offer has (with the offer's payload type), and the
    offer's telephone-event type; the direction mirrors the offer's."""
    sdp = _parse(offer)
    audio = _usable_audio(sdp)
    codec = next((c for ours in codecs if (c := _find(audio, ours)) is not None), None)
    if codec is None:
        raise SdpNegotiationError("no common audio codec")
    dtmf, events = _telephone_event(audio)
    offered = _direction(sdp, audio)
    media = _audio(port, [codec], dtmf, events or DTMF_EVENTS, _ANSWER_DIRECTION[offered])
    if session_id is None:
        session_id = secrets.randbelow(2**31)
    answer = _session(host, session_id, version, media)
    remote_host = _host(sdp, audio)
    return answer, RemoteMedia(
        host=remote_host,
        port=audio.port,
        codec=codec,
        dtmf_payload_type=dtmf,
        receives=_receives(offered, remote_host),
        sends=_sends(offered),
    )


def parse_answer(answer: bytes, offered: Sequence[Codec]) -> RemoteMedia:
    """RFC 3264 §6: the answerer's first format that we offered (matched by encoding)."""
    sdp = _parse(answer)
    audio = _usable_audio(sdp)
    chosen = None
    for fmt in audio.codecs:
        chosen = next((c for c in offered if _same_encoding(fmt, c)), None)
        if chosen is not None:
            chosen = Codec(chosen.name, fmt.payload_type, chosen.clock_rate)
            break
    if chosen is None:
        raise SdpNegotiationError("the answer has none of the offered codecs")
    dtmf, _ = _telephone_event(audio)
    remote_host = _host(sdp, audio)
    direction = _direction(sdp, audio)
    return RemoteMedia(
        host=remote_host,
        port=audio.port,
        codec=chosen,
        dtmf_payload_type=dtmf,
        receives=_receives(direction, remote_host),
        sends=_sends(direction),
    )


def origin_of(sdp: bytes) -> tuple[int, int] | None:
    """(sess-id, sess-version) from the o= line (RFC 4566 §5.2) of an SDP we wrote.

    A later SDP of the same session keeps the sess-id and steps the version by one
    (RFC 3264 §8); None when there is no usable o= line."""
    for line in sdp.splitlines():
        if line.startswith(b"o="):
            fields = line[2:].split()
            if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
                return int(fields[1]), int(fields[2])
            return None
    return None


def _parse(body: bytes) -> SdpMessage:
    try:
        sdp = parse_sdp(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, IndexError) as exc:
        raise SdpNegotiationError(f"unparseable SDP: {exc}") from exc
    if not any(m.media for m in sdp.media) and b"m=" in body:
        raise SdpNegotiationError("malformed m= line")
    return sdp


def _usable_audio(sdp: SdpMessage) -> MediaDescription:
    """The first audio stream that was not rejected (port 0, RFC 3264 §6) and is RTP/AVP;
    its port must be a UDP port (RFC 4566 §5.14), or every packet sent to it would fail."""
    for media in sdp.media:
        if media.media == "audio" and media.port > 0 and "RTP/AVP" in media.proto.upper():
            if media.port > 65535:
                raise SdpNegotiationError(f"audio port {media.port} out of range")
            return media
    raise SdpNegotiationError("no audio stream")


def _direction(sdp: SdpMessage, audio: MediaDescription) -> str:
    """RFC 3264 §5.1: the stream's direction attribute, else the session's, else sendrecv."""
    for attributes in (audio.attributes, sdp.attributes):
        for direction in _DIRECTIONS:
            if direction in attributes:
                return direction
    return "sendrecv"


def _receives(direction: str, host: str) -> bool:
    """Whether the peer wants our media: not when its side only sends or is inactive
    (RFC 3264 §6.1), nor when its address is 0.0.0.0 (RFC 2543 hold, §8.4)."""
    return direction in ("sendrecv", "recvonly") and host != "0.0.0.0"


def _sends(direction: str) -> bool:
    """Whether the peer says it sends media: not when it only receives or is inactive."""
    return direction in ("sendrecv", "sendonly")


def _host(sdp: SdpMessage, audio: MediaDescription) -> str:
    """RFC 4566 §5.7: media-level c= wins over the session-level one.

    Only a unicast IP address of the family c= names is taken (0.0.0.0 too: RFC 2543
    hold): a domain name would cost a blocking DNS lookup per packet, and a multicast
    address is not a peer."""
    connection = audio.connection or sdp.connection
    if connection is None or not connection.address:
        raise SdpNegotiationError("no connection address (c=)")
    text = connection.address.split("/", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise SdpNegotiationError(
            f"connection address {text[:40]!r} is not an IP address"
        ) from None
    family = "IP6" if address.version == 6 else "IP4"
    if connection.addr_type.upper() != family or connection.net_type.upper() != "IN":
        raise SdpNegotiationError(f"connection address {text[:40]!r} is not IN {family}")
    if address.is_multicast or (address.is_unspecified and address.version == 6):
        raise SdpNegotiationError(f"connection address {text[:40]!r} is not unicast")
    return text


def _same_encoding(fmt: SdpCodec, codec: Codec) -> bool:
    """Static types (RFC 3551) match by number; dynamic ones by encoding name and rate."""
    if fmt.encoding_name:
        same_rate = (fmt.clock_rate or codec.clock_rate) == codec.clock_rate
        return fmt.encoding_name.upper() == codec.name.upper() and same_rate
    return fmt.payload_type == codec.payload_type and codec.payload_type < 96


def _find(audio: MediaDescription, codec: Codec) -> Codec | None:
    """Our codec under the payload type the offer uses for it, if it offers it at all."""
    for fmt in audio.codecs:
        if _same_encoding(fmt, codec):
            return Codec(codec.name, fmt.payload_type, codec.clock_rate)
    return None


def _telephone_event(audio: MediaDescription) -> tuple[int | None, str | None]:
    """RFC 4733 §7.1.1: the telephone-event/8000 payload type and its event list."""
    for fmt in audio.codecs:
        if fmt.encoding_name.lower() == TELEPHONE_EVENT and fmt.clock_rate == 8000:
            return fmt.payload_type, fmt.fmtp
    return None, None


def _audio(
    port: int, codecs: Sequence[Codec], dtmf: int | None, events: str, direction: str
) -> MediaDescription:
    media = MediaDescription(media="audio", port=port, proto="RTP/AVP")
    rtpmap = [f"{c.payload_type} {c.name}/{c.clock_rate}" for c in codecs]
    media.formats = [str(c.payload_type) for c in codecs]
    media.attributes["rtpmap"] = rtpmap
    if dtmf is not None:
        media.formats.append(str(dtmf))
        rtpmap.append(f"{dtmf} {TELEPHONE_EVENT}/8000")
        media.attributes["fmtp"] = [f"{dtmf} {events}"]
    media.attributes["ptime"] = [PTIME]
    media.attributes[direction] = []
    return media


def _session(host: str, session_id: int, version: int, media: MediaDescription) -> bytes:
    family = "IP6" if ":" in host else "IP4"
    sdp = SdpMessage(
        origin=Origin(
            username="-",
            session_id=str(session_id),
            session_version=str(version),
            addr_type=family,
            address=host,
        ),
        session_name="callbridge",
        connection=ConnectionData(addr_type=family, address=host),
        media=[media],
    )
    return serialize_sdp(sdp).encode("ascii")
