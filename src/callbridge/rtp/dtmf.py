"""RFC 4733 telephone-events for DTMF: payload codec, paced sender, deduplicating receiver.

Payload (RFC 4733 §2.3)::

     0                   1                   2                   3
    |     event     |E|R| volume    |          duration             |
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from callbridge.codecs.formats import FRAME_SAMPLES

DTMF_DIGITS = "0123456789*#ABCD"
END_PACKETS = 3
DEFAULT_VOLUME = 10
_EVENT = struct.Struct("!BBH")
_END = 0x80
_VOLUME_MASK = 0x3F
_REMEMBERED_EVENTS = 16


class InvalidDtmf(Exception):
    """A digit outside 0-9 * # A-D, or an event payload that is not RFC 4733 §2.3."""


@dataclass(frozen=True)
class DtmfEvent:
    """One decoded telephone-event payload (RFC 4733 §2.3)."""

    event: int
    end: bool
    volume: int
    duration: int

    @property
    def digit(self) -> str | None:
        """The DTMF digit for events 0-15 (RFC 4733 §3.2), else None."""
        return DTMF_DIGITS[self.event] if self.event < len(DTMF_DIGITS) else None


def event_code(digit: str) -> int:
    """Event number for a DTMF digit (RFC 4733 §3.2, Table 7)."""
    code = DTMF_DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise InvalidDtmf(f"not a DTMF digit: {digit!r}")
    return code


def encode_event(*, event: int, end: bool, duration: int, volume: int = DEFAULT_VOLUME) -> bytes:
    """Pack an event payload (RFC 4733 §2.3); duration saturates at 0xFFFF (§2.5.2.2)."""
    flags = (_END if end else 0) | (volume & _VOLUME_MASK)
    return _EVENT.pack(event & 0xFF, flags, min(duration, 0xFFFF))


def decode_event(payload: bytes) -> DtmfEvent:
    """Unpack an event payload (RFC 4733 §2.3); raises :class:`InvalidDtmf` when short."""
    if len(payload) < _EVENT.size:
        raise InvalidDtmf("telephone-event payload shorter than 4 bytes")
    event, flags, duration = _EVENT.unpack_from(payload)
    return DtmfEvent(
        event=event, end=bool(flags & _END), volume=flags & _VOLUME_MASK, duration=duration
    )


@dataclass(frozen=True)
class DtmfStep:
    """What the sender emits on one clock tick.

    ``payload`` is None during the inter-digit gap.  ``new_event`` asks the caller to take
    the current stream timestamp as the event timestamp (RFC 4733 §2.5.1.1); ``marker``
    is set on the first packet of each event (§2.5.1.1).
    """

    payload: bytes | None
    marker: bool = False
    new_event: bool = False


_GAP = DtmfStep(payload=None)


class DtmfSender:
    """Yields one :class:`DtmfStep` per 20 ms tick for a digit string (RFC 4733 §2.5.1).

    Per digit: packets with growing duration until ``duration_ms``, then
    :data:`END_PACKETS` copies of the final packet with the E bit (§2.5.1.4), then
    ``gap_ms`` of nothing before the next digit.
    """

    def __init__(
        self, *, digits: str, duration_ms: int = 100, gap_ms: int = 60, volume: int = DEFAULT_VOLUME
    ) -> None:
        self._codes = [event_code(d) for d in digits]
        ticks_ms = FRAME_SAMPLES // 8
        self._body_ticks = max(1, -(-duration_ms // ticks_ms))
        self._gap_ticks = max(0, -(-gap_ms // ticks_ms))
        self._volume = volume
        self._digit = 0
        self._tick = 0

    @property
    def done(self) -> bool:
        return self._digit >= len(self._codes)

    def step(self) -> DtmfStep | None:
        """The next tick's step, or None once every digit and its gap are out."""
        if self.done:
            return None
        result = self._current()
        self._tick += 1
        if self._tick >= self._body_ticks + END_PACKETS + self._gap_ticks:
            self._digit += 1
            self._tick = 0
        return result

    def _current(self) -> DtmfStep:
        code = self._codes[self._digit]
        if self._tick < self._body_ticks:
            payload = encode_event(
                event=code,
                end=False,
                duration=(self._tick + 1) * FRAME_SAMPLES,
                volume=self._volume,
            )
            first = self._tick == 0
            return DtmfStep(payload=payload, marker=first, new_event=first)
        if self._tick < self._body_ticks + END_PACKETS:
            duration = self._body_ticks * FRAME_SAMPLES
            payload = encode_event(event=code, end=True, duration=duration, volume=self._volume)
            return DtmfStep(payload=payload)
        return _GAP


class DtmfReceiver:
    """Reports each received digit once (RFC 4733 §2.5.2).

    Packets of one event share an RTP timestamp, so the timestamp identifies the event:
    a digit is reported on the first end packet, or — when every end packet was lost —
    as soon as a packet with a new event timestamp arrives.
    """

    def __init__(self, *, on_digit: Callable[[str], None] | None = None) -> None:
        self.on_digit = on_digit
        self._timestamp: int | None = None
        self._digit: str | None = None
        self._reported = True
        self._recent: deque[int] = deque(maxlen=_REMEMBERED_EVENTS)

    def receive(self, timestamp: int, payload: bytes) -> None:
        """Feed one telephone-event payload with its RTP timestamp."""
        try:
            event = decode_event(payload)
        except InvalidDtmf:
            return
        if timestamp != self._timestamp:
            if timestamp in self._recent:
                return  # a late or duplicated packet of an event already handled
            self._report_pending()
            self._recent.append(timestamp)
            self._timestamp = timestamp
            self._digit = event.digit
            self._reported = False
        if event.end:
            self._report_pending()

    def _report_pending(self) -> None:
        if self._reported:
            return
        self._reported = True
        if self._digit is not None and self.on_digit is not None:
            self.on_digit(self._digit)
