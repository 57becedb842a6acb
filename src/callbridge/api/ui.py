"""``/ui``: a read-only page listing recent calls and one call's timeline (events, SIP
final codes, webhook deliveries with their status and delay, recordings to play).

The page is three static files shipped in the package; it asks for an API key and reads
the outbound call API with it, so it shows exactly what that key may see and nothing is
served without one.  A strict Content-Security-Policy (scripts and styles from this server
only) keeps call data, which the page renders as text, from ever running as code."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

_ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "media-src blob:; img-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _asset(name: str) -> bytes:
    return files("callbridge.api").joinpath("ui", name).read_bytes()


def ui_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    assets = {name: _asset(name) for name in _ASSETS}
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }

    def serve(name: str) -> Response:
        return Response(assets[name], media_type=_ASSETS[name], headers=headers)

    @router.get("/ui")
    async def page() -> Response:
        return serve("index.html")

    @router.get("/ui/app.js")
    async def script() -> Response:
        return serve("app.js")

    @router.get("/ui/app.css")
    async def style() -> Response:
        return serve("app.css")

    return router
