"""Sample-rate conversion to the 8 kHz telephony rate (G.711 is 8 kHz, RFC 3551 §4.5.14).

Choice: a windowed-sinc low-pass FIR (Blackman window, cut-off at 0.45 x the lower rate)
applied with ``numpy.convolve`` before downsampling, then linear interpolation
(``numpy.interp``) onto the new time grid.  Linear interpolation alone is cheap but aliases
everything above 4 kHz back into the voice band when coming down from 16/22.05/44.1 kHz;
the FIR removes that content first.  This is not a true polyphase resampler (scipy is not
a dependency) but for speech prompts the remaining interpolation error sits well below
G.711's own quantisation noise.  Upsampling (rates below 8 kHz) needs no filter.
"""

from __future__ import annotations

import numpy as np

from callbridge.media.plane import SAMPLE_RATE
from callbridge.media.wavfile import FloatSamples

_TAPS = 101
_CUTOFF = 0.45


def lowpass(samples: FloatSamples, *, cutoff_hz: float, rate: int) -> FloatSamples:
    """Blackman-windowed sinc low-pass FIR, zero-phase (``mode="same"``)."""
    n = np.arange(_TAPS) - (_TAPS - 1) / 2
    normalised = cutoff_hz / rate
    kernel = 2 * normalised * np.sinc(2 * normalised * n) * np.blackman(_TAPS)
    kernel /= kernel.sum()
    filtered: FloatSamples = np.convolve(samples, kernel, mode="same")
    return filtered


def resample(samples: FloatSamples, *, rate: int, target: int = SAMPLE_RATE) -> FloatSamples:
    """Convert mono float samples from ``rate`` to ``target`` Hz."""
    if rate == target or len(samples) == 0:
        return samples
    if rate > target:
        samples = lowpass(samples, cutoff_hz=_CUTOFF * target, rate=rate)
    count = int(len(samples) * target / rate)
    source_times = np.arange(len(samples)) / rate
    target_times = np.arange(count) / target
    out: FloatSamples = np.interp(target_times, source_times, samples)
    return out
