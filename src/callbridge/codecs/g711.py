"""G.711 µ-law (PCMU) and A-law (PCMA) over ``aiortp.codecs.g711`` (ITU-T G.711, RFC 3551 §4.5.14).

PCM is 16-bit signed little-endian mono at 8 kHz.  Transcoding between the two laws goes
through 256-byte ``bytes.translate`` tables (decode to linear, re-encode), one C pass per
payload and no intermediate PCM.
"""

from __future__ import annotations

from collections.abc import Callable

from aiortp.codecs.g711 import PcmaCodec, PcmuCodec

from callbridge.codecs.formats import PCMA, PCMU, Codec

_ULAW = PcmuCodec()
_ALAW = PcmaCodec()


class UnsupportedCodec(Exception):
    """A codec other than PCMU/PCMA (the in-process plane only speaks G.711)."""


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM to µ-law, one byte per sample."""
    return _ULAW.encode(pcm)


def ulaw_decode(payload: bytes) -> bytes:
    """µ-law to 16-bit PCM."""
    return _ULAW.decode(payload)


def alaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM to A-law, one byte per sample."""
    return _ALAW.encode(pcm)


def alaw_decode(payload: bytes) -> bytes:
    """A-law to 16-bit PCM."""
    return _ALAW.decode(payload)


def _table(decode: Callable[[bytes], bytes], encode: Callable[[bytes], bytes]) -> bytes:
    return encode(decode(bytes(range(256))))


ULAW_TO_ALAW = _table(ulaw_decode, alaw_encode)
ALAW_TO_ULAW = _table(alaw_decode, ulaw_encode)

_ENCODERS: dict[str, Callable[[bytes], bytes]] = {PCMU.name: ulaw_encode, PCMA.name: alaw_encode}
_DECODERS: dict[str, Callable[[bytes], bytes]] = {PCMU.name: ulaw_decode, PCMA.name: alaw_decode}
_TRANSCODE = {(PCMU.name, PCMA.name): ULAW_TO_ALAW, (PCMA.name, PCMU.name): ALAW_TO_ULAW}
_BY_PAYLOAD_TYPE = {PCMU.payload_type: ulaw_decode, PCMA.payload_type: alaw_decode}


def encoder_for(codec: Codec) -> Callable[[bytes], bytes]:
    """PCM -> payload for ``codec``; raises :class:`UnsupportedCodec`."""
    try:
        return _ENCODERS[codec.name.upper()]
    except KeyError:
        raise UnsupportedCodec(codec.name) from None


def decoder_for(codec: Codec) -> Callable[[bytes], bytes]:
    """Payload -> PCM for ``codec``; raises :class:`UnsupportedCodec`."""
    try:
        return _DECODERS[codec.name.upper()]
    except KeyError:
        raise UnsupportedCodec(codec.name) from None


def static_decoder(payload_type: int) -> Callable[[bytes], bytes] | None:
    """Decoder for the static G.711 payload types 0 and 8 (RFC 3551 §6), else None."""
    return _BY_PAYLOAD_TYPE.get(payload_type)


def transcode_table(source: Codec, target: Codec) -> bytes | None:
    """``bytes.translate`` table from ``source`` to ``target`` payloads; None when equal."""
    if source.name.upper() == target.name.upper():
        return None
    encoder_for(source)
    encoder_for(target)
    return _TRANSCODE[(source.name.upper(), target.name.upper())]


def transcode(payload: bytes, source: Codec, target: Codec) -> bytes:
    """Convert a G.711 payload between laws (unchanged when the codecs match)."""
    table = transcode_table(source, target)
    return payload if table is None else payload.translate(table)
