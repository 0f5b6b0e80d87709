"""The `[[notifications]]` entries of config.toml."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EventName = Literal[
    "build_failed",
    "build_recovered",
    "culprit_found",
    "bisect_inconclusive",
    "rollback_started",
    "rollback_succeeded",
    "rollback_failed",
]
ALL_EVENTS: tuple[EventName, ...] = (
    "build_failed",
    "build_recovered",
    "culprit_found",
    "bisect_inconclusive",
    "rollback_started",
    "rollback_succeeded",
    "rollback_failed",
)
ChannelKind = Literal["slack", "discord", "email", "webhook"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("slack", "discord", "email", "webhook")
# The events a flapping service repeats; rollbacks and culprits always go out at once.
FLAPPING_EVENTS: tuple[EventName, ...] = ("build_failed", "build_recovered")

_ENTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_EMAIL_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


class NotificationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    channel: ChannelKind
    # Name of a saved block (SlackWebhook, DiscordWebhook, CustomWebhook or prefect-email's
    # EmailServerCredentials); None means "build it from the environment variables".
    block: str | None = None
    events: list[EventName] = Field(default_factory=lambda: list(ALL_EVENTS))
    services: list[str] | None = None

    # email only
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    from_address: str = "build-monitor@localhost"
    subject_prefix: str = "[build-monitor]"

    # webhook only: extra, non-secret request headers (secret ones belong in the block)
    headers: dict[str, str] = Field(default_factory=dict)

    # Flapping protection: after a message for a service, further `quiet_events` for it on
    # this entry are held back for this long, then summarised in one message. 0 disables.
    quiet_period_seconds: float = Field(default=300, ge=0, le=7 * 24 * 3600)
    quiet_events: list[EventName] = Field(default_factory=lambda: list(FLAPPING_EVENTS))

    # Delivery: per-attempt timeout, attempts, and a cap on the total time one send may take.
    timeout_seconds: float = Field(default=10, gt=0, le=300)
    max_attempts: int = Field(default=4, ge=1, le=10)
    retry_budget_seconds: float = Field(default=30, ge=0, le=600)
    log_lines: int = Field(default=8, ge=0, le=50)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _ENTRY_NAME.match(value):
            raise ValueError(
                "use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit"
            )
        return value

    @field_validator("to", "cc")
    @classmethod
    def _valid_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _EMAIL_ADDRESS.match(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @field_validator("from_address")
    @classmethod
    def _valid_from(cls, value: str) -> str:
        if not _EMAIL_ADDRESS.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for key, header_value in value.items():
            if not re.match(r"^[A-Za-z0-9-]+$", key) or "\n" in header_value:
                raise ValueError(f"invalid header {key!r}")
        return value

    @model_validator(mode="after")
    def _email_needs_recipients(self) -> NotificationConfig:
        if self.channel == "email" and not self.to:
            raise ValueError('an email entry needs `to = ["someone@example.com"]`')
        return self


def notification_config_problems(
    entries: list[NotificationConfig], service_routes: dict[str, list[str] | None]
) -> list[str]:
    """Cross-entry checks Config should run: unique entry names, known names in services."""
    problems: list[str] = []
    names = [entry.name for entry in entries]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"duplicate notification name {name!r}")
    known = set(names)
    for service, routes in service_routes.items():
        for route in routes or []:
            if route not in known:
                problems.append(f"service {service!r} sends to unknown notification {route!r}")
    return problems
