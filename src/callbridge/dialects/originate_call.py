"""seed-002's ``data`` array → :class:`OriginateRequest`, and its replies.

Every missing mandatory field is named, each in its own message; a field of the wrong
kind (an array where text belongs, a project_id that is not a number) is named too.
Replies are always ``{"has_error", "messages", "results"}`` (sent with HTTP 200: the
seed's clients read the body)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from callbridge.calls.originate.request import (
    OriginateRefused,
    OriginateRequest,
    OriginateType,
)
from callbridge.dialects.php_query import PhpValue, php_scalar

MANDATORY = ("project_id", "caller_id", "caller_id_name", "type", "destination", "external_id")
CUSTOMER_NUMBER = re.compile(r"\+?[0-9]{1,32}")
MAX_TEXT = 256
MAX_VARS = 64


def originate_reply(
    *, results: Sequence[object] = (), messages: Sequence[str] = ()
) -> dict[str, object]:
    return {"has_error": bool(messages), "messages": list(messages), "results": list(results)}


def parse_originate(params: Mapping[str, PhpValue]) -> OriginateRequest:
    data = params.get("data")
    if not isinstance(data, Mapping):
        raise OriginateRefused(*(f"Missing mandatory field: data[{name}]" for name in MANDATORY))
    problems: list[str] = []
    text: dict[str, str] = {}
    for name in (*MANDATORY, "async", "outbound_number", "outbound_trunk"):
        value = data.get(name)
        if value is None or value == "":
            if name in MANDATORY:
                problems.append(f"Missing mandatory field: data[{name}]")
            continue
        if isinstance(value, (Mapping, list)):
            problems.append(f"Invalid field: data[{name}] must be text, not an array")
            continue
        scalar = php_scalar(value).strip()
        if len(scalar) > MAX_TEXT:
            problems.append(f"Invalid field: data[{name}] is longer than {MAX_TEXT} characters")
            continue
        text[name] = scalar
    if "project_id" in text and not text["project_id"].isdigit():
        problems.append("Invalid field: data[project_id] must be a number")
    if "type" in text and text["type"] not in {t.value for t in OriginateType}:
        problems.append("Invalid type. Use user, queue or context")
    if "caller_id" in text and not CUSTOMER_NUMBER.fullmatch(text["caller_id"]):
        problems.append("Invalid caller_id. It must be a phone number: digits, optional leading +")
    number = text.get("outbound_number")
    if number is not None and not CUSTOMER_NUMBER.fullmatch(number):
        problems.append("Invalid outbound_number. It must be digits, optional leading +")
    wait = text.get("async", "1")
    if wait not in ("0", "1"):
        problems.append("Invalid async. Use 1 (reply at once) or 0 (wait for the answer)")
    variables = _vars(data.get("vars"), problems)
    if problems:
        raise OriginateRefused(*problems)
    return OriginateRequest(
        project_id=int(text["project_id"]),
        caller_id=text["caller_id"],
        caller_id_name=text["caller_id_name"],
        type=OriginateType(text["type"]),
        destination=text["destination"],
        external_id=text["external_id"],
        wait=wait == "0",
        outbound_number=number,
        outbound_trunk=text.get("outbound_trunk"),
        vars=variables,
    )


def _vars(value: PhpValue, problems: list[str]) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping):
        problems.append("Invalid field: data[vars] must be an array")
        return {}
    if len(value) > MAX_VARS:
        problems.append(f"Invalid field: data[vars] has more than {MAX_VARS} entries")
        return {}
    result: dict[str, str] = {}
    for name, each in value.items():
        if isinstance(each, (Mapping, list)):
            problems.append(f"Invalid field: data[vars][{name[:40]}] must be text")
        elif each is not None:
            result[name] = php_scalar(each)[:2048]
    return result
