from __future__ import annotations

import numpy as np
import pytest

from audio_analysis import dominant_frequency, rms
from callbridge.codecs.formats import PCMA, PCMU, Codec
from callbridge.codecs.g711 import (
    UnsupportedCodec,
    alaw_decode,
    alaw_encode,
    decoder_for,
    encoder_for,
    transcode,
    ulaw_decode,
    ulaw_encode,
)


def _tone(freq: float = 1000.0, amplitude: float = 8000.0, n: int = 800) -> bytes:
    t = np.arange(n) / 8000
    return bytes((np.sin(2 * np.pi * freq * t) * amplitude).astype("<i2").tobytes())


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_g711_round_trip_keeps_the_tone(encode: object, decode: object) -> None:
    assert callable(encode)
    assert callable(decode)
    pcm = _tone()
    payload = encode(pcm)
    assert len(payload) == 800
    back = decode(payload)
    assert dominant_frequency(back) == pytest.approx(1000, abs=10)
    assert rms(back) == pytest.approx(rms(pcm), rel=0.03)


def test_transcoding_matches_decode_then_encode() -> None:
    pcm = _tone(440)
    ulaw = ulaw_encode(pcm)
    alaw = transcode(ulaw, PCMU, PCMA)
    assert alaw == alaw_encode(ulaw_decode(ulaw))
    assert transcode(ulaw, PCMU, PCMU) is ulaw
    assert rms(alaw_decode(alaw)) == pytest.approx(rms(pcm), rel=0.05)


def test_codec_lookup() -> None:
    assert encoder_for(PCMA) is alaw_encode
    assert decoder_for(PCMU) is ulaw_decode
    with pytest.raises(UnsupportedCodec):
        encoder_for(Codec("opus", 111, 48000))
