"""Domain errors of the call service; the API layer maps them to HTTP status codes."""

from __future__ import annotations


class CallServiceError(Exception):
    """Base of the call service's errors."""


class CallNotFound(CallServiceError):
    def __init__(self, sid: str) -> None:
        super().__init__(f"no call {sid!r}")
        self.sid = sid


class CallLimitReached(CallServiceError):
    """A calls-per-second or concurrent-call limit is reached; retry after ``retry_after`` s."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerOverloaded(CallServiceError):
    """The server refuses new calls for now (it could not serve them); retry after
    ``retry_after`` s."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerDraining(ServerOverloaded):
    """The server is shutting down: it refuses new calls while its live calls finish."""


class CallNotLive(CallServiceError):
    """A hang-up or redirect was asked of a call that has already ended."""

    def __init__(self, sid: str) -> None:
        super().__init__(f"call {sid!r} is not in progress")
        self.sid = sid


class CallNotRedirectable(CallServiceError):
    """A redirect was asked of a live call that runs no application (a ``<Dial>`` leg, a
    leg of a two-leg callback)."""

    def __init__(self, sid: str) -> None:
        super().__init__(f"call {sid!r} runs no application to redirect")
        self.sid = sid


class CallbackNotFound(CallServiceError):
    """No two-leg callback has this id (or it is another API key's)."""

    def __init__(self, callback_id: str) -> None:
        super().__init__(f"no callback {callback_id!r}")
        self.callback_id = callback_id
