"""SIP messages: strict parsing, responses, identifiers and peers (RFC 3261 §7, §8.2.6).

aiosipua does the actual parsing and serialising, but its parser is lenient by design: it
decodes headers lossily, skips header lines without a colon, accepts any protocol version,
only logs a body shorter than Content-Length and never checks mandatory headers.  A server
facing the Internet must reject such input (RFC 4475 torture tests), so :func:`parse_message`
checks the wire form before handing it to aiosipua and the parsed headers afterwards.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from aiosipua import SipMessage, SipRequest, SipResponse
from aiosipua.header_codec import parse_address, parse_via, stringify_via
from aiosipua.headers import CaseInsensitiveDict

from callbridge.sip.wire_form import (
    DIGITS,
    MAX_MESSAGE_SIZE,
    SIP_VERSION,
    TOKEN,
    SipParseError,
    checked_wire_form,
)

_CSEQ = re.compile(r"^(\d{1,10})\s+(\S+)$")
_VIA = re.compile(r"^SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9-]+)\s+([^;]+?)\s*(;.*)?$", re.I | re.S)
_MANDATORY = ("via", "from", "to", "call-id", "cseq")
_SINGLE = ("from", "to", "call-id", "cseq", "content-length", "max-forwards")

# RFC 3261 §21 reason phrases, "code phrase" separated by "|".
_REASON_TABLE = (
    "100 Trying|180 Ringing|181 Call Is Being Forwarded|182 Queued|183 Session Progress|200 OK|"
    "202 Accepted|300 Multiple Choices|301 Moved Permanently|302 Moved Temporarily|"
    "400 Bad Request|401 Unauthorized|403 Forbidden|404 Not Found|405 Method Not Allowed|"
    "406 Not Acceptable|407 Proxy Authentication Required|408 Request Timeout|410 Gone|"
    "413 Request Entity Too Large|415 Unsupported Media Type|416 Unsupported URI Scheme|"
    "420 Bad Extension|423 Interval Too Brief|480 Temporarily Unavailable|"
    "481 Call/Transaction Does Not Exist|482 Loop Detected|483 Too Many Hops|"
    "484 Address Incomplete|486 Busy Here|487 Request Terminated|488 Not Acceptable Here|"
    "491 Request Pending|500 Server Internal Error|501 Not Implemented|502 Bad Gateway|"
    "503 Service Unavailable|504 Server Time-out|505 Version Not Supported|"
    "513 Message Too Large|600 Busy Everywhere|603 Decline|604 Does Not Exist Anywhere|"
    "606 Not Acceptable|"
)
_REASONS = {int(item[:3]): item[4:] for item in _REASON_TABLE.rstrip("|").split("|")}
_CLASS_REASONS = {1: "Progress", 2: "OK", 3: "Redirect", 4: "Client Error", 5: "Server Error"}


@dataclass(frozen=True, kw_only=True)
class Peer:
    """Where a message came from or goes to: the transport and the socket address."""

    transport: Literal["udp", "tcp"]
    host: str
    port: int


def reason_phrase(status: int) -> str:
    """The RFC 3261 §21 reason phrase, or a generic one for the status class."""
    return _REASONS.get(status) or _CLASS_REASONS.get(status // 100, "Global Failure")


def new_branch() -> str:
    """A Via branch with the RFC 3261 magic cookie (§8.1.1.7)."""
    return "z9hG4bK" + secrets.token_hex(10)


def new_tag() -> str:
    """A From/To tag with at least 32 bits of randomness (§19.3)."""
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    """A globally unique Call-ID (§8.1.1.4)."""
    return f"{secrets.token_hex(16)}@{host}"


# --- parsing ---


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """Parse one SIP message strictly; raises :class:`SipParseError` for malformed input.

    Leading CRLFs are ignored (§7.5); a body longer than Content-Length is cut (§18.3).
    """
    wire = checked_wire_form(data)
    try:
        # Lenient, but everything it is lenient about is checked (wire_form, or below).  The
        # body is cut first because aiosipua logs a warning for every over-long datagram.
        message = SipMessage.parse(wire)
    except ValueError as exc:
        raise SipParseError(str(exc)) from exc
    _check_headers(message)
    return message


def _check_headers(message: SipRequest | SipResponse) -> None:
    """§8.1.1 mandatory headers, single-valued ones, CSeq, Via, From/To, Max-Forwards."""
    for name in _MANDATORY:
        values = message.get_header_values(name)
        if not values or not all(v.strip() for v in values):
            raise SipParseError(f"missing {name} header")
    for name in _SINGLE:
        if len(message.get_header_values(name)) > 1:
            raise SipParseError(f"more than one {name} header")
    _check_cseq(message)
    _check_vias(message)
    _check_addresses(message)
    max_forwards = message.get_header("max-forwards")
    if max_forwards is not None and not (DIGITS.match(max_forwards) and int(max_forwards) < 256):
        raise SipParseError(f"bad Max-Forwards {max_forwards[:20]!r}")


def _check_cseq(message: SipRequest | SipResponse) -> None:
    """§20.16: a 32-bit sequence number and the request's own method."""
    raw = message.get_header("cseq") or ""
    match = _CSEQ.match(raw.strip())
    if match is None or int(match.group(1)) >= 2**31 or not TOKEN.match(match.group(2)):
        raise SipParseError(f"bad CSeq {raw[:40]!r}")
    if isinstance(message, SipRequest) and match.group(2) != message.method:
        raise SipParseError("CSeq method differs from the request method")


def _check_vias(message: SipRequest | SipResponse) -> None:
    """§20.42: normalise each Via, then check it (aiosipua folds a bad port into the host)."""
    vias = [_normal_via(value) for value in message.get_header_values("via")]
    for value in vias:
        host = parse_via(value).host
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not bare or (":" in host and not host.startswith("[")):
            raise SipParseError(f"bad Via sent-by {value[:60]!r}")
    if vias != message.get_header_values("via"):
        replace_vias(message, vias)


def _normal_via(value: str) -> str:
    """§7.3.1/§25.1: LWS may surround "/" and ":" in Via, which aiosipua's parse_via mishandles."""
    match = _VIA.match(value)
    if match is None:
        raise SipParseError(f"bad Via {value[:60]!r}")
    transport, sent_by, params = match.groups()
    compact = "".join(sent_by.split())
    return f"SIP/2.0/{transport.upper()} {compact}{(params or '').rstrip()}"


def _check_addresses(message: SipRequest | SipResponse) -> None:
    """§20.20/§20.39/§20.10: From, To and each Contact name a URI (with balanced angle
    brackets); a Contact may also be ``*`` (REGISTER, §10.2.2)."""
    for name in ("from", "to"):
        raw = message.get_header(name) or ""
        if not _names_uri(raw):
            raise SipParseError(f"bad {name} header {raw[:60]!r}")
    for raw in message.get_header_values("contact"):
        if raw.strip() != "*" and not all(_names_uri(part) for part in _split_contacts(raw)):
            raise SipParseError(f"bad Contact header {raw[:60]!r}")


def _names_uri(raw: str) -> bool:
    if raw.count("<") != raw.count(">") or raw.find(">") < raw.find("<"):
        return False
    return bool(parse_address(raw).uri.host)


def _split_contacts(raw: str) -> list[str]:
    """§20.10: contact-params separated by commas outside ``<...>`` and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(raw):
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "<>":
            depth += 1 if char == "<" else -1
        elif not quoted and depth == 0 and char == ",":
            parts.append(raw[start:index])
            start = index + 1
    parts.append(raw[start:])
    return parts


# --- building ---


def build_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> SipResponse:
    """A response to ``request`` per §8.2.6: Via (all, in order), From, To, Call-ID, CSeq copied.

    ``to_tag`` is added only when To has no tag yet (§8.2.6.2).
    """
    # aiosipua checks header values for CR/LF but not the reason phrase in the start line.
    phrase = (reason or reason_phrase(status)).replace("\r", " ").replace("\n", " ")
    response = SipResponse(status_code=status, reason_phrase=phrase)
    for via in request.get_header_values("via"):
        response.add_header("Via", via)
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = request.get_header(name)
        if value is not None:
            response.add_header(name, value)
    to = request.get_header("to")
    if to_tag and to is not None and parse_address(to).tag is None:
        response.set_header("To", f"{to};tag={to_tag}")
    for name, value in (headers or {}).items():
        response.add_header(name, value)
    if content_type is not None:
        response.set_header("Content-Type", content_type)
    response.body = body
    return response


def build_cancel(request: SipRequest) -> SipRequest:
    """§9.1: CANCEL with the INVITE's Request-URI, top Via, From, To, Call-ID, CSeq number."""
    return _same_transaction_request(request, "CANCEL", to=request.get_header("to"))


def build_ack(request: SipRequest, response: SipResponse) -> SipRequest:
    """§17.1.1.3: ACK for a non-2xx final, same branch, To (with tag) from the response."""
    return _same_transaction_request(request, "ACK", to=response.get_header("to"))


def _same_transaction_request(request: SipRequest, method: str, *, to: str | None) -> SipRequest:
    copy = SipRequest(method=method, uri=request.uri)
    copy.add_header("Via", request.get_header_values("via")[0])
    copy.add_header("From", request.get_header("from") or "")
    copy.add_header("To", to or "")
    copy.add_header("Call-ID", request.call_id or "")
    cseq = request.cseq
    copy.add_header("CSeq", f"{cseq.seq if cseq else 1} {method}")
    copy.add_header("Max-Forwards", "70")
    for route in request.get_header_values("route"):
        copy.add_header("Route", route)
    return copy


def record_source(request: SipRequest, peer: Peer) -> None:
    """§18.2.1 ``received`` and RFC 3581 ``rport`` on the top Via of an incoming request."""
    vias = request.get_header_values("via")
    top = parse_via(vias[0])
    # aiosipua's Via.rport is None both when absent and when present without a value.
    wants_rport = "rport" in top.params and not top.params["rport"]
    if top.host.strip("[]") == peer.host and not wants_rport:
        return
    top.received = peer.host
    if wants_rport:
        top.rport = str(peer.port)
    replace_vias(request, [stringify_via(top), *vias[1:]])


def replace_vias(message: SipMessage, vias: list[str]) -> None:
    """Rewrite the Via list as the first header (aiosipua's setter would move it last)."""
    others = [(name, list(values)) for name, values in message.headers.items()]
    message.headers = CaseInsensitiveDict()
    for via in vias:
        message.headers.append("Via", via)
    for name, values in others:
        if name.lower() != "via":
            for value in values:
                message.headers.append(name, value)


def ensure_branch(request: SipRequest, *, transport: str, sent_by: str) -> str:
    """§8.1.1.7: the top Via's branch, adding a Via (with RFC 3581 rport) or branch if missing."""
    vias = request.get_header_values("via")
    top = parse_via(vias[0]) if vias else None
    if top is not None and top.branch:
        return top.branch
    branch = new_branch()
    if top is not None:
        top.branch = branch
        vias = [stringify_via(top), *vias[1:]]
    else:
        vias = [f"SIP/2.0/{transport.upper()} {sent_by};branch={branch};rport"]
    replace_vias(request, vias)
    return branch


def response_to_malformed(data: bytes, error: SipParseError) -> SipResponse | None:
    """§21.4.1: a 400 (505, 513) for a rejected request, when it still names where to answer.

    aiosipua's lenient parser is exactly what is needed to recover the addressing headers.
    """
    try:
        loose = SipMessage.parse(data)
    except ValueError:
        return None
    if not isinstance(loose, SipRequest) or loose.method == "ACK":
        return None
    if not all(loose.get_header(name) for name in _MANDATORY):
        return None
    detail = "".join(c for c in str(error) if c.isprintable())[:80]
    try:
        return build_response(loose, error.status, f"{reason_phrase(error.status)} ({detail})")
    except ValueError:
        return None


__all__ = [
    "MAX_MESSAGE_SIZE",
    "SIP_VERSION",
    "Peer",
    "SipParseError",
    "build_ack",
    "build_cancel",
    "build_response",
    "ensure_branch",
    "new_branch",
    "new_call_id",
    "new_tag",
    "parse_message",
    "reason_phrase",
    "record_source",
    "replace_vias",
    "response_to_malformed",
]
