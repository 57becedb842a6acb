"""The API's OpenAPI description (``/openapi.json``) and its Swagger UI (``/docs``), served
with the UI's own files from the ``swagger-ui-bundle-v2`` package: no CDN, so the page
works where the server has no internet.

FastAPI describes what the routes' signatures say; the routes read their bodies
themselves, so this module adds, per operation, the request body, the replies and the
API-key schemes from :mod:`callbridge.api.openapi_models`."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from swagger_ui_bundle import swagger_ui_path

from callbridge.api import openapi_models as m
from callbridge.api.twilio import openapi as twilio_docs

ASSETS = "/docs/assets"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
REF = "#/components/schemas/{model}"

SCHEMES: dict[str, dict[str, str]] = {
    "apikeyHeader": {"type": "apiKey", "in": "header", "name": "apikey"},
    "apikeyField": {"type": "apiKey", "in": "query", "name": "apikey"},
    "bitrixBearer": {"type": "http", "scheme": "bearer"},
    "bitrixAuthField": {"type": "apiKey", "in": "query", "name": "auth"},
}
Security = list[dict[str, list[str]]]
API_KEY: Security = [{"apikeyHeader": []}, {"apikeyField": []}]
BITRIX_KEY: Security = [{"bitrixBearer": []}, {"bitrixAuthField": []}, {"apikeyHeader": []}]

Replies = dict[int, type[BaseModel]]
_ERRORS: Replies = {400: m.ErrorBody, 401: m.ErrorBody, 403: m.ErrorBody, 429: m.ErrorBody}


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` from local files and describe every operation (the app must be
    made with ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    app.openapi = _cached(app, lambda: described(app))  # type: ignore[method-assign]


def _cached(app: FastAPI, build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build()
        return app.openapi_schema

    return openapi


def described(app: FastAPI) -> dict[str, Any]:
    with warnings.catch_warnings():  # one function serves several paths and methods
        warnings.simplefilter("ignore", UserWarning)
        spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components["securitySchemes"] = {**SCHEMES, **twilio_docs.SECURITY_SCHEMES}
    for model in (*_all_models(), *twilio_docs.MODELS):
        schema = model.model_json_schema(ref_template=REF, by_alias=True)
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas[model.__name__] = schema
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            operation["operationId"] = _operation_id(method, path)
            _describe(path, method, operation)
    return spec


def _describe(path: str, method: str, operation: dict[str, Any]) -> None:
    operation.get("responses", {}).pop("422", None)  # our 400s say what FastAPI's 422 would
    if path == "/health":
        _replies(operation, {200: m.Health})
        return
    if path.startswith("/rest/"):
        _describe_bitrix(path, method, operation)
        return
    if path.startswith("/2010-04-01/"):
        twilio_docs.describe(path, method, operation)
        return
    operation["security"] = API_KEY
    callback = path.startswith("/voice/call/callback")
    operation["tags"] = ["Two-leg callbacks (seed-000)" if callback else "Calls (seed-001)"]
    if path in (
        "/api/v2/calls",
        "/didforsaleapi/index.php/api/V2/CallTermination",
    ) or path.endswith("CallTermination/"):
        if method == "post":
            _body(operation, m.PlaceCall, FORM, JSON)
            _replies(operation, {201: m.Call, **_ERRORS, 409: m.ErrorBody, 503: m.ErrorBody})
        else:
            _replies(operation, {200: m.CallPage, **_ERRORS})
    elif path == "/api/v2/calls/{sid}":
        if method == "post":
            _body(operation, m.UpdateCall, FORM, JSON)
            _replies(operation, {200: m.Call, **_ERRORS, 404: m.ErrorBody, 409: m.ErrorBody})
        else:
            _replies(operation, {200: m.CallDetail, **_ERRORS, 404: m.ErrorBody})
    elif path == "/api/v2/keys/self":
        operation["tags"] = ["API keys"]
        _replies(operation, {200: m.ApiKey, **_ERRORS})
    elif path.startswith("/api/v2/recordings/"):
        operation["responses"] = {
            "200": {"description": "the recording", "content": {"audio/wav": {}}},
            "404": _reply(m.ErrorBody),
        }
    elif path == "/voice/call/callback":
        _body(operation, m.PlaceCallback, JSON)
        _replies(operation, {201: m.PlacedCallback, **_ERRORS, 409: m.ErrorBody, 503: m.ErrorBody})
    elif path.startswith("/voice/call/callback/"):
        _replies(operation, {200: m.CallbackDetail, **_ERRORS, 404: m.ErrorBody})


def _describe_bitrix(path: str, method: str, operation: dict[str, Any]) -> None:
    operation["tags"] = ["Bitrix24 REST (seed-003)"]
    operation["summary"] = path.rsplit("/", 1)[-1].removesuffix(".json")
    operation["security"] = [] if "{code}" in path else BITRIX_KEY
    if "callback.start" in path and method == "post":
        _body(operation, m.CallbackStart, FORM, JSON)
    errors = {code: m.BitrixError for code in (400, 401, 403, 404, 429)}
    _replies(operation, {200: m.BitrixReply, **errors})


def _body(operation: dict[str, Any], model: type[BaseModel], *media_types: str) -> None:
    schema = {"$ref": REF.format(model=model.__name__)}
    operation["requestBody"] = {
        "required": True,
        "content": {media_type: {"schema": schema} for media_type in media_types},
    }


def _replies(operation: dict[str, Any], replies: Replies) -> None:
    operation["responses"] = {str(code): _reply(model) for code, model in replies.items()}


def _reply(model: type[BaseModel]) -> dict[str, Any]:
    description = (model.__doc__ or model.__name__).strip().splitlines()[0]
    schema = {"$ref": REF.format(model=model.__name__)}
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _operation_id(method: str, path: str) -> str:
    slash = "_slash" if path.endswith("/") else ""
    return f"{method}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}{slash}"


def _all_models() -> list[type[BaseModel]]:
    return [
        value
        for value in vars(m).values()
        if isinstance(value, type) and issubclass(value, m._Doc) and value is not m._Doc
    ]
