"""One RTP stream over a held UDP socket (RFC 3550), with symmetric RTP (RFC 4961).

Datagrams arrive through the shared :class:`~callbridge.rtp.pump.PacketPump` rather than
an asyncio transport per socket (see that module for why).

Sending: sequence numbers and timestamps start random and advance per packet and per
sample (RFC 3550 §5.1); the marker bit flags the first packet of a talkspurt
(RFC 3551 §4.1) and the timestamp then jumps by the silent interval.

Receiving: the first packet latches the destination to its source address when it
differs from the SDP address ("comedia", RFC 4961 §2 symmetric RTP behind NAT); after
that only the latched source is accepted.  Accepted packets are dispatched to the DTMF
receiver (telephone-event PT, RFC 4733), otherwise to the audio sink (recorder), and
also to the bridge relay when one is attached.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Callable
from typing import Any

from callbridge.codecs.formats import FRAME_SAMPLES, FRAME_SECONDS, PCMU
from callbridge.codecs.g711 import encoder_for
from callbridge.codecs.stream import RemoteMedia
from callbridge.rtp.dtmf import DtmfReceiver
from callbridge.rtp.packet import (
    HEADER_BYTES,
    SEQ_TS_SSRC,
    MalformedRtp,
    build_packet,
    header_length,
    payload_end,
)
from callbridge.rtp.pump import PacketPump

log = logging.getLogger(__name__)

Address = tuple[Any, ...]
PacketHandler = Callable[[bytes], None]


class RtpSession:
    """Send and receive RTP on one held socket for one call leg.

    Receiving goes through the shared :class:`~callbridge.rtp.pump.PacketPump`, which calls
    :meth:`datagram_received` (same contract as ``asyncio.DatagramProtocol``); sending
    writes straight to the non-blocking socket and drops the packet when the socket
    buffer is full (late audio is worthless).
    """

    def __init__(self, *, sock: socket.socket, pump: PacketPump) -> None:
        self.sock = sock
        self.remote: RemoteMedia | None = None
        self.remote_addr: Address | None = None
        self.ssrc = secrets.randbits(32)
        self.packets_received = 0
        self.packets_sent = 0
        self.send_drops = 0
        self.send_errors = 0
        self.dtmf = DtmfReceiver()
        self.audio_sink: PacketHandler | None = None
        self.forward: PacketHandler | None = None
        self._pump: PacketPump | None = pump
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._marker_next = True
        self._last_sent_at: float | None = None
        self._latch_after = 0
        self._dtmf_pt = -1
        self._audio_pt = PCMU.payload_type
        self._encode = encoder_for(PCMU)
        self._sending = True
        pump.add(sock, self.datagram_received)

    @property
    def local_port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    @property
    def closed(self) -> bool:
        return self._pump is None

    def datagram_received(self, data: bytes, addr: Address) -> None:
        """Accept (RFC 4961 latching) and dispatch one received datagram."""
        if addr != self.remote_addr and not self._accept_source(addr):
            return
        if len(data) < HEADER_BYTES or data[0] & 0xC0 != 0x80:
            return
        self.packets_received += 1
        if data[1] & 0x7F == self._dtmf_pt:
            self._receive_dtmf(data)
        elif self.audio_sink is not None:
            self.audio_sink(data)
        if self.forward is not None:
            self.forward(data)

    # --- configuration ---

    def set_remote(self, remote: RemoteMedia) -> None:
        """Send to ``remote`` with its codec; the next received packet may latch (RFC 4961).
        Nothing is sent while it does not receive (hold); sending again starts a talkspurt."""
        if remote.receives and not self._sending:
            self.begin_talkspurt()
        self._sending = remote.receives
        self.remote = remote
        self.remote_addr = (remote.host, remote.port)
        self._latch_after = self.packets_received
        self._audio_pt = remote.codec.payload_type
        self._encode = encoder_for(remote.codec)
        self._dtmf_pt = -1 if remote.dtmf_payload_type is None else remote.dtmf_payload_type

    def _accept_source(self, addr: Address) -> bool:
        if self.remote_addr is None or self.packets_received != self._latch_after:
            return False
        self.remote_addr = addr
        return True

    # --- sending ---

    def begin_talkspurt(self) -> None:
        """Mark the next packet and advance the timestamp over the silence (RFC 3551 §4.1)."""
        self._marker_next = True
        if self._last_sent_at is not None:
            loop = asyncio.get_running_loop()
            silent_frames = round((loop.time() - self._last_sent_at) / FRAME_SECONDS) - 1
            self._ts = (self._ts + max(0, silent_frames) * FRAME_SAMPLES) & 0xFFFFFFFF
        self._last_sent_at = None

    def stream_position(self) -> tuple[int, int]:
        """(sequence, timestamp) the next packet will carry."""
        return self._seq, self._ts

    def resume_at(self, *, sequence: int, timestamp: int) -> None:
        """Continue the stream after someone else (the relay) sent on this SSRC."""
        self._seq = sequence & 0xFFFF
        self._ts = timestamp & 0xFFFFFFFF
        self._last_sent_at = asyncio.get_running_loop().time()

    def send_audio(self, pcm: bytes) -> None:
        """Encode one PCM frame with the negotiated codec and send it (RFC 3550 §5.1)."""
        self._send(self._audio_pt, self._encode(pcm), self._ts)
        self._ts = (self._ts + len(pcm) // 2) & 0xFFFFFFFF

    def send_event(self, payload: bytes, *, timestamp: int, marker: bool) -> None:
        """Send a telephone-event payload (RFC 4733 §2.3) stamped with its event start."""
        if self.remote is None or self.remote.dtmf_payload_type is None:
            return
        if marker:
            self._marker_next = True
        self._send(self.remote.dtmf_payload_type, payload, timestamp)

    def advance(self, samples: int) -> None:
        """Move the running timestamp on by ``samples`` without sending audio."""
        self._ts = (self._ts + samples) & 0xFFFFFFFF

    def _send(self, payload_type: int, payload: bytes, timestamp: int) -> None:
        addr = self.remote_addr
        if addr is None or self._pump is None or not self._sending:
            return
        packet = build_packet(
            payload_type=payload_type,
            sequence=self._seq,
            timestamp=timestamp,
            ssrc=self.ssrc,
            payload=payload,
            marker=self._marker_next,
        )
        self._marker_next = False
        self._seq = (self._seq + 1) & 0xFFFF
        self._last_sent_at = asyncio.get_running_loop().time()
        self.sendto(packet, addr)

    def sendto(self, packet: bytes | bytearray, addr: Address) -> None:
        """Send straight on the non-blocking socket; a full buffer drops the packet.  The
        relay sends here too, so a held peer gets nothing relayed either.

        Never raises: an address the socket refuses (a port out of range, the wrong family)
        drops the packet too, and only the first such failure of the stream is logged."""
        if not self._sending:
            return
        self.packets_sent += 1
        try:
            self.sock.sendto(packet, addr)
        except OSError:
            self.send_drops += 1
        except (OverflowError, ValueError, TypeError) as exc:
            self.send_drops += 1
            self.send_errors += 1
            if self.send_errors == 1:
                log.warning("RTP to %.60r cannot be sent: %.100s", addr, exc)

    # --- receiving ---

    def _receive_dtmf(self, data: bytes) -> None:
        try:
            start = header_length(data)
        except MalformedRtp:
            return
        _, timestamp, _ = SEQ_TS_SSRC.unpack_from(data, 2)
        self.dtmf.receive(timestamp, data[start : payload_end(data)])

    def close(self) -> None:
        """Stop receiving; the socket itself stays open (the port pool holds it)."""
        self.forward = None
        self.audio_sink = None
        if self._pump is not None:
            self._pump.remove(self.sock)
            self._pump = None
