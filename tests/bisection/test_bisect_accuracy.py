"""Seeded statistical comparisons against plain `git bisect run` on simulated histories."""

from __future__ import annotations

import time

import pytest

from build_monitor.bisection import BisectSettings
from build_monitor.bisection.simulation import Scenario, compare_methods, simulate_learned_priors
from tests.bisection.conftest import MEASUREMENTS

FLAKY_128 = Scenario("128 commits, 20% flaky (same signature)", 128, flake_rate=0.2)


def _report(label: str, comparison_line: str) -> None:
    MEASUREMENTS.append(f"{label}: {comparison_line}")
    print(f"{label}: {comparison_line}")


@pytest.mark.parametrize(
    ("flake_prior", "label", "minimum_correct"),
    [
        # The requirement: the test's historical flake rate is the prior.
        (0.2, "prior = historical rate 0.2", 990),
        # A prior half the true rate: reruns must teach the model the rest.
        (0.1, "prior 0.1, rate learned from reruns", 980),
    ],
)
def test_twenty_percent_flakes_name_the_true_culprit(
    flake_prior: float, label: str, minimum_correct: int
) -> None:
    started = time.monotonic()
    comparison = compare_methods(
        FLAKY_128, 1000, seed=20230401, settings=BisectSettings(flake_prior=flake_prior)
    )
    elapsed = time.monotonic() - started
    ours, git = comparison.flake_aware, comparison.git_bisect

    _report(
        f"20% flakes, {label}",
        f"correct {ours.correct}/1000, wrong {ours.wrong}, inconclusive {ours.inconclusive}, "
        f"mean builds {ours.mean_builds:.2f} | git bisect correct {git.correct}/1000, "
        f"mean builds {git.mean_builds:.2f} ({elapsed:.1f}s)",
    )
    assert ours.runs == 1000
    assert ours.correct >= minimum_correct
    assert git.correct < 700


def test_with_the_default_prior_learning_across_bisections_reaches_99_percent() -> None:
    """No prior knowledge (0.01): each bisection of the service starts from the flake rate the
    confirmed ones before it saw, as the bisect flow does."""
    started = time.monotonic()
    run = simulate_learned_priors(FLAKY_128, 1000, seed=20230401, settings=BisectSettings())
    elapsed = time.monotonic() - started
    correct = run.verdicts.count("correct")
    _report(
        "20% flakes, default prior 0.01 learned across bisections",
        f"correct {correct}/1000 (first 10: {run.verdicts[:10].count('correct')}/10), "
        f"prior after 10 bisections {run.priors[10]:.3f}, after 1000 {run.priors[-1]:.3f}, "
        f"mean builds {sum(run.builds) / 1000:.2f} ({elapsed:.1f}s)",
    )
    assert correct >= 990
    assert 0.15 <= run.priors[-1] <= 0.25


def test_flake_free_cost_stays_within_two_builds_of_git_bisect() -> None:
    comparison = compare_methods(
        Scenario("128 commits, deterministic", 128), 1000, seed=7, settings=BisectSettings()
    )
    ours, git = comparison.flake_aware, comparison.git_bisect

    _report(
        "no flakes",
        f"correct {ours.correct}/1000, mean builds {ours.mean_builds:.2f} | git bisect correct "
        f"{git.correct}/1000, mean builds {git.mean_builds:.2f}",
    )
    assert ours.correct == git.correct == 1000
    assert ours.mean_builds <= git.mean_builds + 2


def test_untestable_windows_never_get_blamed() -> None:
    comparison = compare_methods(
        Scenario("96 commits, 2 untestable windows", 96, untestable_windows=2),
        500,
        seed=11,
        settings=BisectSettings(),
    )
    ours, git = comparison.flake_aware, comparison.git_bisect

    _report(
        "untestable windows",
        f"correct {ours.correct}/500, wrong {ours.wrong}, inconclusive {ours.inconclusive} | "
        f"git bisect wrong {git.wrong}/500",
    )
    assert ours.wrong == 0
    assert ours.correct == 500
    assert git.wrong > 50
