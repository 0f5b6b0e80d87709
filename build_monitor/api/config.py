"""The `[api]` table of config.toml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from build_monitor.webhooks.config import SecretRef


class ApiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Bearer token for the REST API, as { env = "NAME" } or { block = "name" } (a Secret block).
    token: SecretRef | None = None
    # Let GET endpoints answer without the token; mutating endpoints always need it.
    public_read: bool = False
