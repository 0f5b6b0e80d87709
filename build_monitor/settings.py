"""Non-secret settings from the environment (pydantic-settings). Secrets live in Prefect blocks."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EnvSettings(BaseSettings):
    """Environment variables that override the config file or locate it."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    build_monitor_host: str | None = None
    build_monitor_port: int | None = Field(default=None, ge=1, le=65535)
    log_level: str | None = None
    build_monitor_config: Path | None = None
    build_monitor_data_dir: Path | None = None


def data_dir(env: EnvSettings | None = None) -> Path:
    env = env or EnvSettings()
    path = env.build_monitor_data_dir or Path(user_data_dir("build-monitor", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path
