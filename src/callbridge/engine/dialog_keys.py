"""Which dialog a request or a response belongs to (RFC 3261 §12): Call-ID, our tag and
the peer's tag, as the engine keys its dialogs."""

from __future__ import annotations

from aiosipua import SipRequest, SipResponse
from aiosipua.headers import parse_address

DialogKey = tuple[str, str, str]  # (Call-ID, local tag, remote tag)


def _tag(header: str | None) -> str:
    return (parse_address(header).tag or "") if header else ""


def request_dialog_key(request: SipRequest) -> DialogKey | None:
    """§12.2.2: an in-dialog request carries our tag in To."""
    local = _tag(request.get_header("to"))
    if not local:
        return None
    return (request.call_id or "", local, _tag(request.get_header("from")))


def response_dialog_key(response: SipResponse) -> DialogKey | None:
    local, remote = _tag(response.get_header("from")), _tag(response.get_header("to"))
    return (response.call_id or "", local, remote) if local and remote else None
