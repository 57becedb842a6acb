"""The HTTP face of Callbridge (FastAPI).  The call APIs mount here as they land."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from callbridge.engine.engine import Engine


def create_http_app(*, engine: Engine) -> FastAPI:
    app = FastAPI(title="Callbridge", version="0.1.0")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "legs": len(engine.legs)}

    return app
