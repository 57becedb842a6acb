"""Where an API key's calls may go, and whom they may claim to be (toll-fraud guards).

Every destination a key reaches is checked: the ``to`` (and a click-to-call's ``from``) of
the outbound call API, both legs of a callback (``/voice/call/callback``, Bitrix24's
``callback.start``), and each ``<Dial>`` target of the documents its calls run (redirects
included).  A destination is classified as the router will treat it:

* an extension of a configured user: always allowed (the operator's own phones);
* a number (``+`` and digits, through a trunk): refused when it starts with one of the
  global ``denied_prefixes`` (emergency and premium-rate numbers by default), when the key
  has ``allowed_destinations`` and it starts with none of them, when it holds ``*`` or
  ``#`` (service codes can hide a prefix), or when its trunk is not in the key's
  ``allowed_trunks``.  ``00`` and ``011`` count as ``+``, visual separators are dropped;
* a SIP URI at a configured trunk: that trunk's number (its user part, checked as above);
  at this server with a user's extension: that user; anywhere else only with the key's
  ``allow_sip_uris`` (its user part, if a number, still meets ``denied_prefixes``).

Caller IDs (``from``, ``<Dial callerId>``, ``P-Asserted-Identity`` and the other identity
headers) must be among the key's ``caller_ids`` when it has them.  Calls without a key (a
line's inbound calls) follow the operator's configuration and are not checked.  Pure: no
I/O; :class:`DestinationRefused` names the rule that refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import unquote

from aiosipua.headers import parse_uri

from callbridge.calls.errors import CallServiceError

# Emergency numbers (dialled as such or in E.164) and premium-rate / international
# premium ranges; README lists them.  The operator replaces the list with [calls]
# denied_prefixes.
EMERGENCY_PREFIXES = (
    "911", "112", "999", "000", "110", "119",
    "+1911", "+44999", "+44112", "+49110", "+49112", "+33112",
)  # fmt: skip
PREMIUM_PREFIXES = (
    "1900", "1976", "+1900", "+1976", "0900", "+449", "+4487", "+49900", "+49137",
    "+43900", "+41900", "+39899", "+39892", "+3389", "+34803", "+34806", "+34807",
    "+34905", "+881", "+882", "+883", "+979",
)  # fmt: skip
DEFAULT_DENIED_PREFIXES = EMERGENCY_PREFIXES + PREMIUM_PREFIXES
IDENTITY_HEADERS = frozenset({"p-asserted-identity", "p-preferred-identity", "diversion"})

_NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
_SEPARATORS = str.maketrans("", "", " -.()")
_URI_IN_HEADER = re.compile(r"<([^>]*)>|((?:sips?|tel):[^\s;,>]+)", re.IGNORECASE)


class Rule:
    """The names a refusal gives (the configuration keys that refused)."""

    DENIED_PREFIXES = "denied_prefixes"
    ALLOWED_DESTINATIONS = "allowed_destinations"
    ALLOW_SIP_URIS = "allow_sip_uris"
    ALLOWED_TRUNKS = "allowed_trunks"
    CALLER_IDS = "caller_ids"


class DestinationRefused(CallServiceError):
    """An API key may not call ``destination`` (or show it as caller ID): ``rule`` says
    which rule refused, ``message`` why."""

    def __init__(self, *, destination: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.destination = destination
        self.rule = rule
        self.message = message


@dataclass(frozen=True, kw_only=True)
class KeyRules:
    """One key's rules; ``None`` lists allow anything."""

    allowed_destinations: tuple[str, ...] | None = None
    allow_sip_uris: bool = False
    allowed_trunks: tuple[str, ...] | None = None
    caller_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class TrunkAddress:
    name: str
    host: str
    port: int
    default: bool = False


@dataclass(frozen=True, kw_only=True)
class DestinationPolicy:
    """``keys`` by API key id (a key not listed has the default :class:`KeyRules`);
    ``trunks`` and ``extensions`` are the configured ones; ``local_addresses`` the (host,
    port) pairs this server's SIP answers on (its listen and advertised addresses)."""

    denied_prefixes: tuple[str, ...] = DEFAULT_DENIED_PREFIXES
    keys: Mapping[str, KeyRules] = field(default_factory=lambda: MappingProxyType({}))
    trunks: tuple[TrunkAddress, ...] = ()
    extensions: frozenset[str] = frozenset()
    local_addresses: frozenset[tuple[str, int]] = frozenset()

    def check_destination(
        self, api_key_id: str | None, destination: str, *, trunk: str | None = None
    ) -> None:
        """Raises :class:`DestinationRefused` unless the key may call ``destination``
        (through ``trunk`` when the request names one)."""
        if api_key_id is None:
            return
        rules = self.keys.get(api_key_id, KeyRules())
        target = destination.strip()
        if target.lower().startswith(("sip:", "sips:")):
            self._check_uri(rules, target)
        elif trunk is None and target in self.extensions:
            return
        elif _NUMBER.fullmatch(target.translate(_SEPARATORS)):
            self._check_number(rules, target, trunk=trunk or self._default_trunk())

    def check_caller_id(self, api_key_id: str | None, caller_id: str) -> None:
        """Raises :class:`DestinationRefused` unless the key may show ``caller_id`` (a
        number, an extension or a SIP URI: its user part counts)."""
        if api_key_id is None:
            return
        allowed = self.keys.get(api_key_id, KeyRules()).caller_ids
        if allowed is None:
            return
        user = _user_part(caller_id)
        if user is None or not any(_caller_id_matches(user, each) for each in allowed):
            raise DestinationRefused(
                destination=caller_id,
                rule=Rule.CALLER_IDS,
                message=f"caller ID {caller_id[:64]!r} is not among this API key's caller_ids",
            )

    def check_headers(self, api_key_id: str | None, headers: Iterable[tuple[str, str]]) -> None:
        """The identity headers (``P-Asserted-Identity`` ...) are caller IDs too."""
        for name, value in headers:
            if name.lower() in IDENTITY_HEADERS:
                for uri in _URI_IN_HEADER.finditer(value):
                    self.check_caller_id(api_key_id, uri.group(1) or uri.group(2))
                if not _URI_IN_HEADER.search(value):
                    self.check_caller_id(api_key_id, value)

    # --- inside ---

    def _default_trunk(self) -> str | None:
        return next((t.name for t in self.trunks if t.default), None)

    def _check_uri(self, rules: KeyRules, uri: str) -> None:
        try:
            parsed = parse_uri(uri)
        except ValueError:
            parsed = None
        if parsed is None:
            raise _refused(uri, Rule.ALLOW_SIP_URIS, "this SIP URI cannot be read")
        host = parsed.host.strip("[]").lower()
        port = parsed.port or (5061 if parsed.scheme == "sips" else 5060)
        user = unquote(parsed.user or "")
        number = user.translate(_SEPARATORS)
        trunk = next((t for t in self.trunks if (t.host, t.port) == (host, port)), None)
        if trunk is not None and _NUMBER.fullmatch(number):
            self._check_number(rules, number, trunk=trunk.name)
            return
        if (host, port) in self.local_addresses and user in self.extensions:
            return
        if not rules.allow_sip_uris:
            raise _refused(
                uri,
                Rule.ALLOW_SIP_URIS,
                "this API key may not call SIP URIs outside the configured trunks and users",
            )
        if _NUMBER.fullmatch(number):
            self._check_denied(number, uri)

    def _check_number(self, rules: KeyRules, number: str, *, trunk: str | None) -> None:
        self._check_denied(number, number)
        if "*" in number or "#" in number:
            raise _refused(
                number, Rule.ALLOWED_DESTINATIONS, "numbers with * or # are not dialled for keys"
            )
        if rules.allowed_destinations is not None:
            normal = _normal(number)
            if not any(normal.startswith(_normal(p)) for p in rules.allowed_destinations):
                raise _refused(
                    number,
                    Rule.ALLOWED_DESTINATIONS,
                    "this number is outside the API key's allowed_destinations",
                )
        allowed_trunks = rules.allowed_trunks
        if allowed_trunks is not None and trunk is not None and trunk not in allowed_trunks:
            raise _refused(
                number,
                Rule.ALLOWED_TRUNKS,
                f"trunk {trunk!r} is not among the API key's allowed_trunks",
            )

    def _check_denied(self, number: str, destination: str) -> None:
        raw = number.translate(_SEPARATORS)
        candidates = (raw, _normal(raw))
        for prefix in self.denied_prefixes:
            if any(c.startswith(prefix) or c.startswith(_normal(prefix)) for c in candidates):
                raise _refused(
                    destination,
                    Rule.DENIED_PREFIXES,
                    f"numbers starting {prefix} are refused ([calls] denied_prefixes)",
                )


def _refused(destination: str, rule: str, message: str) -> DestinationRefused:
    return DestinationRefused(destination=destination, rule=rule, message=message)


def _normal(number: str) -> str:
    """International access codes as ``+``: ``00``/``011`` + digits → ``+`` + digits."""
    number = number.translate(_SEPARATORS)
    for access in ("011", "00"):
        if number.startswith(access) and len(number) > len(access):
            return "+" + number[len(access) :]
    return number


def _user_part(address: str) -> str | None:
    value = address.strip()
    if value.lower().startswith("tel:"):
        return _normal(value[4:].split(";", 1)[0])
    if value.lower().startswith(("sip:", "sips:")):
        try:
            user = parse_uri(value).user
        except ValueError:
            return None
        return None if not user else _normal(unquote(user))
    return _normal(value) if value else None


def _caller_id_matches(user: str, allowed: str) -> bool:
    """``allowed`` is a number or extension, or a prefix ending in ``*``."""
    if allowed.endswith("*"):
        return user.startswith(_normal(allowed[:-1]))
    return user == _normal(allowed)
