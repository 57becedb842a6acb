"""Reading one XML element of a dialect document: attributes, text and children, strictly.

Every problem raises :class:`InvalidDocument` naming the element and the attribute.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TypeVar
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element

from callbridge.dialects.errors import InvalidDocument

_BOOLEANS = {"true": True, "false": False}
T = TypeVar("T")


def check_attributes(element: Element, allowed: Iterable[str]) -> None:
    unknown = sorted(set(element.attrib) - set(allowed))
    if unknown:
        raise InvalidDocument(f"<{element.tag}>: unknown attribute {unknown[0]!r}")


def text_of(element: Element) -> str:
    """The element's text, stripped; it may not have child elements."""
    if len(element):
        raise InvalidDocument(f"<{element.tag}> cannot contain <{element[0].tag}>")
    return (element.text or "").strip()


def check_empty(element: Element) -> None:
    if text_of(element):
        raise InvalidDocument(f"<{element.tag}> takes no text content")


def require_text(element: Element) -> str:
    text = text_of(element)
    if not text:
        raise InvalidDocument(f"<{element.tag}> needs text content")
    return text


def check_no_stray_text(element: Element) -> None:
    """Only whitespace may sit between an element's children."""
    pieces = [element.text, *(child.tail for child in element)]
    if any(piece and piece.strip() for piece in pieces):
        raise InvalidDocument(f"<{element.tag}> contains stray text")


def _bad(element: Element, name: str, value: str, expected: str) -> InvalidDocument:
    return InvalidDocument(f'<{element.tag} {name}="{value}">: expected {expected}')


def string_attr(element: Element, name: str) -> str | None:
    value = element.get(name)
    if value is not None and not value.strip():
        raise _bad(element, name, value, "a non-empty value")
    return value


def int_attr(element: Element, name: str, default: int) -> int:
    value = element.get(name)
    if value is None:
        return default
    try:
        return int(value.strip(), 10)
    except ValueError:
        raise _bad(element, name, value, "an integer") from None


def optional_int_attr(element: Element, name: str) -> int | None:
    return int_attr(element, name, 0) if name in element.attrib else None


def float_attr(element: Element, name: str, default: float) -> float:
    value = element.get(name)
    if value is None:
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise _bad(element, name, value, "a number of seconds") from None
    if not math.isfinite(number):
        raise _bad(element, name, value, "a finite number of seconds")
    return number


def optional_float_attr(element: Element, name: str) -> float | None:
    return float_attr(element, name, 0.0) if name in element.attrib else None


def bool_attr(element: Element, name: str, default: bool) -> bool:
    return choice_attr(element, name, _BOOLEANS, default)


def choice_attr(element: Element, name: str, choices: dict[str, T], default: T) -> T:
    value = element.get(name)
    if value is None:
        return default
    if value.strip().lower() not in choices:
        raise _bad(element, name, value, " or ".join(sorted(choices)))
    return choices[value.strip().lower()]


def method_attr(element: Element, name: str = "method") -> str:
    return choice_attr(element, name, {"get": "GET", "post": "POST"}, "POST")


def resolve_url(element: Element, reference: str, base_url: str) -> str:
    """``reference`` made absolute against ``base_url``; only http(s) URLs are accepted."""
    url = urljoin(base_url, reference.strip())
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidDocument(f"<{element.tag}>: {reference!r} is not an http(s) URL")
    return url


def url_attr(element: Element, name: str, base_url: str) -> str | None:
    value = string_attr(element, name)
    return None if value is None else resolve_url(element, value, base_url)
