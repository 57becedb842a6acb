"""Request bodies: read with a size cap (413 past it), then decoded into ``Fields`` from a
form (``application/x-www-form-urlencoded``) or a JSON object."""

from __future__ import annotations

from fastapi import Request

from callbridge.api.errors import ApiError
from callbridge.dialects.fields import Fields

MAX_BODY_BYTES = 64 * 1024
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def too_large(limit: int) -> ApiError:
    return ApiError(
        status=413,
        error_id="body_too_large",
        message=f"the request body is larger than {limit} bytes",
    )


async def read_body(request: Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, refused once past ``limit`` bytes (before reading it when
    ``Content-Length`` says so)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_fields(content_type: str, body: bytes) -> Fields:
    """``body`` as fields; an empty body has none.  Raises ``InvalidRequest`` or a 415."""
    media_type = content_type.partition(";")[0].strip().lower()
    if not body.strip():
        return Fields.of(())
    if media_type == JSON or media_type.endswith("+json"):
        return Fields.from_json(body)
    if media_type in ("", FORM):
        return Fields.from_form(body)
    raise ApiError(
        status=415,
        error_id="unsupported_media_type",
        message=f"send the fields as {FORM} or {JSON}, not {media_type[:100]}",
    )


def query_fields(request: Request) -> Fields:
    return Fields.of(request.query_params.multi_items())
