"""The ``callbridge`` command.

    callbridge --version
    callbridge serve --config FILE [--log-level LEVEL]
    callbridge check-config FILE
    callbridge db upgrade --config FILE
    callbridge keys list --config FILE

``keys list`` prints the API keys the database holds: name, id, scopes, limits and the
signing secret of their callbacks (never the key itself: only its hash is stored).  A
configuration that fails its checks exits 2, a server that cannot start 1, each with one
line on standard error."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from callbridge.config import LOG_LEVELS, CallbridgeConfig, ConfigError, load_config
from callbridge.log_format import configure_logging
from callbridge.store.records import ApiKeyRecord
from callbridge.wiring.startup import StartupError, shown_database_url, startup_warnings

EXIT_CONFIG = 2
EXIT_STARTUP = 1


def package_version() -> str:
    try:
        return version("callbridge")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree not installed
        return "unknown"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="callbridge", description="Programmable-voice server")
    top.add_argument("--version", action="version", version=f"callbridge {package_version()}")
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the SIP engine and the HTTP API")
    serve.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    serve.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=None,
        help="overrides the configuration's [log] level",
    )
    check = commands.add_parser("check-config", help="validate a configuration file")
    check.add_argument("config", type=Path, help="TOML configuration file")
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate the schema to this version's")
    upgrade.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    keys = commands.add_parser("keys", help="the API keys in the database")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    listing = keys_commands.add_parser(
        "list", help="name, id, scopes, limits and signing secret of each active key"
    )
    listing.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path: Path = args.config
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"callbridge: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        if args.command == "check-config":
            return check_config(path, config)
        if args.command == "db":
            return asyncio.run(upgrade_database(config))
        if args.command == "keys":
            logging.basicConfig(level=logging.WARNING)
            from callbridge.main import list_keys

            print("\n".join(key_lines(list_keys(config))))
            return 0
        configure_logging(kind=config.log.format, level=args.log_level or config.log.level)
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # 7 lines a start
        from callbridge.main import run

        run(config)
    except StartupError as exc:
        print(f"callbridge: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    return 0


def check_config(path: Path, config: CallbridgeConfig) -> int:
    print(
        f"{path}: ok: SIP on {config.sip.listen} (UDP and TCP), HTTP on {config.http.listen}, "
        f"database {shown_database_url(config.database.url)}; {len(config.users)} users, "
        f"{len(config.trunks)} trunks, {len(config.api_keys)} API keys, {len(config.lines)} lines"
    )
    for warning in startup_warnings(config):
        print(f"warning: {warning}")
    return 0


async def upgrade_database(config: CallbridgeConfig) -> int:
    from callbridge.main import open_database

    database = await open_database(config)
    await database.close()
    print(f"database {shown_database_url(config.database.url)} is at this version's schema")
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
