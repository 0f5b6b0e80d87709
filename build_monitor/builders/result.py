"""What one attempt to build, test and health-check a commit produced."""

from __future__ import annotations

from dataclasses import dataclass

from build_monitor.builders.signatures import FailureAnalysis, log_excerpt
from build_monitor.history.models import BuildStage, BuildStatus


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
    # The build and test steps' full output, for test-level parsing (never stored as is).
    output: str | None = None

    @property
    def passed(self) -> bool:
        return self.status is BuildStatus.passed

    @classmethod
    def ok(cls, *, image: str | None = None, duration_s: float = 0.0) -> StepResult:
        return cls(status=BuildStatus.passed, image=image, duration_s=duration_s)

    @classmethod
    def infrastructure(cls, reason: str, *, log_excerpt: str | None = None) -> StepResult:
        return cls(status=BuildStatus.error, signature=reason, log_excerpt=log_excerpt)

    @classmethod
    def from_failure(
        cls,
        analysis: FailureAnalysis,
        *,
        stage: BuildStage,
        fallback_signature: str,
        duration_s: float,
    ) -> StepResult:
        """A failed build or test: `error` when the output shows the machine's fault."""
        if analysis.infrastructure:
            return cls(
                status=BuildStatus.error,
                signature=analysis.infrastructure,
                log_excerpt=analysis.excerpt,
                duration_s=duration_s,
            )
        return cls(
            status=BuildStatus.failed,
            stage=BuildStage(analysis.stage or stage.value),
            signature=analysis.signature or fallback_signature,
            log_excerpt=analysis.excerpt,
            duration_s=duration_s,
        )

    @classmethod
    def timed_out(
        cls, *, stage: BuildStage, timeout_seconds: float, output: str, duration_s: float
    ) -> StepResult:
        return cls(
            status=BuildStatus.failed,
            stage=stage,
            signature=f"timeout: the build took longer than {timeout_seconds:g}s",
            log_excerpt=log_excerpt(output),
            duration_s=duration_s,
        )
