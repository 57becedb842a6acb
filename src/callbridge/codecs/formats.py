"""RTP audio formats (RFC 3551) and the frame every audio path uses.

Audio sources produce 20 ms frames of 16-bit signed little-endian mono PCM at 8 kHz
(320 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

FRAME_SAMPLES = 160
FRAME_BYTES = FRAME_SAMPLES * 2
SAMPLE_RATE = 8000
FRAME_SECONDS = 0.02


@dataclass(frozen=True)
class Codec:
    """An RTP audio payload format (RFC 3551 static types for G.711)."""

    name: str
    payload_type: int
    clock_rate: int = SAMPLE_RATE


PCMU = Codec("PCMU", 0)
PCMA = Codec("PCMA", 8)
TELEPHONE_EVENT_PT = 101
