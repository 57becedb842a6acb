"""The built-in music on hold: a short piece rendered here, so it is ours to ship (no
licence to track) and takes no file.

Sixteen seconds in C major, eight chords of two seconds (C, Am, F, G, C, Em, F, G): each
chord arpeggiated in eighth notes (120 beats a minute) by a soft plucked voice (five
harmonics, a 5 ms attack and an exponential decay), over a pad of the chord's root and
fifth an octave lower that swells in and out with each chord.  Notes that ring past the
end wrap round to the start, so the loop has no seam.  Harmonics above 3.6 kHz are left
out (8 kHz sampling).  Peak at half of full scale, about -18 dBFS RMS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from callbridge.codecs.formats import SAMPLE_RATE

Wave = npt.NDArray[np.float64]

CHORD_SECONDS = 2.0
NOTE_SECONDS = 0.25
PEAK = 0.5
MAX_HARMONIC_HZ = 3600.0
# Semitones above middle C (C4, 261.63 Hz) of each chord's root, third and fifth.
PROGRESSION: tuple[tuple[int, int, int], ...] = (
    (0, 4, 7),  # C
    (-3, 0, 4),  # Am
    (-7, -3, 0),  # F
    (-5, -1, 2),  # G
    (0, 4, 7),  # C
    (-8, -5, -1),  # Em
    (-7, -3, 0),  # F
    (-5, -1, 2),  # G
)
# Which chord tone each eighth note plays: root, third, fifth, octave, ... (12 = an octave up).
ARPEGGIO = (0, 1, 2, 3, 2, 1, 2, 3)
PLUCK_HARMONICS = (1.0, 0.45, 0.25, 0.12, 0.06)
PAD_HARMONICS = (1.0, 0.3, 0.1)
MIDDLE_C = 261.63


def frequency(semitones: int) -> float:
    """Equal temperament, semitones above (or below) middle C."""
    return float(MIDDLE_C * 2.0 ** (semitones / 12))


def tone(hz: float, seconds: float, harmonics: Sequence[float]) -> Wave:
    """A sum of harmonics of ``hz`` (those below :data:`MAX_HARMONIC_HZ`), unshaped."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = np.zeros_like(t)
    for number, weight in enumerate(harmonics, start=1):
        if hz * number < MAX_HARMONIC_HZ:
            wave += weight * np.sin(2 * math.pi * hz * number * t)
    return wave


def pluck(hz: float) -> Wave:
    """One arpeggio note: 5 ms attack, decaying by 60 dB over 1.2 s."""
    seconds = 1.2
    wave = tone(hz, seconds, PLUCK_HARMONICS)
    t = np.arange(len(wave)) / SAMPLE_RATE
    envelope: Wave = np.minimum(t / 0.005, 1.0) * np.exp(-t * math.log(1000) / seconds)
    shaped: Wave = wave * envelope
    return shaped


def pad(hz: float) -> Wave:
    """A chord's held bass note: a raised-sine swell over the chord's two seconds."""
    wave = tone(hz, CHORD_SECONDS, PAD_HARMONICS)
    envelope: Wave = np.sin(np.linspace(0.0, math.pi, len(wave))) ** 2
    shaped: Wave = wave * envelope
    return shaped


def render_hold_piece() -> bytes:
    """The piece as 16-bit little-endian mono PCM at 8 kHz (16 s; loop it)."""
    total = int(len(PROGRESSION) * CHORD_SECONDS * SAMPLE_RATE)
    mix = np.zeros(total)

    def add(start: int, wave: Wave, gain: float) -> None:
        mix[(start + np.arange(len(wave))) % total] += gain * wave  # tails wrap round

    note_samples = int(NOTE_SECONDS * SAMPLE_RATE)
    for index, (root, third, fifth) in enumerate(PROGRESSION):
        chord_start = int(index * CHORD_SECONDS * SAMPLE_RATE)
        tones = (root, third, fifth, root + 12)
        for step, which in enumerate(ARPEGGIO):
            add(chord_start + step * note_samples, pluck(frequency(tones[which])), 1.0)
        add(chord_start, pad(frequency(root - 12)), 0.5)
        add(chord_start, pad(frequency(fifth - 12)), 0.3)
    mix *= PEAK / np.max(np.abs(mix))
    return bytes(np.round(mix * 32767.0).astype("<i2").tobytes())
