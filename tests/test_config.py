from __future__ import annotations

from pathlib import Path

import pytest

from callbridge.config import ConfigError, load_config, split_host_port

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_loads() -> None:
    config = load_config(ROOT / "callbridge.example.toml")
    assert config.sip.host_port == ("127.0.0.1", 5060)
    assert config.default_trunk is not None
    assert [u.extension for u in config.users] == ["1001", "1002"]


def test_unknown_key_and_bad_values_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[sip]\nlisten = "127.0.0.1:99999"\n')
    with pytest.raises(ConfigError, match="bad port"):
        load_config(bad)
    bad.write_text("[sip]\nlistn = 1\n")
    with pytest.raises(ConfigError, match="listn"):
        load_config(bad)
    bad.write_text("not toml [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_split_host_port() -> None:
    assert split_host_port("[::1]:5070", default_port=5060) == ("::1", 5070)
    assert split_host_port("example.org", default_port=5060) == ("example.org", 5060)
