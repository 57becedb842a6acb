"""The Twilio-compatible API's part of the OpenAPI description: its request and reply
shapes (description only: the routes read their bodies themselves) and how each of its
operations is described."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

REF = "#/components/schemas/{model}"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SCHEME = "twilioBasic"
SECURITY_SCHEMES = {SCHEME: {"type": "http", "scheme": "basic"}}
TAG = "Twilio-compatible Calls API"
CallbackEventName = Literal["initiated", "ringing", "answered", "completed"]


class _Doc(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class TwilioError(_Doc):
    """An error in Twilio's shape"""

    code: int = Field(description="Twilio's error code, e.g. 20404")
    message: str
    more_info: str
    status: int


class TwilioCall(_Doc):
    """A Call resource as Twilio renders it"""

    sid: str
    account_sid: str = Field(description="the API key's name")
    parent_call_sid: str | None
    to: str
    to_formatted: str
    from_: str = Field(alias="from")
    from_formatted: str
    status: Literal[
        "queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"
    ]
    direction: Literal["outbound-api", "outbound-dial", "inbound"]
    date_created: str = Field(description="RFC 2822")
    date_updated: str = Field(description="RFC 2822")
    start_time: str | None
    end_time: str | None
    duration: str | None
    price: None
    price_unit: str
    answered_by: None
    api_version: Literal["2010-04-01"]
    caller_name: str | None
    forwarded_from: None
    group_sid: None
    phone_number_sid: None
    queue_time: str
    trunk_sid: None
    annotation: None
    uri: str
    subresource_uris: dict[str, str]


class _Page(_Doc):
    page: int
    page_size: int
    start: int
    end: int
    uri: str
    first_page_uri: str
    next_page_uri: str | None
    previous_page_uri: str | None


class TwilioCallPage(_Page):
    """A page of calls in Twilio's envelope"""

    calls: list[TwilioCall]


class TwilioRecording(_Doc):
    sid: str
    account_sid: str
    call_sid: str
    duration: str | None
    status: str
    media_url: str
    uri: str
    extra: dict[str, Any] = Field(default_factory=dict, description="Twilio's other fields")


class TwilioRecordingPage(_Page):
    """A call's recordings in Twilio's envelope"""

    recordings: list[TwilioRecording]


class TwilioCreateCall(_Doc):
    To: str
    From: str
    Url: str | None = None
    Method: Literal["GET", "POST"] = "POST"
    Twiml: str | None = Field(default=None, description="inline TwiML, at most 4000 characters")
    StatusCallback: str | None = None
    StatusCallbackMethod: Literal["GET", "POST"] = "POST"
    StatusCallbackEvent: list[CallbackEventName] = Field(default_factory=list)
    Timeout: int = 60
    Record: bool = False
    SendDigits: str | None = None
    CallerId: str | None = None


class TwilioUpdateCall(_Doc):
    Status: Literal["completed", "canceled"] | None = None
    Url: str | None = None
    Method: Literal["GET", "POST"] = "POST"
    Twiml: str | None = None


MODELS: tuple[type[BaseModel], ...] = (
    TwilioError,
    TwilioCall,
    TwilioCallPage,
    TwilioRecording,
    TwilioRecordingPage,
    TwilioCreateCall,
    TwilioUpdateCall,
)
_ERRORS = {code: TwilioError for code in (400, 401, 403, 404, 429)}


def describe(path: str, method: str, operation: dict[str, Any]) -> None:
    operation["tags"] = [TAG]
    operation["security"] = [{SCHEME: []}]
    if path.endswith(".wav"):
        operation["responses"] = {
            "200": {"description": "the recording", "content": {"audio/wav": {}}},
            "404": _reply(TwilioError),
        }
    elif path.endswith("/Recordings.json"):
        _replies(operation, {200: TwilioRecordingPage, **_ERRORS})
    elif path.endswith("/Calls.json") and method == "post":
        _body(operation, TwilioCreateCall)
        _replies(operation, {201: TwilioCall, **_ERRORS, 503: TwilioError})
    elif path.endswith("/Calls.json"):
        _replies(operation, {200: TwilioCallPage, **_ERRORS})
    elif method == "post":
        _body(operation, TwilioUpdateCall)
        _replies(operation, {200: TwilioCall, **_ERRORS})
    else:
        _replies(operation, {200: TwilioCall, **_ERRORS})


def _body(operation: dict[str, Any], model: type[BaseModel]) -> None:
    schema = {"$ref": REF.format(model=model.__name__)}
    operation["requestBody"] = {"required": True, "content": {FORM: {"schema": schema}}}


def _replies(operation: dict[str, Any], replies: dict[int, type[BaseModel]]) -> None:
    operation["responses"] = {str(code): _reply(model) for code, model in replies.items()}


def _reply(model: type[BaseModel]) -> dict[str, Any]:
    description = (model.__doc__ or model.__name__).strip().splitlines()[0]
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": REF.format(model=model.__name__)}}},
    }
