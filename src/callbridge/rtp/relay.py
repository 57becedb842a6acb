"""Packet relay for one direction of a bridge: RTP translator semantics (RFC 3550 §7.1-7.2).

Packets received on the source session leave the target session as part of the
target's own stream: its SSRC, its sequence space and its timestamp line continue
(the peer sees one stream across prompts and the bridge), the payload type is mapped
(audio PT, RFC 4733 telephone-event PT), and G.711 payloads are transcoded through a
256-byte table when the legs negotiated different laws.

The hot path allocates nothing per packet beyond the payload slice: the header is
packed into a preallocated ``bytearray`` that is then sent directly on the socket.
"""

from __future__ import annotations

import struct

from callbridge.codecs.formats import FRAME_SAMPLES
from callbridge.codecs.g711 import transcode_table
from callbridge.rtp.packet import HEADER, HEADER_BYTES, MalformedRtp, header_length, payload_end
from callbridge.rtp.session import RtpSession

_SEQ_TS_SSRC = struct.Struct("!HII")
_V2 = 0x80
_COMPLEX_HEADER = 0x3F  # padding, extension or CSRCs present
_NONE = -1


class RelayDirection:
    """Forwards packets received on one session out of ``target`` (install ``forward``)."""

    __slots__ = (
        "_audio_in",
        "_audio_out",
        "_buf",
        "_dtmf_in",
        "_dtmf_out",
        "_in_ssrc",
        "_last_seq",
        "_last_ts",
        "_marker",
        "_seq_offset",
        "_table",
        "_target",
        "_ts_offset",
        "relayed",
    )

    def __init__(self, *, source: RtpSession, target: RtpSession) -> None:
        self._target = target
        self._buf = bytearray(HEADER_BYTES + FRAME_SAMPLES)
        self._in_ssrc = _NONE
        self._seq_offset = 0
        self._ts_offset = 0
        self._marker = 0
        self._last_seq: int | None = None
        self._last_ts = 0
        self.relayed = 0
        self._audio_in = self._audio_out = self._dtmf_in = self._dtmf_out = _NONE
        self._table: bytes | None = None
        self.configure(source=source)

    def configure(self, *, source: RtpSession) -> None:
        """(Re)read both legs' negotiated payload types; call after either's set_remote."""
        src, dst = source.remote, self._target.remote
        if src is None or dst is None:
            self._audio_in = self._dtmf_in = _NONE
            return
        self._audio_in = src.codec.payload_type
        self._audio_out = dst.codec.payload_type
        self._table = transcode_table(src.codec, dst.codec)
        if src.dtmf_payload_type is not None and dst.dtmf_payload_type is not None:
            self._dtmf_in, self._dtmf_out = src.dtmf_payload_type, dst.dtmf_payload_type
        else:
            self._dtmf_in = self._dtmf_out = _NONE

    def forward(self, data: bytes) -> None:
        """Relay one received packet (already checked to be RTP v2)."""
        pt = data[1] & 0x7F
        if pt == self._audio_in:
            out_pt = self._audio_out
            table = self._table
        elif pt == self._dtmf_in:
            out_pt = self._dtmf_out
            table = None
        else:
            return
        target = self._target
        addr = target.remote_addr
        if addr is None:
            return
        payload = _payload_of_complex(data) if data[0] & _COMPLEX_HEADER else data[HEADER_BYTES:]
        seq, ts, ssrc = _SEQ_TS_SSRC.unpack_from(data, 2)
        if ssrc != self._in_ssrc:
            self._resync(seq, ts, ssrc)
        seq = (seq + self._seq_offset) & 0xFFFF
        ts = (ts + self._ts_offset) & 0xFFFFFFFF
        buf = self._buf
        HEADER.pack_into(
            buf, 0, _V2, (data[1] & 0x80) | self._marker | out_pt, seq, ts, target.ssrc
        )
        self._marker = 0
        buf[HEADER_BYTES:] = payload if table is None else payload.translate(table)
        self._last_seq = seq
        self._last_ts = ts
        self.relayed += 1
        target.sendto(buf, addr)

    def _resync(self, seq: int, ts: int, ssrc: int) -> None:
        """A new source stream: splice it onto the target's stream (RFC 3550 §7.2)."""
        target = self._target
        if self._last_seq is None:
            target.begin_talkspurt()
            next_seq, next_ts = target.stream_position()
        else:
            next_seq, next_ts = self._last_seq + 1, self._last_ts + FRAME_SAMPLES
        self._in_ssrc = ssrc
        self._seq_offset = next_seq - seq
        self._ts_offset = next_ts - ts
        self._marker = 0x80

    def detach(self) -> None:
        """Hand the stream position back to the target so later sends continue it."""
        if self._last_seq is not None:
            self._target.resume_at(
                sequence=self._last_seq + 1, timestamp=self._last_ts + FRAME_SAMPLES
            )
            self._target.begin_talkspurt()


def _payload_of_complex(data: bytes) -> bytes:
    try:
        return data[header_length(data) : payload_end(data)]
    except MalformedRtp:
        return b""
