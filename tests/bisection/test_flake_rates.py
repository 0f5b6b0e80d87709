"""Flake rates per test name from recorded runs (pure)."""

from __future__ import annotations

import pytest

from build_monitor.bisection.flake_history import FlakeEvidence
from build_monitor.bisection.flake_rates import (
    TestRun,
    flake_evidence_per_test,
    flake_rates_per_test,
    target_flake_prior,
)
from build_monitor.bisection.libtest import TestOutcome
from build_monitor.bisection.target import Target

OK, FAILED = TestOutcome.OK, TestOutcome.FAILED
STABLE = "tests::inference_is_stable"
PREDICTS = "tests::predicts_positive_example"


def _runs() -> list[TestRun]:
    return [
        TestRun("c1", STABLE, OK),
        TestRun("c1", STABLE, FAILED),  # passed at c1 too: a flake
        TestRun("c2", STABLE, OK),
        TestRun("c2", STABLE, OK),
        TestRun("c3", STABLE, FAILED),  # c3 known good: a flake
        TestRun("c4", STABLE, FAILED),  # nothing says c4 is good: no evidence
        TestRun("c4", PREDICTS, FAILED),
        TestRun("c4", PREDICTS, FAILED),  # broken, not flaky
        TestRun("c1", PREDICTS, OK),
        TestRun("c1", PREDICTS, TestOutcome.IGNORED),
    ]


def test_failures_at_commits_where_the_test_is_not_broken_are_flakes() -> None:
    evidence = flake_evidence_per_test(_runs(), known_good={"c3"}.__contains__)
    assert evidence == {
        STABLE: FlakeEvidence(runs=5, flaky_failures=2),
        PREDICTS: FlakeEvidence(runs=1, flaky_failures=0),
    }


def test_rates_are_beta_means_and_the_target_prior_ignores_known_flaky_neighbours() -> None:
    rates = flake_rates_per_test(
        _runs(), prior=0.01, prior_weight=2, known_good={"c3"}.__contains__
    )
    assert rates[STABLE] == pytest.approx((0.02 + 2) / 7)
    assert rates[PREDICTS] == pytest.approx(0.01)

    both = Target(tests=(f"{STABLE} [unittests src/lib.rs]", f"{PREDICTS} [unittests src/lib.rs]"))
    assert target_flake_prior(both, rates, default=0.01) == pytest.approx(0.01)
    only_stable = Target(tests=(f"{STABLE} [unittests src/lib.rs]",))
    assert target_flake_prior(only_stable, rates, default=0.01) == pytest.approx(rates[STABLE])
