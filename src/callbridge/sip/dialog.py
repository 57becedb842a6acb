"""SIP dialogs (RFC 3261 §12): identity, route set, remote target, CSeq spaces.

A :class:`Dialog` is a value-holding object that builds in-dialog requests and says
where to send them; it does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

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
    start = value.find("<")
    if start >= 0:  # the parser refuses an unclosed "<"; never raise here all the same
        end = value.find(">", start)
        return value[start + 1 : end if end >= 0 else len(value)]
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

    def snapshot(self) -> DialogSnapshot:
        """The dialog as a value another process can end it with (:class:`DialogSnapshot`)."""
        return DialogSnapshot(
            call_id=self.call_id,
            local_tag=self.local_tag,
            remote_tag=self.remote_tag,
            local_uri=self.local_uri,
            remote_uri=self.remote_uri,
            remote_target=self.remote_target,
            route_set=tuple(self.route_set),
            local_seq=self.local_seq,
            local_display=self.local_display,
            transport=self.local.transport,
        )

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


@dataclass(frozen=True, kw_only=True)
class DialogSnapshot:
    """What identifies a dialog and routes a request in it (§12.2.1.1), without the local
    contact: stored when a call is answered, so that a later run of the server can send it
    a BYE from wherever it listens then.  ``local_seq`` is the last CSeq number used."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    route_set: tuple[str, ...]
    local_seq: int
    local_display: str | None
    transport: str

    def dialog(self, *, local: LocalContact) -> Dialog:
        return Dialog(
            call_id=self.call_id,
            local_tag=self.local_tag,
            remote_tag=self.remote_tag,
            local_uri=self.local_uri,
            remote_uri=self.remote_uri,
            remote_target=self.remote_target,
            local=local,
            route_set=list(self.route_set),
            local_seq=self.local_seq,
            local_display=self.local_display,
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "route_set": list(self.route_set)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DialogSnapshot:
        """Raises ``ValueError`` for what :meth:`to_json` cannot have written."""
        try:
            texts = {name: value[name] for name in _SNAPSHOT_TEXTS}
            routes, seq, display = value["route_set"], value["local_seq"], value["local_display"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a dialog snapshot: {exc}") from exc
        if not all(isinstance(v, str) for v in texts.values()) or texts["transport"] not in (
            "udp",
            "tcp",
        ):
            raise ValueError("a dialog snapshot's names must be strings, its transport udp/tcp")
        if not isinstance(routes, list) or not all(isinstance(r, str) for r in routes):
            raise ValueError("a dialog snapshot's route set must be a list of strings")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**31:
            raise ValueError("a dialog snapshot's CSeq must be a number below 2**31")
        if display is not None and not isinstance(display, str):
            raise ValueError("a dialog snapshot's display name must be a string")
        return cls(**texts, route_set=tuple(routes), local_seq=seq, local_display=display)


_SNAPSHOT_TEXTS = (
    "call_id",
    "local_tag",
    "remote_tag",
    "local_uri",
    "remote_uri",
    "remote_target",
    "transport",
)
