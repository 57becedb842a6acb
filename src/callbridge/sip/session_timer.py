"""Session timers (RFC 4028): the Session-Expires and Min-SE header fields and their
negotiation, as pure functions over messages.

A session timer makes one side (the refresher) repeat a re-INVITE or UPDATE every half
interval; a session that is not refreshed in time is ended with a BYE by either side
(§10), so a dialog whose peer vanished without a BYE ends even when no media flows.
``uac``/``uas`` in the ``refresher`` parameter name the client and the server of the
transaction that set the interval, whichever side began the dialog.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from aiosipua import SipRequest, SipResponse

from callbridge.sip.message import build_response

TIMER = "timer"  # the option tag (Supported, Require)
RFC_MIN_SE = 90  # §4: the smallest interval a UA may require
_LARGEST = 2**31 - 1  # delta-seconds beyond this are not numbers we act on


class Refresher(Enum):
    UAC = "uac"
    UAS = "uas"


@dataclass(frozen=True, kw_only=True)
class SessionTimerPolicy:
    """This server's session timer: the interval it asks for and the smallest it accepts
    (``session_expires`` 0: no session timers at all)."""

    session_expires: int = 1800
    min_se: int = RFC_MIN_SE

    @property
    def enabled(self) -> bool:
        return self.session_expires > 0


@dataclass(frozen=True, kw_only=True)
class SessionInterval:
    """A negotiated session timer: its length and who refreshes it."""

    seconds: int
    refresher: Refresher

    def header(self) -> str:
        return f"{self.seconds};refresher={self.refresher.value}"

    @property
    def expiry_delay(self) -> float:
        """§10: when the side that does not refresh ends the session, a little before the
        interval runs out (the interval minus 32 s or a third of it, whichever is less)."""
        return self.seconds - min(32.0, self.seconds / 3)

    @property
    def refresh_delay(self) -> float:
        """§7.4, §10: the refresher refreshes at half the interval."""
        return self.seconds / 2


class SessionTimerError(ValueError):
    """A Session-Expires or Min-SE header that is not what RFC 4028 §4, §5 define."""


class IntervalTooSmall(Exception):
    """§9: the request's Session-Expires is below our Min-SE; answer 422 with ``min_se``."""

    def __init__(self, min_se: int) -> None:
        super().__init__(f"Session-Expires below {min_se}")
        self.min_se = min_se


def _delta_seconds(text: str, header: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 10 or int(text) > _LARGEST:
        raise SessionTimerError(f"{header} must be a number of seconds")
    return int(text)


def session_expires_of(message: SipRequest | SipResponse) -> tuple[int, Refresher | None] | None:
    """The Session-Expires (compact ``x``) of a message: seconds and refresher, if any."""
    value = message.get_header("session-expires")
    if value is None:
        value = message.get_header("x")
    if value is None:
        return None
    delta, *params = value.split(";")
    seconds = _delta_seconds(delta, "Session-Expires")
    if seconds == 0:
        raise SessionTimerError("Session-Expires must not be 0")
    refresher = None
    for param in params:
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "refresher":
            try:
                refresher = Refresher(param_value.strip().lower())
            except ValueError:
                raise SessionTimerError("refresher must be uac or uas") from None
    return seconds, refresher


def min_se_of(message: SipRequest | SipResponse) -> int | None:
    value = message.get_header("min-se")
    return None if value is None else _delta_seconds(value.split(";", 1)[0], "Min-SE")


def supports_timer(message: SipRequest | SipResponse) -> bool:
    """Whether the message lists ``timer`` in Supported (compact ``k``) or Require."""
    values = [*message.get_header_values("supported"), *message.get_header_values("require")]
    return any(tag.strip().lower() == TIMER for value in values for tag in value.split(","))


def allows_update(message: SipRequest | SipResponse) -> bool:
    """Whether the message's Allow lists UPDATE (RFC 3311): refreshes need no SDP then."""
    values = message.get_header_values("allow")
    return any(method.strip().upper() == "UPDATE" for v in values for method in v.split(","))


def answer_request(request: SipRequest, policy: SessionTimerPolicy) -> SessionInterval | None:
    """§9: the session timer a UAS applies to an INVITE, re-INVITE or UPDATE it accepts.

    The request's interval is taken, lowered to ours when it is longer (never below the
    request's Min-SE); without one, ours is applied.  The refresher is the request's
    choice, else the UAC when it supports timers, else us.  Raises
    :class:`IntervalTooSmall` (answer 422) and :class:`SessionTimerError` (answer 400)."""
    if not policy.enabled:
        return None
    asked = session_expires_of(request)
    floor = max(policy.min_se, min_se_of(request) or 0)
    if asked is not None and asked[0] < policy.min_se:
        raise IntervalTooSmall(policy.min_se)
    seconds = max(policy.session_expires, floor)
    if asked is not None:
        seconds = min(asked[0], seconds)
    if not supports_timer(request):
        return SessionInterval(seconds=seconds, refresher=Refresher.UAS)
    chosen = asked[1] if asked is not None else None
    return SessionInterval(seconds=seconds, refresher=chosen or Refresher.UAC)


def negotiate(
    request: SipRequest, policy: SessionTimerPolicy
) -> tuple[SessionInterval | None, SipResponse | None]:
    """:func:`answer_request`, or the response that refuses ``request`` instead: 422 with
    our Min-SE (§9), 400 for a malformed Session-Expires or Min-SE."""
    try:
        return answer_request(request, policy), None
    except IntervalTooSmall as exc:
        refusal = build_response(request, 422, "Session Interval Too Small")
        refusal.add_header("Min-SE", str(exc.min_se))
        return None, refusal
    except SessionTimerError as exc:
        return None, build_response(request, 400, f"Bad Request ({exc})")


def response_headers(
    interval: SessionInterval | None, request: SipRequest
) -> list[tuple[str, str]]:
    """§9: what a 2xx to ``request`` carries for ``interval``: Session-Expires, and
    ``Require: timer`` when the UAC supports it (it must then honour the refresher)."""
    if interval is None:
        return []
    headers = [("Supported", TIMER), ("Session-Expires", interval.header())]
    if supports_timer(request):
        headers.append(("Require", TIMER))
    return headers


def request_headers(
    policy: SessionTimerPolicy,
    *,
    seconds: int | None = None,
    min_se: int | None = None,
    refresh: bool = False,
) -> list[tuple[str, str]]:
    """§7.1, §7.4: what an INVITE or UPDATE of ours carries: ``seconds`` (default ours) and
    ``min_se`` (default ours, never above ``seconds``); a ``refresh`` names us, its UAC,
    the refresher."""
    if not policy.enabled:
        return []
    seconds = seconds or policy.session_expires
    expires = f"{seconds};refresher={Refresher.UAC.value}" if refresh else str(seconds)
    floor = min(min_se or policy.min_se, seconds)
    return [("Supported", TIMER), ("Session-Expires", expires), ("Min-SE", str(floor))]


def accept_response(
    response: SipResponse, policy: SessionTimerPolicy, *, asked: int | None = None
) -> SessionInterval | None:
    """§7.2: the session timer of a 2xx to our INVITE, re-INVITE or UPDATE that asked for
    ``asked`` seconds (default ours).  Without a refresher parameter the UAC, we,
    refreshes.  None when a peer that supports timers answers without Session-Expires (it
    turned the timer off, §7.2); a peer that knows nothing of timers (no ``timer`` in
    Supported or Require) keeps the interval asked for, and we refresh it, as a UAS does
    for such a caller (§9): a plain re-INVITE or UPDATE, which every UA answers.
    Raises SessionTimerError."""
    if not policy.enabled:
        return None
    given = session_expires_of(response)
    if given is not None:
        return SessionInterval(seconds=given[0], refresher=given[1] or Refresher.UAC)
    if supports_timer(response):
        return None
    return SessionInterval(seconds=asked or policy.session_expires, refresher=Refresher.UAC)


def interval_after_422(response: SipResponse, asked: int) -> int | None:
    """§7.3: the interval to ask for again after a 422 (its Min-SE), or None when the 422
    asks for nothing larger or is malformed (the failure stands)."""
    try:
        wanted = min_se_of(response)
    except SessionTimerError:
        return None
    if wanted is None or wanted <= asked:
        return None
    return wanted
