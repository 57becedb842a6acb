"""PHP's form arrays: ``parse_str`` and ``http_build_query``, as seed-002's clients use them.

``parse_php_pairs`` turns ``data[vars][SKIP_WELCOME]=1`` pairs into nested dicts (the keys
in the order they first came); ``php_build_query`` reproduces PHP's
``http_build_query($params)`` byte for byte with its defaults (``&``, PHP_QUERY_RFC1738:
space as ``+``, everything but letters, digits and ``-_.`` as ``%XX``; ``true`` as ``1``,
``false`` as ``0``, ``null`` left out), so ``md5(query . key)`` is the hash PHP made.
Pure and synchronous.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote_plus

PhpValue = str | int | float | bool | None | Mapping[str, "PhpValue"] | list["PhpValue"]
PhpArray = dict[str, PhpValue]

_SUBKEY = re.compile(r"\[([^\[\]]*)\]")
MAX_DEPTH = 8  # deeper arrays are refused (PHP's max_input_nesting_level is 64)


class PhpQueryError(ValueError):
    """A parameter name PHP would not make an array of as asked (too deep, bad brackets)."""


def php_urlencode(text: str) -> str:
    """PHP's ``urlencode``: like quote_plus, but ``~`` is encoded too."""
    return quote_plus(text, safe="").replace("~", "%7E")


def php_scalar(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value)


def php_build_query(params: Mapping[str, PhpValue]) -> str:
    parts: list[str] = []
    _build(params, None, parts)
    return "&".join(parts)


def _build(array: Mapping[str, PhpValue], prefix: str | None, parts: list[str]) -> None:
    for key, value in array.items():
        name = php_urlencode(key) if prefix is None else f"{prefix}%5B{php_urlencode(key)}%5D"
        if value is None:
            continue
        if isinstance(value, Mapping):
            _build(value, name, parts)
        elif isinstance(value, list):
            _build({str(i): each for i, each in enumerate(value)}, name, parts)
        else:
            parts.append(f"{name}={php_urlencode(php_scalar(value))}")


def parse_php_pairs(pairs: Iterable[tuple[str, str]]) -> PhpArray:
    """``parse_str`` of decoded pairs: ``a[b][c]=v`` nests, ``a[]=v`` appends; a later
    scalar replaces an earlier value of the same name (as PHP does)."""
    result: PhpArray = {}
    for name, value in pairs:
        base, _, rest = name.partition("[")
        if not base:
            raise PhpQueryError(f"parameter name {name[:60]!r} has no base name")
        keys = [base]
        if rest:
            rest = "[" + rest
            found = _SUBKEY.findall(rest)
            if "".join(f"[{k}]" for k in found) != rest:
                raise PhpQueryError(f"parameter name {name[:60]!r} has unbalanced brackets")
            keys.extend(found)
        if len(keys) > MAX_DEPTH:
            raise PhpQueryError(f"parameter name {name[:60]!r} nests too deep")
        _put(result, keys, value)
    return result


def _put(array: PhpArray, keys: list[str], value: str) -> None:
    node = array
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if key == "":
            key = str(_next_index(node))
        if last:
            node[key] = value
            return
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child


def _next_index(node: Mapping[str, PhpValue]) -> int:
    numbers = [int(k) for k in node if k.isdigit()]
    return max(numbers) + 1 if numbers else 0
