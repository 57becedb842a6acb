"""CPU a SIP/TCP peer costs by trickling a header: the framing before and after.

A slowloris sends a header a few bytes at a time and never ends it.  The framing of
before (kept here as ``rescanning_next_frame``, the function ``callbridge.sip.transport``
had) searched the whole buffer for the end of the header on every read, so a 64 KiB header
cost quadratic work; :class:`callbridge.sip.framing.StreamFramer` resumes its search where
the last one stopped.  Both are fed the same header (up to the 64 KiB limit, where the
connection is closed) in chunks of ``--chunk`` bytes; printed: CPU seconds per connection
and how many such connections one core can serve per second.  Pure CPU, no sockets.

    .venv/bin/python bench/bench_tcp_framing.py [--chunk 1,16,256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import time

from callbridge.sip.framing import FramingError, StreamFramer
from callbridge.sip.message import MAX_MESSAGE_SIZE

_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t\r]*$", re.I | re.M)
HEADER = b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nX-Pad: " + b"a" * MAX_MESSAGE_SIZE


def rescanning_next_frame(buffer: bytearray) -> bytes | None:
    """The framing of before (callbridge.sip.transport.next_frame, shortened)."""
    start = 0
    while start < len(buffer) and buffer[start] in b"\r\n":
        start += 1
    del buffer[:start]
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE_SIZE:
            raise ValueError("header section too large")
        return None
    lengths = _CONTENT_LENGTH.findall(bytes(buffer[:end]))
    total = end + 4 + (int(lengths[0]) if lengths else 0)
    if len(buffer) < total:
        return None
    frame = bytes(buffer[:total])
    del buffer[:total]
    return frame


def before(chunk: int) -> float:
    started = time.process_time()
    buffer = bytearray()
    try:
        for offset in range(0, len(HEADER), chunk):
            buffer += HEADER[offset : offset + chunk]
            while rescanning_next_frame(buffer) is not None:
                pass
    except ValueError:
        pass
    return time.process_time() - started


def after(chunk: int) -> float:
    started = time.process_time()
    framer = StreamFramer()
    try:
        for offset in range(0, len(HEADER), chunk):
            framer.feed(HEADER[offset : offset + chunk])
            while framer.next() is not None:
                pass
    except FramingError:
        pass
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk", default="1,16,256", help="bytes per read, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"a {len(HEADER)} byte header without its end, fed in chunks; best of {args.repeat}")
    columns = ("chunk", "before s", "after s", "before conn/s", "after conn/s")
    print(" ".join(f"{name:>13}" for name in columns))
    for chunk in (int(c) for c in args.chunk.split(",")):
        old = min(before(chunk) for _ in range(args.repeat))
        new = min(after(chunk) for _ in range(args.repeat))
        print(f"{chunk:>13} {old:>13.4f} {new:>13.4f} {1 / old:>13.1f} {1 / new:>13.1f}")


if __name__ == "__main__":
    main()
