"""Request and response bodies of the REST API (they make up /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from build_monitor.errors import InvalidInputError
from build_monitor.history.models import BuildPublic, ServiceState
from build_monitor.validation import validate_ref


class WebhookReply(BaseModel):
    outcome: Literal["accepted", "duplicate", "ignored", "pong", "rejected"]
    reason: str
    delivery: str | None = None
    services: list[str] = Field(default_factory=list)


class ComponentHealth(BaseModel):
    ok: bool
    detail: str


class HealthReport(BaseModel):
    status: Literal["ok", "degraded", "failing"]
    service: ComponentHealth
    database: ComponentHealth
    prefect: ComponentHealth
    # Accepted webhook deliveries not yet handed to Prefect.
    pending_deliveries: int | None


class ServiceSummary(BaseModel):
    name: str
    repo: str
    branch: str
    builder: str
    state: ServiceState
    updated_at: datetime | None
    last_build: BuildPublic | None


class ServiceDetail(ServiceSummary):
    poll_interval_seconds: float
    build_each_commit: bool
    health_check: bool
    webhook_secrets: dict[str, bool]


class BuildPage(BaseModel):
    service: str
    limit: int
    offset: int
    builds: list[BuildPublic]


class Dashboard(BaseModel):
    """Everything at a glance. The list sections beyond `services` are filled by providers given
    to `create_app(dashboard_sources=...)`; they are empty until those features exist."""

    services: list[ServiceSummary]
    running_bisections: list[dict[str, Any]] = Field(default_factory=list)
    running_rollbacks: list[dict[str, Any]] = Field(default_factory=list)
    recent_culprits: list[dict[str, Any]] = Field(default_factory=list)
    # Per service and for the fleet, over 7 and 30 days: success rate, push->red, red->culprit,
    # MTTR, rollbacks done and refused (`build-monitor status --json` has the same).
    metrics: dict[str, Any] = Field(default_factory=dict)


class RollbackRequest(BaseModel):
    """Roll back to `commit`; without a commit, an emergency rollback to the last good build."""

    model_config = ConfigDict(extra="forbid")

    commit: str | None = Field(default=None, max_length=255)
    reason: str = Field(min_length=1, max_length=1000)

    @field_validator("commit")
    @classmethod
    def _valid_commit(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_ref(value)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give a reason")
        return value.strip()


class RollbackAccepted(BaseModel):
    service: str
    commit: str | None
    emergency: bool
    flow_run_id: str | None
    message: str


class ErrorReply(BaseModel):
    detail: str
