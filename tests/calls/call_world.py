"""What the call-service tests work with (a module of its own: ``conftest`` is ambiguous
across test folders)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from callbridge.calls.service import CallbridgeCalls
from callbridge.engine.engine import Engine
from callbridge.store.repository import CallRepository
from callbridge.webhooks.dispatcher import WebhookDispatcher
from webhook_receiver import Receiver

ENGINE_HOST = "127.0.0.1"
ENGINE_PORT = 5073
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
# The test runs on SQLite and again on a fresh PostgreSQL database (the multi-node store).
BOTH_DATABASES = pytest.mark.parametrize(
    "database", [SQLITE, pytest.param(POSTGRESQL, marks=pytest.mark.postgresql)], indirect=True
)


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
