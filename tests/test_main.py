"""The composition root's start-up steps, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

from callbridge.config import load_config
from callbridge.httpclient.client import HttpClient
from callbridge.httpclient.process import ProcessHttpClient
from callbridge.main import configured_keys, http_client
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.repository import ApiKeyRepository

CRM = "crm-key-0123456789abcdef"
DIALER = "dialer-key-0123456789abcdef"


def config_with_keys(path: Path, *keys: tuple[str, str]) -> Path:
    path.write_text(
        "".join(f'[[api_keys]]\nname = "{name}"\nkey = "{key}"\n' for name, key in keys)
    )
    return path


async def test_a_key_removed_from_the_configuration_stops_working_at_start(
    tmp_path: Path,
) -> None:
    database = Database(url=f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    await database.migrate()
    keys = ApiKeyRepository(database=database, clock=SystemClock())
    toml = tmp_path / "callbridge.toml"
    try:
        both = load_config(config_with_keys(toml, ("crm", CRM), ("dialer", DIALER)))
        await configured_keys(both, keys)
        crm = await keys.find_by_key(CRM)
        assert crm is not None
        assert await keys.find_by_key(DIALER) is not None

        await configured_keys(load_config(config_with_keys(toml, ("crm", CRM))), keys)
        assert await keys.find_by_key(DIALER) is None
        assert await keys.find_by_key(CRM) == crm

        await configured_keys(both, keys)  # configured again: back, under its old id
        dialer = await keys.find_by_key(DIALER)
        assert dialer is not None
        assert dialer.name == "dialer"
    finally:
        await database.close()


def test_outgoing_http_goes_to_the_worker_process_unless_configured_off(tmp_path: Path) -> None:
    toml = tmp_path / "callbridge.toml"
    toml.write_text("[calls]\nwebhook_timeout = 3.0\n")
    assert isinstance(http_client(load_config(toml)), ProcessHttpClient)
    toml.write_text("[calls]\nhttp_worker = false\n")
    assert isinstance(http_client(load_config(toml)), HttpClient)
