"""The in-process media plane: RTP sessions on pooled sockets, paced by one media clock.

Implements the engine's ``MediaPlane`` and ``MediaEndpoint``
(:mod:`callbridge.engine.media_ports`); SDP offer/answer is :mod:`.negotiation`.  Playback,
DTMF sending and recording subscribe to the shared :class:`~callbridge.rtp.clock.MediaClock`
(no task per call); all sockets are read by one :class:`~callbridge.rtp.pump.PacketPump`;
a bridge relays packets on receipt (:mod:`callbridge.rtp.relay`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from callbridge.codecs.formats import FRAME_SAMPLES, PCMA, PCMU, Codec
from callbridge.codecs.g711 import encoder_for, static_decoder
from callbridge.codecs.stream import RemoteMedia
from callbridge.media.bridge import Bridge
from callbridge.media.negotiation import SdpNegotiator
from callbridge.media.plane import AudioSource, MediaDialog, MediaPortsExhausted
from callbridge.media.recorder import WavRecorder
from callbridge.media.rtp_timeout import RtpTimeout
from callbridge.media.sources import SILENT_FRAME, dtmf_tones
from callbridge.rtp.clock import MediaClock
from callbridge.rtp.dtmf import DtmfSender
from callbridge.rtp.packet import MalformedRtp, header_length, payload_end
from callbridge.rtp.ports import NoFreePort, PortLease, PortPool
from callbridge.rtp.pump import PacketPump
from callbridge.rtp.session import RtpSession

# The RTP timeout is checked once a second (every 50th tick of the 20 ms media clock).
_WATCH_TICKS = 50


class ForeignEndpoint(Exception):
    """An endpoint handed to :meth:`InProcessMediaPlane.bridge` that this plane did not make."""


class InProcessEndpoint:
    """One leg's RTP endpoint (implements ``MediaEndpoint``)."""

    def __init__(
        self,
        *,
        session: RtpSession,
        lease: PortLease,
        pool: PortPool,
        clock: MediaClock,
        host: str,
        codecs: tuple[Codec, ...] = (PCMU, PCMA),
        on_closed: Callable[[InProcessEndpoint], None] | None = None,
        rtp_timeout: float | None = None,
    ) -> None:
        self.session = session
        self.dialog: MediaDialog | None = None  # of the last offer or answer
        self._sdp = SdpNegotiator(host=host, port=lease.port, codecs=codecs)
        self.bridge: Bridge | None = None
        self._lease = lease
        self._pool = pool
        self._on_closed = on_closed
        self._clock = clock
        self._host = host
        self._playback: asyncio.Future[bool] | None = None
        self._dtmf_sending: asyncio.Future[None] | None = None
        self._dtmf_lock = asyncio.Lock()
        self._recorder: WavRecorder | None = None
        self._closed = False
        self._filling = False
        self._kept_alive = False
        self._rtp_timeout = RtpTimeout(seconds=rtp_timeout)
        self._on_rtp_timeout: Callable[[], None] | None = None
        self._watch_ticks = 0
        self._silence_fill = clock.subscribe(self._fill_tick)

    @property
    def local_host(self) -> str:
        return self._host

    @property
    def local_port(self) -> int:
        return self._lease.port

    @property
    def packets_received(self) -> int:
        return self.session.packets_received

    @property
    def packets_sent(self) -> int:
        return self.session.packets_sent

    @property
    def closed(self) -> bool:
        return self._closed

    # --- SDP offer/answer (MediaEndpoint) ---

    async def offer(self, dialog: MediaDialog, *, hold: bool = False) -> bytes:
        self.dialog = dialog
        return self._sdp.offer(hold=hold)

    async def accept_answer(self, dialog: MediaDialog, answer: bytes) -> None:
        remote = self._sdp.read_answer(answer)
        self.dialog = dialog
        self.set_remote(remote)

    async def answer(self, dialog: MediaDialog, offer: bytes) -> bytes:
        sdp = self._sdp.answer(offer)
        self.dialog = dialog
        return sdp

    def answer_sent(self, dialog: MediaDialog) -> None:
        remote = self._sdp.take_pending()
        if remote is not None and not self._closed:
            self.set_remote(remote)

    def set_remote(self, remote: RemoteMedia) -> None:
        """Send to (and accept from) ``remote``; what the SDP methods apply."""
        encoder_for(remote.codec)
        self.session.set_remote(remote)
        if self.bridge is not None:
            self.bridge.reconfigure()

    # --- playback ---

    async def play(self, source: AudioSource) -> bool:
        self.stop_playback()
        if self.bridge is not None or self._closed:
            return False
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._playback = done
        self.session.begin_talkspurt()
        subscription = self._clock.subscribe(self._playback_tick(source, done))
        try:
            return await done
        finally:
            subscription.close()
            if self._playback is done:
                self._playback = None

    def _playback_tick(self, source: AudioSource, done: asyncio.Future[bool]) -> Callable[[], None]:
        def tick() -> None:
            if done.done() or self._dtmf_sending is not None:
                return
            try:
                frame = source.read_frame()
            except Exception as exc:
                done.set_exception(exc)
                return
            if frame is None:
                done.set_result(True)
            else:
                self.session.send_audio(frame)

        return tick

    def stop_playback(self) -> None:
        if self._playback is not None and not self._playback.done():
            self._playback.set_result(False)
        self._playback = None

    def keep_alive(self) -> None:
        self._kept_alive = True
        self._rtp_timeout.start(asyncio.get_running_loop().time())

    def on_rtp_timeout(self, callback: Callable[[], None] | None) -> None:
        self._on_rtp_timeout = callback

    def _watch_rtp(self) -> None:
        expired = self._rtp_timeout.expired(
            now=asyncio.get_running_loop().time(),
            remote=self.session.remote,
            packets_received=self.session.packets_received,
        )
        if expired and self._on_rtp_timeout is not None:
            self._on_rtp_timeout()

    def _fill_tick(self) -> None:
        """Silence whenever the leg sends nothing else, once it is answered (or has sent
        anything, early media): the stream goes on through pauses and waits for the
        application, so the peer's RTP timeout does not end the call, a NAT keeps its
        binding, and the peer's jitter buffer plays out what it holds (the last DTMF end,
        say).  Before that nothing is sent: no early media is faked.  A talkspurt starts
        with each change (RFC 3551 §4.1).  Every 50th tick also checks the RTP timeout."""
        self._watch_ticks += 1
        if self._watch_ticks >= _WATCH_TICKS:
            self._watch_ticks = 0
            self._watch_rtp()
        busy = self._playback is not None or self._dtmf_sending is not None
        started = self._kept_alive or self.session.packets_sent > 0
        if busy or self.bridge is not None or self._closed or not started:
            self._filling = False
            return
        if self.session.remote is None:
            return
        if not self._filling:
            self.session.begin_talkspurt()
            self._filling = True
        self.session.send_audio(SILENT_FRAME)

    # --- DTMF ---

    async def send_dtmf(self, digits: str, *, duration_ms: int = 100, gap_ms: int = 60) -> None:
        """RFC 4733 events when negotiated, else in-band tones; nothing while bridged."""
        sender = DtmfSender(digits=digits, duration_ms=duration_ms, gap_ms=gap_ms)
        remote = self.session.remote
        if remote is None or self.bridge is not None or self._closed or not digits:
            return
        if remote.dtmf_payload_type is None:
            await self.play(dtmf_tones(digits, duration_ms=duration_ms, gap_ms=gap_ms))
            return
        async with self._dtmf_lock:
            await self._send_events(sender)

    async def _send_events(self, sender: DtmfSender) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._dtmf_sending = done
        self.session.begin_talkspurt()
        subscription = self._clock.subscribe(self._dtmf_tick(sender, done))
        try:
            await done
        finally:
            subscription.close()
            self._dtmf_sending = None
            self.session.begin_talkspurt()

    def _dtmf_tick(self, sender: DtmfSender, done: asyncio.Future[None]) -> Callable[[], None]:
        event_timestamp = 0

        def tick() -> None:
            nonlocal event_timestamp
            step = None if done.done() else sender.step()
            if step is None:
                if not done.done():
                    done.set_result(None)
                return
            if step.new_event:
                event_timestamp = self.session.stream_position()[1]
            if step.payload is not None:
                self.session.send_event(step.payload, timestamp=event_timestamp, marker=step.marker)
            self.session.advance(FRAME_SAMPLES)

        return tick

    def stop_dtmf(self) -> None:
        if self._dtmf_sending is not None and not self._dtmf_sending.done():
            self._dtmf_sending.set_result(None)

    def on_dtmf(self, callback: Callable[[str], None] | None) -> None:
        self.session.dtmf.on_digit = callback

    # --- recording ---

    def start_recording(self, path: Path) -> None:
        self.stop_recording()
        if self._closed:
            return
        self._recorder = WavRecorder(path=Path(path), clock=self._clock)
        self.session.audio_sink = self._record_packet

    def _record_packet(self, data: bytes) -> None:
        decode = static_decoder(data[1] & 0x7F)
        if decode is None or self._recorder is None:
            return
        try:
            start = header_length(data)
        except MalformedRtp:
            return
        self._recorder.write(decode(data[start : payload_end(data)]))

    def stop_recording(self) -> None:
        self.session.audio_sink = None
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.close()

    # --- lifecycle ---

    async def close(self) -> None:
        """Stop playback, DTMF, recording and any bridge; return the port to the pool."""
        if self._closed:
            return
        self._closed = True
        self._on_rtp_timeout = None
        self._silence_fill.close()
        self.stop_playback()
        self.stop_dtmf()
        self.stop_recording()
        if self.bridge is not None:
            self.bridge.dissolve()
        self.session.close()
        self._pool.release(self._lease)
        if self._on_closed is not None:
            self._on_closed(self)


class InProcessMediaPlane:
    """Allocates endpoints on ``[port_start, port_end]`` and bridges them (``MediaPlane``).

    ``advertised_host`` (default ``host``) is what endpoints report as ``local_host`` for
    SDP, e.g. the public address when binding to 0.0.0.0.  ``rtp_timeout`` (seconds; None
    or 0: never) is how long the peer of an answered endpoint may send no RTP before the
    endpoint reports it (``MediaEndpoint.on_rtp_timeout``).
    """

    def __init__(
        self,
        *,
        host: str,
        port_start: int,
        port_end: int,
        codecs: tuple[Codec, ...] = (PCMU, PCMA),
        advertised_host: str | None = None,
        rtp_timeout: float | None = None,
    ) -> None:
        for codec in codecs:
            encoder_for(codec)
        self._codecs = codecs
        self._advertised = advertised_host or host
        self._rtp_timeout = rtp_timeout
        self._pool = PortPool(host=host, start=port_start, end=port_end)
        self._clock = MediaClock()
        self._pump = PacketPump()
        self._endpoints: set[InProcessEndpoint] = set()

    @property
    def codecs(self) -> tuple[Codec, ...]:
        return self._codecs

    @property
    def clock(self) -> MediaClock:
        return self._clock

    @property
    def pool(self) -> PortPool:
        return self._pool

    async def allocate(self) -> InProcessEndpoint:
        try:
            lease = self._pool.acquire()
        except NoFreePort as exc:
            raise MediaPortsExhausted(str(exc)) from None
        try:
            session = RtpSession(sock=lease.sock, pump=self._pump)
        except BaseException:
            self._pool.release(lease)
            raise
        endpoint = InProcessEndpoint(
            session=session,
            lease=lease,
            pool=self._pool,
            clock=self._clock,
            host=self._advertised,
            codecs=self._codecs,
            on_closed=self._endpoints.discard,
            rtp_timeout=self._rtp_timeout,
        )
        self._endpoints.add(endpoint)
        return endpoint

    def bridge(self, a: object, b: object) -> None:
        left, right = self._own(a), self._own(b)
        if left is right:
            raise ForeignEndpoint("cannot bridge an endpoint to itself")
        for endpoint in (left, right):
            self.unbridge(endpoint)
            endpoint.stop_playback()
            endpoint.stop_dtmf()
        bridge = Bridge(a=left, b=right)
        left.bridge = right.bridge = bridge

    def unbridge(self, a: object) -> None:
        bridge = self._own(a).bridge
        if bridge is not None:
            bridge.dissolve()

    async def close(self) -> None:
        for endpoint in list(self._endpoints):
            await endpoint.close()
        self._endpoints.clear()
        self._pool.close()
        self._pump.close()
        await self._clock.close()

    def _own(self, endpoint: object) -> InProcessEndpoint:
        # By pool, not by membership of _endpoints: that set holds open endpoints only
        # (closed ones leave it, or every call would leak its endpoint and RTP session).
        if not isinstance(endpoint, InProcessEndpoint) or endpoint._pool is not self._pool:
            raise ForeignEndpoint(f"{endpoint!r} was not allocated by this plane")
        return endpoint
