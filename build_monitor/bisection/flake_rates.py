"""Flake rates per test name, from the recorded runs of a service's tests (monitor builds,
checks and probes), so even its first bisection knows which tests flake.

A run of a test counts as a run at a commit where the test is not broken when the same test
passed at that commit in another run, or when the commit is known good (before a confirmed
culprit); failures in such runs are flakes. The rate is the Beta mean of
:func:`~build_monitor.bisection.flake_history.learned_flake_prior` (the per-signature learning,
which stays the fallback for custom test commands).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from build_monitor.bisection.flake_history import FlakeEvidence, learned_flake_prior
from build_monitor.bisection.libtest import TestId, TestOutcome
from build_monitor.bisection.target import Target, effective_target


@dataclass(frozen=True)
class TestRun:
    """One recorded run of the test ``name`` at ``commit``."""

    __test__ = False  # not a pytest test class

    commit: str
    name: str
    outcome: TestOutcome


def flake_evidence_per_test(
    runs: Iterable[TestRun], *, known_good: Callable[[str], bool] = lambda _commit: False
) -> dict[str, FlakeEvidence]:
    """Per test name: runs at commits where it is not broken, and how many of them failed."""
    by_test: dict[str, dict[str, list[TestOutcome]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run.outcome is not TestOutcome.IGNORED:
            by_test[run.name][run.commit].append(run.outcome)
    evidence = {}
    for name, commits in by_test.items():
        total = FlakeEvidence()
        for commit, outcomes in commits.items():
            if TestOutcome.OK in outcomes or known_good(commit):
                total += FlakeEvidence(len(outcomes), outcomes.count(TestOutcome.FAILED))
        evidence[name] = total
    return evidence


def flake_rates_per_test(
    runs: Iterable[TestRun],
    *,
    prior: float,
    prior_weight: float,
    known_good: Callable[[str], bool] = lambda _commit: False,
) -> dict[str, float]:
    """Flake rate per test name (never below ``prior``; see ``learned_flake_prior``)."""
    return {
        name: learned_flake_prior(evidence, prior=prior, prior_weight=prior_weight)
        for name, evidence in flake_evidence_per_test(runs, known_good=known_good).items()
    }


def target_flake_prior(target: Target, rates: Mapping[str, float], *, default: float) -> float:
    """The flake prior of a bisection of ``target``: the highest recorded rate among the tests
    its verdicts will use (known-flaky tests beside a clean one are left out), else ``default``."""
    names = [TestId.from_label(key).name for key in effective_target(target, (), rates)]
    known = [rates[name] for name in names if name in rates]
    return max([default, *known]) if target.tests else default
