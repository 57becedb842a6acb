"""What the engine's leg signalling needs from the SIP stack and the TTS engine (ports)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from aiosipua import SipRequest, SipResponse

from callbridge.sip.dialog import LocalContact
from callbridge.sip.message import Peer
from callbridge.sip.session_timer import SessionTimerPolicy
from callbridge.sip.transaction import ClientTransaction, ServerTransaction, Timers


class DialogHandler(Protocol):
    """Receives the requests and stray responses addressed to one dialog."""

    def on_request(
        self, request: SipRequest, server_tx: ServerTransaction | None, peer: Peer
    ) -> None: ...

    def on_retransmitted_2xx(self, response: SipResponse, peer: Peer) -> None: ...


class SipStack(Protocol):
    """The engine's face towards its SIP transaction layer and transport."""

    @property
    def timers(self) -> Timers: ...

    @property
    def session_timers(self) -> SessionTimerPolicy:
        """The session timer (RFC 4028) asked for and the smallest accepted."""
        ...

    def local_for(self, transport: str) -> LocalContact: ...

    def send_request(self, request: SipRequest, peer: Peer) -> ClientTransaction: ...

    def send_raw(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        """Outside any transaction: ACK for 2xx and 2xx retransmissions (§13.3.1.4, §17.1.1.3)."""
        ...

    def register_dialog(self, key: tuple[str, str, str], handler: DialogHandler) -> None: ...

    def unregister_dialog(self, key: tuple[str, str, str]) -> None: ...


class SpeechSynthesizer(Protocol):
    async def synthesize(self, text: str, voice: str) -> Path: ...
