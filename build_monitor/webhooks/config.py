"""The `[webhooks]` table and the per-service `[services.webhooks]` override of config.toml.

Secrets never live in the file: each is a reference to an environment variable or a Prefect
`Secret` block, `{ env = "NAME" }` or `{ block = "name" }`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MIB = 1024 * 1024


class SecretRef(BaseModel):
    """Where a secret is kept: exactly one of an environment variable or a Prefect Secret block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    block: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _never_inline(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                'must be a reference such as { env = "NAME" } or { block = "name" }; '
                "never put the secret itself in the config file"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.block is None):
            raise ValueError('give exactly one of env = "NAME" or block = "name"')
        if self.env is not None and not _ENV_NAME.fullmatch(self.env):
            raise ValueError(f"invalid environment variable name {self.env!r}")
        if self.block is not None and not _BLOCK_NAME.fullmatch(self.block):
            raise ValueError(
                f"invalid block name {self.block!r}: use lowercase letters, digits and '-'"
            )
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"Secret block {self.block!r}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceWebhooksConfig(_Strict):
    """`[services.webhooks]`: this service's own secrets, used instead of the forge-wide ones."""

    github_secret: SecretRef | None = None
    gitlab_token: SecretRef | None = None


class WebhooksConfig(_Strict):
    """`[webhooks]`: forge-wide secrets and intake limits."""

    github_secret: SecretRef | None = None
    gitlab_token: SecretRef | None = None
    max_body_bytes: int = Field(default=MIB, ge=1024, le=25 * MIB)
    # How long the intake waits for the Prefect API before leaving an event for the relay.
    emit_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    # How often stored, not yet emitted deliveries are retried.
    redeliver_interval_seconds: float = Field(default=15.0, ge=0.05, le=3600)
    # How long a secret read from a Prefect block is reused before it is read again.
    secret_cache_seconds: float = Field(default=60.0, ge=0, le=86400)
