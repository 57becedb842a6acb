from __future__ import annotations

from pathlib import Path

import pytest

from callbridge.calls.lines import Line
from callbridge.config import ConfigError, load_config, split_host_port
from callbridge.main import configured_lines, engine_settings
from callbridge.sip.guesses import GuessLimits
from callbridge.sip.pike import PikeLimits
from callbridge.sip.tcp import TcpLimits

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


USERS = (
    '[[users]]\nextension = "1001"\npassword = "p"\n[[users]]\nextension = "1002"\npassword = "p"\n'
)
TRUNK = '[[trunks]]\nname = "carrier"\nuri = "sip:127.0.10.2:5060"\ndefault = true\n'


def write_lines(tmp_path: Path, lines: str, *, extra: str = "") -> Path:
    path = tmp_path / "lines.toml"
    path.write_text(f"{USERS}{TRUNK}[[api_keys]]\n{API_KEY}{extra}{lines}")
    return path


def test_lines_with_defaults_and_every_key(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        '[[lines]]\nid = "reg1332"\nusers = ["1001"]\n'
        '[[lines]]\nid = "sip7"\nname = "Office"\nusers = ["1001", "1002"]\n'
        'numbers = ["+15550100", "sip:desk@pbx.example.com"]\nring_timeout = 15\n'
        'forward_to = "+15550199"\nforward_timeout = 45\nnumber = "+15550123"\n'
        'api_keys = ["crm"]\n',
    )
    plain, full = load_config(path).lines
    assert (plain.id, plain.display_name, plain.users, plain.numbers) == (
        "reg1332",
        "reg1332",
        ("1001",),
        (),
    )
    assert (plain.ring_timeout, plain.forward_to, plain.forward_timeout) == (20.0, None, 30.0)
    assert (plain.number, plain.api_keys) == (None, ())
    assert (full.display_name, full.users) == ("Office", ("1001", "1002"))
    assert full.numbers == ("+15550100", "sip:desk@pbx.example.com")
    assert (full.ring_timeout, full.forward_to, full.forward_timeout) == (15.0, "+15550199", 45.0)
    assert (full.number, full.api_keys) == ("+15550123", ("crm",))


def test_configured_lines_become_line_values(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        '[[lines]]\nid = "reg1332"\nname = "Sales"\nusers = ["1001"]\n'
        'numbers = ["+15550100"]\nforward_to = "sip:boss@example.com"\nnumber = "+15550123"\n'
        'api_keys = ["crm"]\n',
    )
    (line,) = configured_lines(load_config(path))
    assert line == Line(
        id="reg1332",
        name="Sales",
        users=("1001",),
        numbers=("+15550100",),
        ring_timeout=20.0,
        forward_to="sip:boss@example.com",
        forward_timeout=30.0,
        number="+15550123",
        api_keys=("crm",),
    )
    assert line.caller_id == "+15550123"


def test_the_example_has_a_line_of_its_users() -> None:
    config = load_config(ROOT / "callbridge.example.toml")
    (line,) = configured_lines(config)
    assert (line.id, line.users) == ("reg1332", ("1001", "1002"))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('[[lines]]\nname = "x"\nusers = ["1001"]\n', "id"),
        ('[[lines]]\nid = "has space"\nusers = ["1001"]\n', "line id must be"),
        ('[[lines]]\nid = "l1"\n', "needs users, numbers or forward_to"),
        ('[[lines]]\nid = "l1"\nusers = ["1009"]\n', r"users \['1009'\] are not \[\[users\]\]"),
        ('[[lines]]\nid = "l1"\nnumbers = ["call me"]\n', "must be a phone number"),
        ('[[lines]]\nid = "l1"\nforward_to = "12ab"\n', "must be a phone number"),
        ('[[lines]]\nid = "l1"\nusers = ["1001"]\nnumber = "x"\n', "must be a phone number"),
        ('[[lines]]\nid = "l1"\nusers = ["1001"]\nring_timeout = 0\n', "ring_timeout"),
        ('[[lines]]\nid = "l1"\nusers = ["1001"]\nforward_timeout = -1\n', "forward_timeout"),
        ('[[lines]]\nid = "l1"\nusers = ["1001"]\napi_keys = ["nope"]\n', "not \\[\\[api_keys"),
        ('[[lines]]\nid = "l1"\nusers = ["1001"]\nring = 5\n', "ring"),
        (
            '[[lines]]\nid = "l1"\nusers = ["1001"]\n[[lines]]\nid = "l1"\nusers = ["1002"]\n',
            "line ids must be unique",
        ),
    ],
)
def test_invalid_lines_are_clear_errors(tmp_path: Path, lines: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write_lines(tmp_path, lines))


def test_a_line_dialling_numbers_needs_a_default_trunk(tmp_path: Path) -> None:
    path = tmp_path / "lines.toml"
    path.write_text(f'{USERS}[[lines]]\nid = "l1"\nnumbers = ["+15550100"]\n')
    with pytest.raises(ConfigError, match="needs a \\[\\[trunks\\]\\] with default = true"):
        load_config(path)
    path.write_text(f'{USERS}[[lines]]\nid = "l1"\nnumbers = ["sip:desk@pbx.example.com"]\n')
    assert load_config(path).lines[0].numbers == ("sip:desk@pbx.example.com",)


def test_call_guards_have_defaults_and_refuse_nonsense(tmp_path: Path) -> None:
    path = tmp_path / "calls.toml"
    path.write_text("[calls]\n")
    calls = load_config(path).calls
    assert (calls.drain_seconds, calls.max_duration) == (30.0, 14_400.0)
    assert (calls.max_document_fetches, calls.max_document_fetches_per_minute) == (500, 30)
    for line in (
        "drain_seconds = -1",
        "max_duration = 0",
        "max_document_fetches = 0",
        "max_document_fetches_per_minute = 0",
    ):
        path.write_text(f"[calls]\n{line}\n")
        with pytest.raises(ConfigError, match=line.split()[0]):
            load_config(path)


def test_sip_flood_and_guess_limits_become_engine_settings(tmp_path: Path) -> None:
    path = tmp_path / "sip.toml"
    path.write_text(
        "[sip]\npike_requests = 40\npike_window_seconds = 4\noverload_lag_ms = 150\n"
        "auth_failures_per_address = 3\nauth_failures_per_user = 7\n"
        "auth_failure_window_seconds = 30\nauth_block_seconds = 2\nauth_block_max_seconds = 60\n"
    )
    settings = engine_settings(load_config(path))
    assert settings.pike == PikeLimits(requests=40, window=4.0)
    assert settings.overload_lag == pytest.approx(0.15)
    assert settings.guesses == GuessLimits(
        per_source=3, per_user=7, window=30.0, first_block=2.0, max_block=60.0
    )
    path.write_text("[sip]\npike_requests = 0\noverload_lag_ms = 0\n")
    off = engine_settings(load_config(path))
    assert (off.pike, off.overload_lag) == (None, None)
    defaults = engine_settings(load_config(ROOT / "callbridge.example.toml"))
    assert defaults.pike is not None
    assert defaults.guesses is not None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("pike_requests = -1", "pike_requests"),
        ("pike_window_seconds = 0", "pike_window_seconds"),
        ("auth_failures_per_user = 0", "auth_failures_per_user"),
        ("auth_block_seconds = 100\nauth_block_max_seconds = 10", "auth_block_max_seconds"),
    ],
)
def test_invalid_sip_limits_are_clear_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[sip]\n{body}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_destination_rules_of_keys_and_the_denied_prefixes(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        f'[calls]\ndenied_prefixes = ["+1900", "112"]\n{TRUNK}[[api_keys]]\n{API_KEY}'
        'allowed_destinations = ["+1", "+49"]\nallow_sip_uris = true\n'
        'allowed_trunks = ["carrier"]\ncaller_ids = ["+15550100", "+4930555*", "1001"]\n'
    )
    config = load_config(path)
    (key,) = config.api_keys
    assert config.calls.denied_prefixes == ("+1900", "112")
    assert (key.allowed_destinations, key.allow_sip_uris) == (("+1", "+49"), True)
    assert (key.allowed_trunks, key.caller_ids) == (
        ("carrier",),
        ("+15550100", "+4930555*", "1001"),
    )
    (example,) = load_config(ROOT / "callbridge.example.toml").api_keys
    assert (example.allowed_destinations, example.allow_sip_uris) == (None, False)
    assert load_config(ROOT / "callbridge.example.toml").calls.denied_prefixes is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f'[[api_keys]]\n{API_KEY}allowed_destinations = ["+1-900"]\n', "number prefix"),
        (f'[[api_keys]]\n{API_KEY}allowed_trunks = ["nowhere"]\n', "not \\[\\[trunks\\]\\] names"),
        (f'[[api_keys]]\n{API_KEY}caller_ids = ["+1 555"]\n', "number or extension"),
        ('[calls]\ndenied_prefixes = ["premium"]\n', "number prefix"),
    ],
)
def test_invalid_destination_rules_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_rtp_timeout_is_off_or_at_least_a_second(tmp_path: Path) -> None:
    path = tmp_path / "media.toml"
    path.write_text("[media]\nrtp_timeout = 0\n")
    assert load_config(path).media.rtp_timeout == 0
    assert load_config(ROOT / "callbridge.example.toml").media.rtp_timeout == 60
    for bad in ("0.5", "-1"):
        path.write_text(f"[media]\nrtp_timeout = {bad}\n")
        with pytest.raises(ConfigError, match="rtp_timeout"):
            load_config(path)


def test_session_timer_keys(tmp_path: Path) -> None:
    path = tmp_path / "sip.toml"
    assert (load_config(ROOT / "callbridge.example.toml").sip.session_expires) == 1800
    path.write_text("[sip]\nsession_expires = 0\n")
    assert load_config(path).sip.session_expires == 0
    path.write_text("[sip]\nsession_expires = 4\nmin_se = 2\n")
    assert (load_config(path).sip.session_expires, load_config(path).sip.min_se) == (4, 2)
    for bad in ("session_expires = 60", "min_se = 0", "session_expires = -1"):
        path.write_text(f"[sip]\n{bad}\n")
        with pytest.raises(ConfigError, match=r"session_expires|min_se"):
            load_config(path)


def test_tcp_limits_and_body_timeout_reach_the_engine_and_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "tcp.toml"
    path.write_text(
        "[sip]\ntcp_max_connections = 50\ntcp_max_per_source = 4\n"
        "tcp_idle_seconds = 90\ntcp_read_seconds = 5\n[http]\nbody_timeout = 3\n"
    )
    config = load_config(path)
    assert engine_settings(config).tcp_limits == TcpLimits(
        max_connections=50, max_per_source=4, idle_seconds=90, read_seconds=5
    )
    assert config.http.body_timeout == 3
    for bad in (
        "[sip]\ntcp_max_connections = 0",
        "[sip]\ntcp_idle_seconds = -1",
        "[sip]\ntcp_read_seconds = nan",
        "[http]\nbody_timeout = 0",
    ):
        path.write_text(bad + "\n")
        with pytest.raises(ConfigError, match=bad.split("\n")[1].split(" ")[0]):
            load_config(path)


def test_log_and_metrics_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("")
    config = load_config(path)
    assert (config.log.format, config.log.level, config.http.metrics_public) == (
        "text",
        "INFO",
        False,
    )
    path.write_text(
        '[log]\nformat = "json"\nlevel = "debug"\n[http]\nmetrics_public = true\n'
        '[[api_keys]]\nkey = "scraper-key-0123456789"\nname = "prometheus"\n'
        'scopes = ["metrics"]\n'
    )
    config = load_config(path)
    assert (config.log.format, config.log.level, config.http.metrics_public) == (
        "json",
        "DEBUG",
        True,
    )
    assert config.api_keys[0].scopes == ("metrics",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[log]\nformat = "xml"\n', "format"),
        ('[log]\nlevel = "loud"\n', "level must be one of DEBUG, INFO"),
        ("[http]\nmetrics_public = 3\n", "metrics_public"),
        ('[[api_keys]]\nkey = "scraper-key-0123456789"\nname = "p"\nscopes = ["stats"]\n', "known"),
    ],
)
def test_invalid_log_and_metrics_keys_are_clear_errors(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_trunk_has_its_own_request_limit_or_none(tmp_path: Path) -> None:
    path = tmp_path / "trunks.toml"
    trunk = '[[trunks]]\nname = "carrier"\nuri = "sip:203.0.113.5"\n'
    path.write_text(trunk)
    assert load_config(path).trunks[0].max_requests_per_second == 0  # none of its own
    path.write_text(trunk + "max_requests_per_second = 250\n")
    assert load_config(path).trunks[0].max_requests_per_second == 250
    path.write_text(trunk + "max_requests_per_second = -1\n")
    with pytest.raises(ConfigError, match="max_requests_per_second"):
        load_config(path)
