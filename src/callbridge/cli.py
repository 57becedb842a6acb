"""``callbridge serve --config FILE`` runs the server; ``callbridge keys list --config FILE``
prints the API keys the database holds: name, id, scopes, limits and the signing secret of
their callbacks (never the key itself: only its hash is stored)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from callbridge.config import ConfigError, load_config
from callbridge.store.records import ApiKeyRecord


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callbridge", description="Programmable-voice server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the SIP engine and the HTTP API")
    serve.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    serve.add_argument("--log-level", default="INFO")
    keys = commands.add_parser("keys", help="the API keys in the database")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    listing = keys_commands.add_parser(
        "list", help="name, id, scopes, limits and signing secret of each active key"
    )
    listing.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    listing.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"callbridge: {exc}", file=sys.stderr)
        return 2
    if args.command == "keys":
        from callbridge.main import list_keys

        print("\n".join(key_lines(list_keys(config))))
        return 0
    from callbridge.main import run

    run(config)
    return 0


def key_lines(keys: Iterable[ApiKeyRecord]) -> list[str]:
    """One line per key, tab-separated, under a header."""
    lines = ["name\tid\tscopes\tcalls_per_second\tmax_concurrent\tsigning_secret"]
    for key in keys:
        limits = (
            "-" if key.calls_per_second is None else f"{key.calls_per_second:g}",
            "-" if key.max_concurrent is None else str(key.max_concurrent),
        )
        scopes = ",".join(key.scopes) or "-"
        lines.append("\t".join((key.name, key.id, scopes, *limits, key.signing_secret)))
    return lines


if __name__ == "__main__":
    sys.exit(main())
