"""The JSON shape of a rollback, shared by flows, CLI and history (a contract: extend only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from build_monitor.history.models import Rollback, RollbackStep

# Statuses after which the service is where the rollback wanted it.
SUCCESS_STATUSES = frozenset({"succeeded", "noop", "dry_run"})


class GateReport(BaseModel):
    gate: str
    passed: bool
    detail: str


class StepReport(BaseModel):
    name: str
    status: str  # planned | running | done | failed | undone
    detail: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class VerificationReport(BaseModel):
    status: str | None = None  # passed | failed | skipped
    detail: str | None = None


class RollbackReport(BaseModel):
    rollback_id: int | None = None
    service: str
    action: str
    strategy: str
    trigger: str
    triggered_by: str = ""
    reason: str = ""
    from_commit: str | None = Field(default=None, serialization_alias="from")
    to_commit: str | None = Field(default=None, serialization_alias="to")
    culprit: str | None = None
    status: str
    dry_run: bool = False
    automatic: bool = False
    gates: list[GateReport] = Field(default_factory=list)
    steps: list[StepReport] = Field(default_factory=list)
    verification: VerificationReport = Field(default_factory=VerificationReport)
    revert_commit: str | None = None
    pushed_ref: str | None = None
    error: str | None = None
    flow_run_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status in SUCCESS_STATUSES

    def to_json(self) -> dict[str, Any]:
        """Keys: rollback_id, service, action, strategy, trigger, triggered_by, reason, from,
        to, culprit, status, dry_run, automatic, gates[], steps[], verification{status, detail},
        revert_commit, pushed_ref, error, flow_run_id, started_at, finished_at, duration_s."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> RollbackReport:
        data = dict(document)
        data["from_commit"] = data.pop("from", data.get("from_commit"))
        data["to_commit"] = data.pop("to", data.get("to_commit"))
        return cls.model_validate(data)

    @classmethod
    def from_record(cls, rollback: Rollback, steps: Sequence[RollbackStep]) -> RollbackReport:
        assert rollback.id is not None
        gates = [GateReport.model_validate(g) for g in json.loads(rollback.gates or "[]")]
        return cls(
            rollback_id=rollback.id,
            service=rollback.service,
            action=rollback.action,
            strategy=rollback.strategy,
            trigger=rollback.trigger,
            triggered_by=rollback.triggered_by,
            reason=rollback.reason,
            from_commit=rollback.from_commit,
            to_commit=rollback.to_commit,
            culprit=rollback.culprit,
            status=rollback.status.value,
            dry_run=rollback.dry_run,
            automatic=rollback.automatic,
            gates=gates,
            steps=[
                StepReport(
                    name=step.name,
                    status=step.status,
                    detail=step.detail,
                    started_at=step.started_at,
                    finished_at=step.finished_at,
                )
                for step in steps
            ],
            verification=VerificationReport(
                status=rollback.verification, detail=rollback.verification_detail
            ),
            revert_commit=rollback.revert_commit,
            pushed_ref=rollback.pushed_ref,
            error=rollback.error,
            flow_run_id=rollback.flow_run_id,
            started_at=rollback.started_at,
            finished_at=rollback.finished_at,
            duration_s=rollback.duration_s,
        )

    def summary(self) -> str:
        """One line for humans: what happened to whom."""
        moved = f"{(self.from_commit or 'nothing')[:10]} -> {(self.to_commit or '?')[:10]}"
        text = f"{self.action} {self.service} ({self.strategy}) {moved}: {self.status}"
        if self.pushed_ref:
            text += f", pushed {(self.revert_commit or '')[:10]} to {self.pushed_ref}"
        if self.error:
            text += f" - {self.error}"
        return text
