"""Learning a test's flake rate from earlier bisections (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from build_monitor.bisection import Observation, ProbeOutcome
from build_monitor.bisection.flake_history import (
    MAX_LEARNED_PRIOR,
    FlakeEvidence,
    evidence_from_bisection,
    learned_flake_prior,
)
from tests.bisection.conftest import TARGET, errored, failed, passed

GOOD = {"g1", "g2", "g3"}


def test_only_fresh_runs_of_the_target_test_at_known_good_commits_count() -> None:
    observations = [
        passed("g1"),
        failed("g1"),  # a flake: g1 is known good
        failed("g2"),  # a flake
        passed("g3"),
        failed("g3", "other"),  # another test: says nothing about this one
        errored("g2"),  # the machinery, not the test
        Observation("g1", ProbeOutcome.FAILED, TARGET, cached=True),  # another bisection counts it
        failed("culprit"),
        passed("after"),  # not known good (e.g. a false pass after the culprit)
    ]
    evidence = evidence_from_bisection(
        observations, target_signature=TARGET, known_good=GOOD.__contains__
    )
    assert evidence == FlakeEvidence(runs=4, flaky_failures=2)


def test_evidence_pools() -> None:
    assert FlakeEvidence(4, 1) + FlakeEvidence(6, 2) == FlakeEvidence(10, 3)
    with pytest.raises(ValueError):
        FlakeEvidence(2, 3)


def test_learned_prior_is_a_beta_mean_never_below_the_prior_and_capped() -> None:
    assert learned_flake_prior(FlakeEvidence(), prior=0.01, prior_weight=2) == pytest.approx(0.01)
    assert learned_flake_prior(FlakeEvidence(8, 2), prior=0.01, prior_weight=2) == pytest.approx(
        (0.02 + 2) / 10
    )
    assert learned_flake_prior(FlakeEvidence(40, 0), prior=0.01, prior_weight=2) == 0.01
    assert learned_flake_prior(FlakeEvidence(4, 4), prior=0.01, prior_weight=2) == (
        MAX_LEARNED_PRIOR
    )


@given(
    st.integers(min_value=0, max_value=500),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=0.45),
    st.floats(min_value=0.1, max_value=50),
)
def test_learned_prior_lies_between_the_prior_and_the_observed_rate(
    runs: int, share: float, prior: float, weight: float
) -> None:
    flaky = round(runs * share)
    learned = learned_flake_prior(FlakeEvidence(runs, flaky), prior=prior, prior_weight=weight)
    observed = flaky / runs if runs else prior
    assert prior <= learned <= max(prior, observed) + 1e-12
    assert learned <= max(prior, MAX_LEARNED_PRIOR)
