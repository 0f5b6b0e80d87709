"""config.toml: loading, validation and environment overrides.

The key names here are a contract shared with other tools; extend them, never rename them.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from build_monitor.api.config import ApiConfig
from build_monitor.bisection.config import BisectConfig
from build_monitor.errors import ConfigError, InvalidInputError
from build_monitor.notifications.config import NotificationConfig, notification_config_problems
from build_monitor.rollback.config import GlobalRollbackConfig, RollbackConfig
from build_monitor.settings import EnvSettings, data_dir
from build_monitor.validation import validate_branch, validate_service_name
from build_monitor.webhooks.config import ServiceWebhooksConfig, WebhooksConfig

DEFAULT_CONFIG_NAME = "config.toml"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, allow_inf_nan=False)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    log_level: LogLevel = "INFO"
    # Base URL of the Prefect UI as people reach it, used in links; default: the API's own UI.
    public_ui_url: str | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class StorageConfig(_Strict):
    database_url: str | None = None
    # Git clones, worktrees and the shared cargo target dirs of the local builder.
    cache_dir: Path | None = None


class DockerConfig(_Strict):
    # Names of prefect-docker blocks; unset means "the engine from the environment".
    host_block: str | None = None
    # A DockerRegistryCredentials block: passing builds are pushed, deploys move the registry's
    # `live` tag, a host lacking an image pulls it (tasks/registry.py). Unset: images stay local.
    registry_block: str | None = None


NO_FAIL_FAST = "--no-fail-fast"


class LocalBuildConfig(_Strict):
    build_command: str = "cargo build --release"
    test_command: str | None = f"cargo test --release {NO_FAIL_FAST}"


class HealthConfig(_Strict):
    port: int = Field(ge=1, le=65535)
    path: str = "/health"
    expect_status: int = Field(default=200, ge=100, le=599)
    timeout_seconds: float = Field(default=30, gt=0, le=3600)
    # Once the service answers at all, how long it may keep answering another status (warming
    # up) before the check fails; keeps a health failure from costing the whole timeout.
    settle_seconds: float = Field(default=5, ge=0, le=3600)
    command: str | None = None

    @field_validator("path")
    @classmethod
    def _path_is_absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


class ServiceConfig(_Strict):
    name: str
    repo: str
    branch: str = "main"
    builder: Literal["docker", "local"] = "docker"
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] = Field(default_factory=dict)
    # Docker builder: build with the engine's BuildKit, so `RUN --mount=type=cache` keeps the
    # cargo registry and target/ warm across builds. BuildKit ignores memory_limit and cpus.
    buildkit: bool = False
    build_timeout_seconds: float = Field(default=1800, gt=0)
    retries: int = Field(default=1, ge=0, le=10)
    poll_interval_seconds: float = Field(default=60, ge=5)
    # Build every new commit in turn rather than only the newest.
    build_each_commit: bool = False
    max_commits_per_run: int = Field(default=20, ge=1)
    memory_limit: str | None = "4g"
    cpus: float | None = Field(default=None, gt=0)
    keep_images: int = Field(default=10, ge=1)
    # Name of a GitCredentials block (blocks/git.py) for private repositories.
    git_credentials_block: str | None = None
    local: LocalBuildConfig = Field(default_factory=LocalBuildConfig)
    health: HealthConfig | None = None
    # Names of [[notifications]] entries this service sends to, overriding their `services`.
    notifications: list[str] | None = None
    # This service's own webhook secrets, instead of the forge-wide ones in [webhooks].
    webhooks: ServiceWebhooksConfig | None = None
    bisect: BisectConfig = Field(default_factory=BisectConfig)
    rollback: RollbackConfig = Field(default_factory=RollbackConfig)

    @property
    def build_config_key(self) -> str:
        """Identifies everything besides the commit that decides a build's outcome."""
        decisive = self.model_dump(
            include={"builder", "dockerfile", "build_args", "local", "health", "memory_limit"}
        )
        if self.buildkit:  # only when set, so the keys of existing histories stay the same
            decisive["buildkit"] = True
        test_command = decisive["local"].get("test_command")
        if test_command:
            # `--no-fail-fast` runs more tests but never changes a build's pass or fail.
            decisive["local"]["test_command"] = " ".join(
                part for part in test_command.split(" ") if part != NO_FAIL_FAST
            )
        digest = hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()
        return digest[:16]

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        try:
            return validate_service_name(value)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("repo")
    @classmethod
    def _valid_repo(cls, value: str) -> str:
        if not value.strip() or value.startswith("-"):
            raise ValueError("must be a git URL or a local path")
        return value

    @field_validator("branch")
    @classmethod
    def _valid_branch(cls, value: str) -> str:
        try:
            return validate_branch(value)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("memory_limit")
    @classmethod
    def _valid_memory(cls, value: str | None) -> str | None:
        if value is not None and parse_memory(value) is None:
            raise ValueError("use a size such as '512m' or '4g'")
        return value

    @model_validator(mode="after")
    def _local_health_needs_command(self) -> ServiceConfig:
        if self.builder == "local" and self.health is not None and not self.health.command:
            raise ValueError("health.command is required with builder = 'local'")
        return self


class Config(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    docker: DockerConfig = Field(default_factory=DockerConfig)
    services: list[ServiceConfig] = Field(default_factory=list)
    notifications: list[NotificationConfig] = Field(default_factory=list)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    rollback: GlobalRollbackConfig = Field(default_factory=GlobalRollbackConfig)
    # Where this config was read from; None for built-in defaults.
    source: Annotated[Path | None, Field(exclude=True)] = None

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for service in self.services:
            if service.name in seen:
                raise ValueError(f"duplicate service name {service.name!r}")
            seen.add(service.name)
        problems = notification_config_problems(
            self.notifications, {s.name: s.notifications for s in self.services}
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def service(self, name: str) -> ServiceConfig:
        for service in self.services:
            if service.name == name:
                return service
        known = ", ".join(s.name for s in self.services) or "none configured"
        raise InvalidInputError(f"unknown service {name!r} (known: {known})")

    @property
    def database_url(self) -> str:
        if self.storage.database_url:
            return self.storage.database_url
        return f"sqlite:///{data_dir() / 'history.db'}"

    @property
    def cache_dir(self) -> Path:
        path = self.storage.cache_dir or data_dir() / "cache"
        path.mkdir(parents=True, exist_ok=True)
        return path


_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_memory(value: str) -> int | None:
    text = value.strip().lower().removesuffix("b") if value.strip().lower() != "b" else "b"
    number, unit = (text[:-1], text[-1]) if text and text[-1] in "kmg" else (text, "")
    try:
        amount = float(number)
    except ValueError:
        return None
    return int(amount * _MEMORY_UNITS[unit]) if amount > 0 else None


def resolve_config_path(explicit: Path | None, env: EnvSettings | None = None) -> Path:
    env = env or EnvSettings()
    if explicit is not None:
        return explicit
    if env.build_monitor_config is not None:
        return env.build_monitor_config
    return Path.cwd() / DEFAULT_CONFIG_NAME


def _format_location(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            name = node[item].get("name") if isinstance(node, list) and item < len(node) else None
            parts[-1] += f"[{item}]" + (f" ({name})" if isinstance(name, str) else "")
        else:
            parts.append(str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"


def format_validation_error(exc: ValidationError, data: dict[str, Any], path: Path) -> str:
    lines = [f"invalid configuration in {path}:"]
    for error in exc.errors():
        loc = tuple(x for x in error["loc"] if x not in ("function-after", "function-before"))
        key = _format_location(loc, data)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "missing required key"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def non_finite_keys(value: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where a validated config holds inf or nan, in any section (each section's model is
    declared in its own package; this one walk covers them all)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield loc
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from non_finite_keys(getattr(value, name), (*loc, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from non_finite_keys(item, (*loc, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from non_finite_keys(item, (*loc, str(key)))


def parse_config(data: dict[str, Any], path: Path) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, data, path)) from None
    infinite = [_format_location(loc, data) for loc in non_finite_keys(config)]
    if infinite:
        lines = [f"  {key}: Input should be a finite number" for key in infinite]
        raise ConfigError("\n".join([f"invalid configuration in {path}:", *lines]))
    config.source = path
    base = path.parent
    for service in config.services:
        if _looks_like_local_path(service.repo) and not Path(service.repo).is_absolute():
            service.repo = str((base / service.repo).resolve())
    return config


def _looks_like_local_path(repo: str) -> bool:
    return "://" not in repo and not (":" in repo and "@" in repo.split(":", 1)[0])


def apply_env_overrides(config: Config, env: EnvSettings) -> Config:
    if env.build_monitor_host:
        config.server.host = env.build_monitor_host
    if env.build_monitor_port:
        config.server.port = env.build_monitor_port
    if env.log_level:
        try:
            config.server.log_level = ServerConfig(log_level=env.log_level).log_level  # type: ignore[arg-type]
        except ValidationError:
            raise ConfigError(
                f"LOG_LEVEL={env.log_level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
            ) from None
    return config


def load_config(explicit: Path | None = None, *, required: bool = True) -> Config:
    """Load config.toml (--config, else $BUILD_MONITOR_CONFIG, else ./config.toml)."""
    try:
        env = EnvSettings()
    except ValidationError as exc:
        problems = "; ".join(f"{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid environment variable: {problems}") from None
    path = resolve_config_path(explicit, env)
    if not path.exists():
        if required or explicit is not None or env.build_monitor_config is not None:
            raise ConfigError(
                f"config file not found: {path} (pass --config PATH, set BUILD_MONITOR_CONFIG, "
                "or copy config.toml.example to ./config.toml)"
            )
        return apply_env_overrides(Config(), env)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return apply_env_overrides(parse_config(data, path), env)
