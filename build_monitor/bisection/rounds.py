"""What travels between the bisect flow, its round subflows and the probe task: typed models,
validated at each Prefect boundary."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from build_monitor.bisection.hints import PriorHint
from build_monitor.bisection.libtest import TestLog
from build_monitor.bisection.observation import Observation, ProbeOutcome
from build_monitor.bisection.search import BisectSearch
from build_monitor.bisection.settings import BisectSettings
from build_monitor.bisection.target import Target, judge_probe


class ProbeResult(BaseModel):
    """One probe: what it told the search, and the failing log's excerpt for the report.
    ``test_log`` is every test result the probe's output showed, until the round judges it
    against the target (:meth:`BisectContext.judged`) and keeps only the verdict's evidence."""

    model_config = ConfigDict(frozen=True)

    observation: Observation
    log_excerpt: str | None = None
    test_log: TestLog | None = None

    @property
    def commit(self) -> str:
        return self.observation.commit

    @property
    def outcome(self) -> ProbeOutcome:
        return self.observation.outcome


class BisectContext(BaseModel):
    """What every round needs, unchanged from round to round."""

    model_config = ConfigDict(frozen=True)

    service: str
    config_path: str | None
    mirror: str
    bisection_id: int
    commits: list[str]
    target_signature: str
    settings: BisectSettings
    known: list[Observation]
    # Builds run before the search (the bad commit's first build): one count of builds.
    builds_before: int = 0
    # The test-level target (None: one failure signature, as for custom test commands), the
    # recorded flake rate per test name, and the prior from what each commit touched.
    target: Target | None = None
    test_flake_rates: dict[str, float] = Field(default_factory=dict)
    prior_hint: PriorHint | None = None

    def search(self, probes: Sequence[ProbeResult]) -> BisectSearch:
        """The search replayed over the probes run so far."""
        return BisectSearch.replay(
            self.commits,
            target_signature=self.target_signature,
            settings=self.settings,
            known=self.known,
            observations=[self.judged(probe).observation for probe in probes],
            target=self.target,
            test_flake_rates=self.test_flake_rates,
            prior_hint=self.prior_hint,
            builds_before=self.builds_before,
        )

    def judged(self, probe: ProbeResult) -> ProbeResult:
        """The probe with its test results judged against the target and its full test log
        dropped (what travels on between rounds is the verdict's evidence only)."""
        if probe.test_log is None:
            return probe
        return probe.model_copy(
            update={
                "observation": judge_observation(probe.observation, probe.test_log, self.target),
                "test_log": None,
            }
        )

    def built_commits(self, probes: Sequence[ProbeResult]) -> frozenset[str]:
        """The commits this bisection has built so far: the bad commit when it was built to
        learn its failure, and every probe that passed or failed (not errored, not reused)."""
        built = {
            probe.commit
            for probe in probes
            if probe.outcome is not ProbeOutcome.ERROR and not probe.observation.cached
        }
        if self.builds_before:
            built.add(self.commits[-1])
        return frozenset(built)

    def round_name(self, round_number: int) -> str:
        return (
            f"bisect {self.service} {self.commits[0][:6]}..{self.commits[-1][:6]} "
            f"round {round_number}"
        )


def judge_observation(
    observation: Observation, log: TestLog | None, target: Target | None
) -> Observation:
    """``observation`` with the test-level evidence of ``log`` against ``target`` (unchanged
    without a target or a log, and for infrastructure errors, which tested nothing)."""
    if target is None or log is None or observation.outcome is ProbeOutcome.ERROR:
        return observation
    timed_out = (observation.signature or "").startswith("timeout")
    tests = judge_probe(log, target, blocked_by="timeout" if timed_out else None)
    return dataclasses.replace(observation, tests=tests)


def latest_log_excerpt(probes: Sequence[ProbeResult], commit: str) -> str | None:
    """The newest probe's log excerpt for `commit`, if any probe of it kept one."""
    return next(
        (p.log_excerpt for p in reversed(probes) if p.commit == commit and p.log_excerpt), None
    )
