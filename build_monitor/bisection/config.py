"""The `[services.bisect]` table of config.toml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from build_monitor.bisection.settings import BisectSettings


class BisectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Start a bisection when the service turns red (good: last passing build, bad: first failure).
    auto: bool = True
    parallel: int = Field(default=1, ge=1, le=16)
    confidence: float = Field(default=0.99, gt=0.5, lt=1)
    # Prior probability that the failing test is flaky on a good commit; set it to the test's
    # known flake rate when you have one (e.g. 0.2). Evidence from reruns updates it. Unset, it
    # is learned from the service's earlier bisections of the same failure (never below 0.01).
    flake_prior: float = Field(default=0.01, ge=0, lt=0.5)
    max_builds: int | None = Field(default=None, ge=2)
    error_retries: int = Field(default=1, ge=0, le=5)
    # Total build time a bisection may spend on one commit (all its probes and reruns); past
    # it the commit is untestable. Unset: bounded by (1 + error_retries) x build timeout.
    max_commit_seconds: float | None = Field(default=None, gt=0)
    # Follow the first-parent chain (as deploys do); false descends into merged branches.
    first_parent: bool = True
    # Run each probe as a `bisect-probe` deployment run that any worker on the work pool may
    # take (register the deployments first), instead of a thread in the bisect flow's process.
    distributed: bool = False

    @property
    def flake_prior_configured(self) -> bool:
        return "flake_prior" in self.model_fields_set

    def settings(
        self, *, parallel: int | None = None, flake_prior: float | None = None
    ) -> BisectSettings:
        return BisectSettings(
            confidence=self.confidence,
            max_builds=self.max_builds,
            flake_prior=self.flake_prior if flake_prior is None else flake_prior,
            parallel=parallel or self.parallel,
            error_retries=self.error_retries,
            max_commit_seconds=self.max_commit_seconds,
        )
