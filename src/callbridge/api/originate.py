"""seed-002's OriginateCall API.

    POST|GET /api/originate-call      originate (parameters as PHP's nested form, a query
                                      string or a JSON object; ``data[...]``)
    GET /api/originate-call?external_id=...    the state of the call with that external_id
                                      (read from the stored calls)

Both authenticate with ``api_username``, ``api_password`` and ``api_hash``.  Every reply,
error or not, is ``{"has_error", "messages", "results"}`` with HTTP 200 (the seed's
clients read the body, never the status).
"""

from __future__ import annotations

import json
import logging
from typing import Protocol
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from callbridge.api.body import MAX_BODY_BYTES, read_body
from callbridge.api.errors import ApiError
from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.request import OriginateRefused, OriginateRequest
from callbridge.calls.originate.state import OriginatedCall
from callbridge.dialects.originate_auth import OriginateClients
from callbridge.dialects.originate_call import MAX_TEXT, originate_reply, parse_originate
from callbridge.dialects.php_query import PhpArray, PhpQueryError, parse_php_pairs

ORIGINATE_PATH = "/api/originate-call"
log = logging.getLogger(__name__)


class Originator(Protocol):
    async def originate(self, client: OriginateClient, request: OriginateRequest) -> str: ...

    async def find(self, client: OriginateClient, external_id: str) -> OriginatedCall | None: ...


def originate_router(
    *, originator: Originator, clients: OriginateClients, max_body_bytes: int = MAX_BODY_BYTES
) -> APIRouter:
    router = APIRouter()

    async def originate_call(request: Request) -> JSONResponse:
        try:
            params = await _params(request, max_body_bytes)
            client = clients.authenticate(params)
            if "data" not in params and "external_id" in params:
                found = await _state_json(originator, client, params.get("external_id"))
                return _reply(results=[found])
            asked = parse_originate(params)
            return _reply(results=[await originator.originate(client, asked)])
        except OriginateRefused as refused:
            return _reply(messages=refused.messages)
        except Exception:  # the seed's clients read the body: never a bare 500
            log.exception("originate-call failed")
            return _reply(messages=("Internal error. The call was not originated",))

    for path in (ORIGINATE_PATH, f"{ORIGINATE_PATH}/"):
        router.add_api_route(path, originate_call, methods=["GET", "POST"])
    return router


def _reply(*, results: list[object] | None = None, messages: tuple[str, ...] = ()) -> JSONResponse:
    return JSONResponse(
        originate_reply(results=results or [], messages=messages),
        headers={"Cache-Control": "no-store"},
    )


async def _params(request: Request, limit: int) -> PhpArray:
    """The query's parameters, then the body's (a form or a JSON object), as PHP sees them."""
    try:
        body = await read_body(request, limit=limit)
    except ApiError as exc:
        raise OriginateRefused(f"Invalid request: {exc}") from exc
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json" or (not content_type and body[:1] == b"{"):
            parsed = parse_php_pairs(pairs)
            document = json.loads(body)
            if not isinstance(document, dict):
                raise OriginateRefused("Invalid request: the JSON body must be an object")
            parsed.update(document)
            return parsed
        pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        return parse_php_pairs(pairs)
    except (ValueError, RecursionError, PhpQueryError) as exc:  # UnicodeDecodeError too
        raise OriginateRefused(f"Invalid request: {str(exc)[:120]}") from exc


async def _state_json(
    originator: Originator, client: OriginateClient, external_id: object
) -> dict[str, object]:
    if not isinstance(external_id, str) or not external_id.strip():
        raise OriginateRefused("Missing mandatory field: external_id")
    external_id = external_id.strip()  # as an originate request's is stored
    if len(external_id) > MAX_TEXT:
        raise OriginateRefused(f"Invalid field: external_id is longer than {MAX_TEXT} characters")
    call = await originator.find(client, external_id)
    if call is None:
        raise OriginateRefused(f"Invalid external_id. No call with external_id {external_id}")
    asked = call.placement
    return {
        "external_id": call.external_id,
        "type": str(asked.type),
        "destination": asked.destination,
        "caller_id": asked.caller_id,
        "status": str(call.status),
        "detail": call.detail,
        "started_at": call.started_at.isoformat(),
        "call_sid": call.call_sid,
        **({"customer_call_sid": call.customer_call_sid} if call.customer_call_sid else {}),
    }
