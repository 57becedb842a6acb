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


API_KEY = 'key = "cbk_0123456789abcdef"\nname = "crm"\n'


def test_api_keys_with_defaults_and_limits(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(
        f"[[api_keys]]\n{API_KEY}"
        "[[api_keys]]\n"
        'key = "cbk_fedcba9876543210"\nname = "dialer"\nscopes = ["call"]\n'
        "calls_per_second = 2.5\nmax_concurrent = 10\n"
        'signing_secret = "whsec_0123456789abcdef"\n'
    )
    crm, dialer = load_config(path).api_keys
    assert (crm.key, crm.name, crm.scopes) == ("cbk_0123456789abcdef", "crm", ("call",))
    assert (crm.calls_per_second, crm.max_concurrent, crm.signing_secret) == (None, None, None)
    assert (dialer.calls_per_second, dialer.max_concurrent) == (2.5, 10)
    assert dialer.signing_secret == "whsec_0123456789abcdef"
    (example,) = load_config(ROOT / "callbridge.example.toml").api_keys
    assert example.scopes == ("call",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('key = "short"\nname = "crm"\n', "at least 16"),
        ('key = "has space 0123456789"\nname = "crm"\n', "without spaces"),
        ('key = "cbk_0123456789abcdef"\n', "name"),
        ('key = "cbk_0123456789abcdef"\nname = ""\n', "name"),
        (f'{API_KEY}scopes = ["admin"]\n', "unknown scopes"),
        (f'{API_KEY}scopes = ["call", "call"]\n', "must not repeat"),
        (f"{API_KEY}calls_per_second = 0\n", "calls_per_second"),
        (f"{API_KEY}calls_per_second = inf\n", "calls_per_second"),
        (f"{API_KEY}max_concurrent = 0\n", "max_concurrent"),
        (f'{API_KEY}signing_secret = "short"\n', "signing_secret"),
        (f'{API_KEY}secret = "x"\n', "secret"),
    ],
)
def test_invalid_api_keys_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(f"[[api_keys]]\n{body}")
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert "has space" not in str(caught.value)  # a key's value is never echoed


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ('key = "cbk_0123456789abcdef"\nname = "other"\n', "keys must be unique"),
        ('key = "cbk_another_key_00000"\nname = "crm"\n', "names must be unique"),
    ],
)
def test_api_keys_and_names_are_unique(tmp_path: Path, second: str, message: str) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(f"[[api_keys]]\n{API_KEY}[[api_keys]]\n{second}")
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert "cbk_0123456789abcdef" not in str(caught.value)
