"""config.toml loading: defaults, contract keys, errors that name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_monitor.config import load_config, parse_memory
from build_monitor.errors import ConfigError, InvalidInputError

CONTRACT_EXAMPLE = """
[server]
host = "127.0.0.1"
port = 8080

[storage]
database_url = "sqlite:///{db}"

[[services]]
name = "face-detection"
repo = "https://git.example.com/ml/face-detection.git"
branch = "main"
builder = "docker"
dockerfile = "Dockerfile"
build_args = {{ RUST_IMAGE = "rust:1.82" }}
build_timeout_seconds = 1800
retries = 1

[services.local]
build_command = "cargo build --release"
test_command = "cargo test --release"

[services.health]
port = 8000
path = "/health"
expect_status = 200
timeout_seconds = 30
command = "target/release/svc"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_contract_keys_load(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONTRACT_EXAMPLE.format(db=tmp_path / "h.db")))
    service = config.service("face-detection")
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.database_url == f"sqlite:///{tmp_path / 'h.db'}"
    assert service.builder == "docker"
    assert service.build_args == {"RUST_IMAGE": "rust:1.82"}
    assert service.build_timeout_seconds == 1800
    assert service.local.test_command == "cargo test --release"
    assert service.health is not None and service.health.command == "target/release/svc"


def test_example_file_in_repository_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parent.parent / "config.toml.example"
    config = load_config(example)
    assert [s.name for s in config.services]


def test_unknown_key_is_named_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[services]]\nname = "a"\nrepo = "/r"\nbuidler = "docker"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "services[0] (a).buidler: unknown key" in message


def test_missing_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[[services]]\nname = "a"\n')
    with pytest.raises(ConfigError, match=r"services\[0\] \(a\)\.repo: missing required key"):
        load_config(path)


def test_wrong_value_type_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_config(path)


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ('name = "Bad_Name"\nrepo = "/r"', "services[0] (Bad_Name).name"),
        ('name = "a"\nrepo = "/r"\nbuilder = "podman"', "services[0] (a).builder"),
        ('name = "a"\nrepo = "/r"\nbranch = "-x"', "services[0] (a).branch"),
        ('name = "a"\nrepo = "--upload-pack=evil"', "services[0] (a).repo"),
        ('name = "a"\nrepo = "/r"\nmemory_limit = "lots"', "services[0] (a).memory_limit"),
    ],
)
def test_invalid_service_values(tmp_path: Path, snippet: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"[[services]]\n{snippet}\n"))
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ("build_timeout_seconds = inf", "services[0] (a).build_timeout_seconds"),
        ("build_timeout_seconds = nan", "services[0] (a).build_timeout_seconds"),
        ('build_timeout_seconds = "inf"', "services[0] (a).build_timeout_seconds"),
        ("cpus = inf", "services[0] (a).cpus"),
        ("[services.health]\nport = 1\ntimeout_seconds = nan", "services[0] (a).health.timeout"),
        ("[services.rollback]\nmax_culprit_age_hours = inf", "(a).rollback.max_culprit_age_hours"),
        ("[services.rollback]\nlock_timeout_seconds = inf", "(a).rollback.lock_timeout_seconds"),
    ],
)
def test_non_finite_numbers_are_rejected_in_every_section(
    tmp_path: Path, snippet: str, key: str
) -> None:
    text = f'[[services]]\nname = "a"\nrepo = "/r"\n{snippet}\n'
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert key in str(info.value)
    assert "finite number" in str(info.value)


def test_local_builder_with_health_needs_a_command(tmp_path: Path) -> None:
    text = '[[services]]\nname = "a"\nrepo = "/r"\nbuilder = "local"\n[services.health]\nport = 1\n'
    with pytest.raises(ConfigError, match=r"health\.command is required"):
        load_config(write(tmp_path, text))


def test_duplicate_service_names(tmp_path: Path) -> None:
    text = '[[services]]\nname = "a"\nrepo = "/r"\n[[services]]\nname = "a"\nrepo = "/s"\n'
    with pytest.raises(ConfigError, match="duplicate service name 'a'"):
        load_config(write(tmp_path, text))


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(write(tmp_path, "[server\nport = 1\n"))


def test_missing_file_explains_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"config file not found: .*config\.toml.*--config"):
        load_config()


def test_lookup_order_flag_then_env_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd_config = write(tmp_path, "[server]\nport = 1001\n")
    env_config = tmp_path / "env.toml"
    env_config.write_text("[server]\nport = 1002\n")
    flag_config = tmp_path / "flag.toml"
    flag_config.write_text("[server]\nport = 1003\n")
    monkeypatch.chdir(cwd_config.parent)
    assert load_config().server.port == 1001
    monkeypatch.setenv("BUILD_MONITOR_CONFIG", str(env_config))
    assert load_config().server.port == 1002
    assert load_config(flag_config).server.port == 1003


def test_environment_overrides_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[server]\nhost = "127.0.0.1"\nport = 8080\nlog_level = "info"\n')
    monkeypatch.setenv("BUILD_MONITOR_HOST", "0.0.0.0")
    monkeypatch.setenv("BUILD_MONITOR_PORT", "9191")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    server = load_config(path).server
    assert (server.host, server.port, server.log_level) == ("0.0.0.0", 9191, "DEBUG")


def test_bad_environment_override_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "")
    monkeypatch.setenv("BUILD_MONITOR_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="BUILD_MONITOR_PORT"):
        load_config(path)
    monkeypatch.setenv("BUILD_MONITOR_PORT", "80")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        load_config(path)


def test_relative_local_repo_resolves_against_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[services]]\nname = "a"\nrepo = "repos/a"\n')
    assert load_config(path).service("a").repo == str(tmp_path / "repos" / "a")


def test_unknown_service_lists_the_known_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[[services]]\nname = "a"\nrepo = "/r"\n'))
    with pytest.raises(InvalidInputError, match=r"unknown service 'b' \(known: a\)"):
        config.service("b")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512m", 512 * 1024**2),
        ("4g", 4 * 1024**3),
        ("1024", 1024),
        ("2G", 2 * 1024**3),
        ("lots", None),
        ("-1g", None),
        ("", None),
    ],
)
def test_parse_memory(text: str, expected: int | None) -> None:
    assert parse_memory(text) == expected


def test_build_config_key_tracks_decisive_settings_only() -> None:
    from build_monitor.config import ServiceConfig

    base = ServiceConfig(name="svc", repo="/r")
    assert base.build_config_key == ServiceConfig(name="svc", repo="/r", retries=5).build_config_key
    # The key this configuration had before `buildkit` existed: recorded histories stay valid.
    assert base.build_config_key == "1e5c1aa96695a482"
    assert ServiceConfig(name="svc", repo="/r", buildkit=False).build_config_key == (
        base.build_config_key
    )
    assert ServiceConfig(name="svc", repo="/r", buildkit=True).build_config_key != (
        base.build_config_key
    )
    assert ServiceConfig(name="svc", repo="/r", dockerfile="D2").build_config_key != (
        base.build_config_key
    )
