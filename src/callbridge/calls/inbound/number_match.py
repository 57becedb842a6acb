"""How a dialled number is matched against the configured ``[[numbers]]`` (pure).

Both sides are reduced to their digits before an exact comparison: a ``tel:``, ``sip:``
or ``sips:`` prefix (and, for a SIP URI, everything from ``@`` or ``;`` on) goes, visual
separators (space, ``-``, ``.``, ``(``, ``)``) go, and one leading ``+`` goes.  So
``+1 555-0199``, ``15550199`` and ``sip:+15550199@carrier`` all match ``+15550199``; a
national form (``05550199`` for ``+495550199``) does not: configure the form the carrier
sends.
"""

from __future__ import annotations

import re

SEPARATORS = re.compile(r"[\s\-.()]")
DIALLABLE = re.compile(r"[0-9*#]{1,32}")
SCHEMES = ("tel:", "sips:", "sip:")


def normalized_number(value: str) -> str | None:
    """The digits ``value`` stands for, or ``None`` when it is no number."""
    text = value.strip()
    lowered = text.lower()
    for scheme in SCHEMES:
        if lowered.startswith(scheme):
            text = text[len(scheme) :]
            break
    text = text.split("@", 1)[0].split(";", 1)[0]
    text = SEPARATORS.sub("", text).removeprefix("+")
    return text if DIALLABLE.fullmatch(text) else None
