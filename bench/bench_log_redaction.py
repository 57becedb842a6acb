"""Cost of redacting secrets from log lines (``log_redaction.redact_keys``), before and after
URL credentials (``https://user:pass@host/``) were added to what it removes, side by side in
one run.

``before`` is the earlier function (query-field keys and ``/rest/<user>/<key>/`` only; a line
with neither ``=`` nor ``/rest/`` returned at once); ``after`` is the current one, which
also looks at lines holding ``@`` (every SIP URI).  Each kind of line is redacted
``--lines`` times per round, the two functions alternating by round so that load on the
machine hits both alike; prints the median µs per line of each.  No I/O.

    .venv/bin/python bench/bench_log_redaction.py [--lines 100000] [--rounds 6]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable

from callbridge.log_redaction import REDACTED, _redacted_field, redact_keys

_QUERY_FIELD = re.compile(r"([?&;])([^=&;#\s\"'?]+)=([^&;#\s\"']*)")
_WEBHOOK_KEY = re.compile(r"(/rest/[^/?#\s\"']+/)[^/?#\s\"']+")


def redact_keys_before(text: str) -> str:
    """The function as it was before URL credentials were redacted."""
    if "=" not in text and "/rest/" not in text:
        return text
    text = _QUERY_FIELD.sub(_redacted_field, text)
    return _WEBHOOK_KEY.sub(rf"\1{REDACTED}", text)


LINES = {
    "plain": "callback CA5f0c2a9e8d7b4c1a ended: connected, leg A, hung_up",
    "sip uri": "leg 7f3a-2: INVITE sip:15550100@127.0.10.2:5060 from sip:1001@127.0.0.1 -> 200",
    "url": 'GET http://127.0.0.1:41234/events?CallSid=CA1&apikey=s3cret&x=1: no answer: "refused"',
    "url with credentials": "POST https://app:pa55w0rd@hooks.example.com/cb?token=1: no answer",
    "access line": '127.0.0.1:50312 - "POST /api/v2/calls?apikey=k HTTP/1.1" 201',
}


def per_line(redact: Callable[[str], str], line: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        redact(line)
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    kinds: dict[str, Callable[[str], str]] = {"before": redact_keys_before, "after": redact_keys}
    print(f"{'line':<22} {'before µs':>10} {'after µs':>10}")
    for name, line in LINES.items():
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for round_ in range(args.rounds):
            order = list(kinds) if round_ % 2 == 0 else list(reversed(kinds))
            for kind in order:
                times[kind].append(per_line(kinds[kind], line, args.lines))
        before, after = (statistics.median(times[kind]) for kind in kinds)
        print(f"{name:<22} {before:>10.2f} {after:>10.2f}")


if __name__ == "__main__":
    main()
