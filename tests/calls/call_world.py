"""What the call-service tests work with (a module of its own: ``conftest`` is ambiguous
across test folders)."""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.calls.service import CallbridgeCalls
from callbridge.engine.engine import Engine
from callbridge.store.repository import CallRepository
from callbridge.webhooks.dispatcher import WebhookDispatcher
from webhook_receiver import Receiver

ENGINE_HOST = "127.0.0.1"
ENGINE_PORT = 5073


class Unlimited:
    """Admission that admits every call (the limiter has its own tests)."""

    class _Permit:
        def release(self) -> None:
            pass

    def admit(self, api_key_id: str | None) -> _Permit:
        return self._Permit()


@dataclass
class CallWorld:
    engine: Engine
    calls: CallbridgeCalls
    repository: CallRepository
    receiver: Receiver
    dispatcher: WebhookDispatcher
