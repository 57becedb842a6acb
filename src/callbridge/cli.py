"""``callbridge serve --config FILE``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from callbridge.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callbridge", description="Programmable-voice server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the SIP engine and the HTTP API")
    serve.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    serve.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"callbridge: {exc}", file=sys.stderr)
        return 2
    from callbridge.main import run

    run(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
