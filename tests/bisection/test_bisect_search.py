"""Scripted bisections: each test pins one behaviour of the search."""

from __future__ import annotations

import math

import pytest

from build_monitor.bisection import (
    BisectSearch,
    BisectSettings,
    BisectStatus,
    Observation,
    ProbeOutcome,
    run_search,
)
from tests.bisection.conftest import TARGET, ScriptedProbe, broken_from, failed, passed


def search_for(
    commits: tuple[str, ...], settings: BisectSettings = BisectSettings(), **kwargs: object
) -> BisectSearch:
    return BisectSearch(
        commits,
        target_signature=TARGET,
        settings=settings,
        known=[failed(commits[-1])],
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("culprit", [1, 2, 16, 17, 31, 32])
def test_deterministic_history_names_and_verifies_the_culprit(
    commits: tuple[str, ...], culprit: int
) -> None:
    probe = broken_from(commits, culprit)
    result = run_search(search_for(commits), probe)

    assert result.status is BisectStatus.CONFIRMED
    assert result.culprit == commits[culprit]
    assert result.confidence >= 0.99
    assert result.builds <= math.ceil(math.log2(32)) + 2
    assert probe.asked.count(commits[culprit]) >= 1 + (culprit != 32)  # failure reproduced
    assert commits[culprit - 1] in probe.asked  # parent built and passed
    assert "broke it" in result.reason


def test_unrelated_failures_are_skipped_not_blamed(commits: tuple[str, ...]) -> None:
    window = {commit: ["other"] for commit in commits[10:21]}
    result = run_search(search_for(commits), broken_from(commits, 25, **window))

    assert result.status is BisectStatus.CONFIRMED
    assert result.culprit == commits[25]


@pytest.mark.parametrize("culprit", [15, 21])
def test_culprit_hidden_by_untestable_window_is_reported_as_window(
    commits: tuple[str, ...], culprit: int
) -> None:
    window = {commit: ["other"] for commit in commits[10:21]}
    result = run_search(search_for(commits), broken_from(commits, culprit, **window))

    assert result.status is BisectStatus.INCONCLUSIVE
    assert result.culprit is None
    assert {commit for commit, _ in result.suspects} == set(commits[10:22])
    assert "cannot be narrowed further" in result.reason


def test_error_is_retried_then_used(commits: tuple[str, ...]) -> None:
    probe = broken_from(commits, 16, **{commits[16]: ["error", "fail"]})
    result = run_search(search_for(commits), probe)

    assert result.culprit == commits[16]
    first = probe.asked.index(commits[16])
    assert probe.asked[first + 1] == commits[16]


def test_commit_that_keeps_erroring_is_never_blamed(commits: tuple[str, ...]) -> None:
    probe = broken_from(commits, 16, **{commits[16]: ["error"]})
    result = run_search(search_for(commits, BisectSettings(error_retries=2)), probe)

    assert result.status is BisectStatus.INCONCLUSIVE
    assert result.culprit is None
    assert probe.asked.count(commits[16]) == 3
    assert commits[16] in {commit for commit, _ in result.suspects}


def test_flaky_good_commits_are_caught_by_reruns(commits: tuple[str, ...]) -> None:
    # The first two probes (16, then 8) hit good commits that flake once: plain bisection
    # would blame commit 8.
    flaky_first = {commits[16]: ["fail", "pass"], commits[8]: ["fail", "pass"]}
    probe = broken_from(commits, 20, **flaky_first)
    result = run_search(search_for(commits), probe)

    assert probe.asked[:2] == [commits[16], commits[8]]
    assert result.status is BisectStatus.CONFIRMED
    assert result.culprit == commits[20]
    assert result.flake_rate > 0.05


def test_hopelessly_flaky_test_ends_inconclusive_not_wrong(commits: tuple[str, ...]) -> None:
    # Every good commit fails the first time it is built: a ~50% flake rate.
    flaky_first = {commit: ["fail", "pass"] for commit in commits[:20]}
    result = run_search(search_for(commits), broken_from(commits, 20, **flaky_first))

    assert result.status is BisectStatus.INCONCLUSIVE
    assert result.culprit is None
    assert result.builds == BisectSettings().build_budget(32)
    assert result.suspects[0][0] == commits[20]


def test_failed_verification_never_confirms(commits: tuple[str, ...]) -> None:
    # Commit 16 fails once (a flake) then passes; the real culprit is 24.
    probe = broken_from(commits, 24, **{commits[16]: ["fail", "pass"]})
    search = search_for(commits)
    for observation in probe(search.next_probes()):
        search.record(observation)
    assert probe.asked == [commits[16]]
    result = run_search(search, probe)

    assert result.culprit == commits[24]
    assert result.status is BisectStatus.CONFIRMED


def test_bad_result_that_was_a_flake_names_no_culprit(commits: tuple[str, ...]) -> None:
    result = run_search(search_for(commits), ScriptedProbe({}, default="pass"))

    assert result.status is BisectStatus.NO_CULPRIT
    assert result.culprit is None
    assert result.confidence >= 0.99
    assert "flake" in result.reason


def test_spent_budget_is_inconclusive_with_suspects(commits: tuple[str, ...]) -> None:
    result = run_search(search_for(commits, BisectSettings(max_builds=3)), broken_from(commits, 9))

    assert result.status is BisectStatus.INCONCLUSIVE
    assert result.culprit is None
    assert result.builds == 3
    assert commits[9] in {commit for commit, _ in result.suspects}
    assert "budget of 3" in result.reason


def test_without_verification_the_culprit_is_only_unverified(commits: tuple[str, ...]) -> None:
    result = run_search(search_for(commits, BisectSettings(verify=False)), broken_from(commits, 7))

    assert result.status is BisectStatus.UNVERIFIED
    assert result.culprit == commits[7]
    assert result.builds <= math.ceil(math.log2(32)) + 1


def test_parallel_round_splits_mass_into_quarters(commits: tuple[str, ...]) -> None:
    search = search_for(commits, BisectSettings(parallel=3))
    assert search.next_probes() == [commits[8], commits[16], commits[24]]

    probe = broken_from(commits, 11)
    result = run_search(search, probe)
    assert result.culprit == commits[11]
    assert result.status is BisectStatus.CONFIRMED


def test_probe_splits_probability_mass_not_commit_count(commits: tuple[str, ...]) -> None:
    # A fail at commit 8 of a flaky test leaves real mass above 8: the next probe is not the
    # count midpoint of 1..8 but the commit where the mass splits evenly.
    search = search_for(commits, BisectSettings(flake_prior=0.3, flake_prior_weight=50))
    search.record(failed(commits[8]))
    probabilities = search.probabilities()
    (next_probe,) = search.next_probes()
    before = sum(probabilities[commit] for commit in commits[1 : commits.index(next_probe) + 1])

    assert commits.index(next_probe) > 4
    assert abs(before - 0.5) <= max(probabilities.values())


def test_known_and_cached_observations_are_free(commits: tuple[str, ...]) -> None:
    search = search_for(commits)
    search.record(Observation(commits[16], ProbeOutcome.PASSED, cached=True))
    assert search.builds == 0
    search.record(passed(commits[20]))
    assert search.builds == 1


def test_flake_evidence_raises_the_flake_rate(commits: tuple[str, ...]) -> None:
    quiet = search_for(commits)
    noisy = search_for(commits)
    for search, outcomes in ((quiet, ["pass", "pass"]), (noisy, ["pass", "fail"])):
        for outcome in outcomes:
            search.record(passed(commits[5]) if outcome == "pass" else failed(commits[5]))

    assert noisy.result().flake_rate > 5 * quiet.result().flake_rate


def test_result_before_the_end_is_a_progress_report(commits: tuple[str, ...]) -> None:
    search = search_for(commits)
    result = search.result()
    assert not search.done
    assert result.status is BisectStatus.INCONCLUSIVE
    assert result.reason.startswith("search still running")


def test_likely_rerun_is_the_earliest_target_failure(commits: tuple[str, ...]) -> None:
    search = search_for(commits)
    assert search.likely_reruns() == [commits[-1]]
    search.record(failed(commits[20]))
    search.record(failed(commits[9], "other"))
    search.record(passed(commits[5]))
    assert search.likely_reruns() == [commits[20]]
    search.record(failed(commits[12]))
    assert search.likely_reruns() == [commits[12]]
