"""`[services.rollback]` and the global `[rollback]` table of config.toml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from build_monitor.settings import data_dir

Strategy = Literal["redeploy", "revert", "both"]
PushTarget = Literal["branch", "revert_branch"]
KILL_SWITCH_FILE_NAME = "auto-rollback.disabled"
DEFAULT_KILL_SWITCH_VARIABLE = "build_monitor_auto_rollback_disabled"
_BRANCH_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,100}$")
_VARIABLE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")


class RollbackConfig(BaseModel):
    """How one service is rolled back, and the gates of its automatic rollbacks."""

    model_config = ConfigDict(extra="forbid")

    strategy: Strategy = "redeploy"
    # A confirmed culprit from the bisect flow starts a rollback by itself.
    auto: bool = False
    # Shadow mode: decide and report every rollback, change nothing.
    dry_run: bool = False
    max_auto_per_day: int = Field(default=3, ge=0, le=1000)
    # An automatic rollback never undoes a culprit older than this.
    max_culprit_age_hours: float = Field(default=72, gt=0)
    # The live container `bm-<service>`: its port inside, and where the host publishes it.
    container_port: int | None = Field(default=None, ge=1, le=65535)
    host_port: int | None = Field(default=None, ge=1, le=65535)
    host_address: str = "127.0.0.1"
    stop_timeout_seconds: float = Field(default=10, ge=0, le=600)
    # Where a tested revert is pushed: the service's branch, or `<prefix><culprit sha>`.
    push_to: PushTarget = "revert_branch"
    revert_branch_prefix: str = "build-monitor/revert-"
    # How long a rollback waits for another one of the same service to finish.
    lock_timeout_seconds: float = Field(default=600, gt=0)

    @field_validator("revert_branch_prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        if not _BRANCH_PREFIX.fullmatch(value) or ".." in value or value.endswith((".", ".lock")):
            raise ValueError("must be a git branch name prefix such as 'build-monitor/revert-'")
        return value


class GlobalRollbackConfig(BaseModel):
    """The kill switch that stops every automatic rollback (manual ones still run)."""

    model_config = ConfigDict(extra="forbid")

    # Automatic rollbacks stop while this file exists (default: <data dir>/auto-rollback.disabled).
    kill_switch_file: Path | None = None
    # ... or while this Prefect variable is true.
    kill_switch_variable: str = DEFAULT_KILL_SWITCH_VARIABLE

    @field_validator("kill_switch_variable")
    @classmethod
    def _valid_variable(cls, value: str) -> str:
        if not _VARIABLE_NAME.fullmatch(value):
            raise ValueError("use lowercase letters, digits and '_' (a Prefect variable name)")
        return value

    def kill_switch_path(self) -> Path:
        return self.kill_switch_file or data_dir() / KILL_SWITCH_FILE_NAME
