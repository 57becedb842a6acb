"""SIP dialogs (RFC 3261 §12): identity, route set, remote target, CSeq spaces.

A :class:`Dialog` is a value-holding object that builds in-dialog requests and says
where to send them; it does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiosipua import SipRequest, SipResponse
from aiosipua.headers import parse_address, parse_uri

from callbridge.sip.message import Peer, new_branch


@dataclass(frozen=True)
class LocalContact:
    """Where this server can be reached: the Via sent-by and the Contact URI."""

    host: str
    port: int
    transport: str  # "udp" | "tcp"
    user: str = "callbridge"

    @property
    def via_value(self) -> str:
        return (
            f"SIP/2.0/{self.transport.upper()} {self.host}:{self.port};branch={new_branch()};rport"
        )

    @property
    def contact_uri(self) -> str:
        suffix = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{self.user}@{self.host}:{self.port}{suffix}"


def _tag_of(header: str | None) -> str:
    return (parse_address(header).tag or "") if header else ""


def _uri_of(header: str | None) -> str:
    if not header:
        return ""
    value = header.strip()
    if "<" in value:
        return value[value.index("<") + 1 : value.index(">")]
    return value.split(";", 1)[0]


def peer_for_uri(uri: str, *, default_transport: str) -> Peer:
    """Where a request for ``uri`` goes (RFC 3263 minus DNS: host, port, transport param)."""
    parsed = parse_uri(uri)
    transport = (parsed.params.get("transport") or default_transport).lower()
    return Peer(transport=transport, host=parsed.host.strip("[]"), port=parsed.port or 5060)  # type: ignore[arg-type]


@dataclass
class Dialog:
    """One confirmed or early dialog (§12.1, §12.2)."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    local: LocalContact
    route_set: list[str] = field(default_factory=list)
    local_seq: int = 1
    remote_seq: int | None = None
    local_display: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def as_uac(cls, *, request: SipRequest, response: SipResponse, local: LocalContact) -> Dialog:
        """§12.1.2: route set is the response's Record-Route reversed."""
        contact = response.get_header("contact")
        cseq = request.cseq
        return cls(
            call_id=request.call_id or "",
            local_tag=_tag_of(request.get_header("from")),
            remote_tag=_tag_of(response.get_header("to")),
            local_uri=_uri_of(request.get_header("from")),
            remote_uri=_uri_of(request.get_header("to")),
            remote_target=_uri_of(contact) or request.uri,
            local=local,
            route_set=list(reversed(response.get_header_values("record-route"))),
            local_seq=cseq.seq if cseq else 1,
            local_display=parse_address(request.get_header("from") or "").display_name,
        )

    @classmethod
    def as_uas(cls, *, request: SipRequest, local_tag: str, local: LocalContact) -> Dialog:
        """§12.1.1: route set is the request's Record-Route in order."""
        cseq = request.cseq
        return cls(
            call_id=request.call_id or "",
            local_tag=local_tag,
            remote_tag=_tag_of(request.get_header("from")),
            local_uri=_uri_of(request.get_header("to")),
            remote_uri=_uri_of(request.get_header("from")),
            remote_target=_uri_of(request.get_header("contact"))
            or _uri_of(request.get_header("from")),
            local=local,
            route_set=list(request.get_header_values("record-route")),
            local_seq=0,
            remote_seq=cseq.seq if cseq else None,
        )

    def next_hop(self) -> Peer:
        """§12.2.1.1 with loose routing (§16.12): first Route if any, else the remote target."""
        uri = _uri_of(self.route_set[0]) if self.route_set else self.remote_target
        return peer_for_uri(uri, default_transport=self.local.transport)

    def create_request(
        self,
        method: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        extra_headers: dict[str, str] | None = None,
        cseq: int | None = None,
    ) -> SipRequest:
        """An in-dialog request (§12.2.1.1); ACK reuses the INVITE's CSeq number."""
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        request = SipRequest(method=method, uri=self.remote_target)
        request.add_header("Via", self.local.via_value)
        local = f"<{self.local_uri}>;tag={self.local_tag}"
        if self.local_display:
            local = f'"{self.local_display}" {local}'
        request.add_header("From", local)
        remote_tag = f";tag={self.remote_tag}" if self.remote_tag else ""
        request.add_header("To", f"<{self.remote_uri}>{remote_tag}")
        request.add_header("Call-ID", self.call_id)
        request.add_header("CSeq", f"{cseq} {method}")
        request.add_header("Max-Forwards", "70")
        for route in self.route_set:
            request.add_header("Route", route)
        if method in ("INVITE", "UPDATE"):
            request.add_header("Contact", f"<{self.local.contact_uri}>")
        for name, value in (extra_headers or {}).items():
            request.add_header(name, value)
        if content_type:
            request.add_header("Content-Type", content_type)
        request.body = body
        return request

    def accepts_remote_cseq(self, request: SipRequest) -> bool:
        """§12.2.2: a lower CSeq than the last one seen is out of order (answer 500)."""
        cseq = request.cseq
        if cseq is None:
            return False
        if request.method == "ACK":
            return True
        if self.remote_seq is not None and cseq.seq <= self.remote_seq:
            return cseq.seq == self.remote_seq and request.method == "CANCEL"
        self.remote_seq = cseq.seq
        return True
