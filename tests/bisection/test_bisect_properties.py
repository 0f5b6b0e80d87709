"""Hypothesis property tests over simulated histories."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from build_monitor.bisection import (
    BisectResult,
    BisectSearch,
    BisectSettings,
    BisectStatus,
    ProbeOutcome,
    matches_target,
)
from build_monitor.bisection.simulation import (
    SimulatedHistory,
    commit_names,
    run_simulated_search,
)


@st.composite
def histories(
    draw: st.DrawFn,
    *,
    max_candidates: int = 300,
    flaky: bool = False,
    windows: bool = False,
    errors: bool = False,
) -> SimulatedHistory:
    candidates = draw(st.integers(1, max_candidates))
    culprit = draw(st.integers(1, candidates))
    untestable: set[int] = set()
    if windows and candidates > 1:
        for _ in range(draw(st.integers(0, 3))):
            start = draw(st.integers(1, candidates - 1))
            length = draw(st.integers(1, 10))
            untestable.update(range(start, min(start + length, candidates)))
    return SimulatedHistory(
        commits=commit_names(candidates + 1),
        culprit=culprit,
        flake_rate=draw(st.sampled_from([0.05, 0.1, 0.2, 0.3])) if flaky else 0.0,
        untestable=frozenset(untestable),
        error_rate=draw(st.sampled_from([0.0, 0.05, 0.2])) if errors else 0.0,
    )


@settings(max_examples=300, deadline=None)
@given(history=histories(), seed=st.integers(0, 2**32))
def test_deterministic_culprit_is_always_found_in_log2_plus_2_builds(
    history: SimulatedHistory, seed: int
) -> None:
    result = run_simulated_search(history, BisectSettings(), random.Random(seed)).result

    assert result.status is BisectStatus.CONFIRMED, result.reason
    assert result.culprit == history.culprit_commit
    assert result.builds <= math.ceil(math.log2(history.candidates)) + 2


@settings(max_examples=200, deadline=None)
@given(history=histories(windows=True, errors=True), seed=st.integers(0, 2**32))
def test_without_flakes_untestable_commits_and_errors_never_mislead(
    history: SimulatedHistory, seed: int
) -> None:
    result = run_simulated_search(history, BisectSettings(), random.Random(seed)).result
    suspects = [commit for commit, _ in result.suspects]

    assert result.status in (BisectStatus.CONFIRMED, BisectStatus.INCONCLUSIVE), result.reason
    if result.status is BisectStatus.CONFIRMED:
        assert result.culprit == history.culprit_commit
    else:
        assert history.culprit_commit in suspects, result.reason
    if history.isolatable and not history.error_rate:
        assert result.culprit == history.culprit_commit, result.reason
    if not history.isolatable:
        assert result.status is BisectStatus.INCONCLUSIVE


def _target_runs(history: SimulatedHistory, result: BisectResult, commit: str) -> tuple[int, int]:
    """(target failures, passes) of ``commit`` across the known and recorded observations."""
    observations = [history.known_bad_observation(), *result.observations]
    fails = sum(
        1
        for o in observations
        if o.commit == commit
        and o.outcome is ProbeOutcome.FAILED
        and matches_target(history.target_signature, o.signature)
    )
    passes = sum(1 for o in observations if o.commit == commit and o.outcome is ProbeOutcome.PASSED)
    return fails, passes


@settings(max_examples=150, deadline=None)
@given(
    history=histories(max_candidates=200, flaky=True, windows=True, errors=True),
    seed=st.integers(0, 2**32),
    parallel=st.integers(1, 4),
    prior_is_known=st.booleans(),
)
def test_flaky_searches_keep_their_invariants(
    history: SimulatedHistory, seed: int, parallel: int, prior_is_known: bool
) -> None:
    settings = BisectSettings(
        parallel=parallel, flake_prior=history.flake_rate if prior_is_known else 0.01
    )
    result = run_simulated_search(history, settings, random.Random(seed)).result

    assert 0 < result.builds <= settings.build_budget(history.candidates)
    assert (result.culprit is not None) == (
        result.status in (BisectStatus.CONFIRMED, BisectStatus.UNVERIFIED)
    )
    probabilities = [probability for _, probability in result.suspects]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0.0 < p <= 1.0 for p in probabilities)
    assert sum(probabilities) <= 1.0 + 1e-9
    if result.status is BisectStatus.CONFIRMED:
        assert result.culprit is not None
        assert result.confidence >= settings.confidence
        position = history.commits.index(result.culprit)
        assert position - 1 not in history.untestable
        assert result.culprit not in {history.commits[p] for p in history.untestable}
        culprit_fails, _ = _target_runs(history, result, result.culprit)
        _, parent_passes = _target_runs(history, result, history.commits[position - 1])
        assert culprit_fails >= 2
        assert parent_passes >= 1

    replayed = BisectSearch.replay(
        history.commits,
        target_signature=history.target_signature,
        settings=settings,
        known=[history.known_bad_observation()],
        observations=result.observations,
    )
    assert replayed.done
    assert replayed.result() == result
