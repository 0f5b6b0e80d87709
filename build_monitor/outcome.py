"""What one attempt to build, test and health-check a commit produced."""

from __future__ import annotations

from dataclasses import dataclass

from build_monitor.models import BuildStage, BuildStatus


@dataclass(frozen=True)
class StepResult:
    """The result of one step (build+test, or health). `status` is passed, failed or error."""

    status: BuildStatus
    stage: BuildStage | None = None
    signature: str | None = None
    log_excerpt: str | None = None
    image: str | None = None
    duration_s: float = 0.0
    attempts: int = 1

    @property
    def passed(self) -> bool:
        return self.status is BuildStatus.passed

    @classmethod
    def ok(cls, *, image: str | None = None, duration_s: float = 0.0) -> StepResult:
        return cls(status=BuildStatus.passed, image=image, duration_s=duration_s)

    @classmethod
    def infrastructure(cls, reason: str, *, log_excerpt: str | None = None) -> StepResult:
        return cls(status=BuildStatus.error, signature=reason, log_excerpt=log_excerpt)
