"""The simulator and the `git bisect run` baseline are themselves correct."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from build_monitor.bisection import ProbeOutcome
from build_monitor.bisection.simulation import (
    Scenario,
    SimulatedHistory,
    commit_names,
    generate_history,
    simulate_git_bisect,
)

ROOT = Path(__file__).resolve().parents[2]


def test_git_bisect_baseline_is_exact_without_noise() -> None:
    for culprit in range(1, 97):
        history = SimulatedHistory(commits=commit_names(97), culprit=culprit)
        outcome = simulate_git_bisect(history, random.Random(0))
        assert outcome.culprit == history.commits[culprit]
        assert outcome.builds <= 7


def test_git_bisect_baseline_blames_an_unrelated_compile_error() -> None:
    history = SimulatedHistory(
        commits=commit_names(97), culprit=80, untestable=frozenset(range(40, 52))
    )
    outcome = simulate_git_bisect(history, random.Random(0))
    assert outcome.culprit == history.commits[40]


def test_simulated_probes_follow_the_history() -> None:
    history = SimulatedHistory(
        commits=commit_names(11), culprit=6, untestable=frozenset({3}), flake_rate=0.0
    )
    rng = random.Random(0)
    outcomes = [history.probe(position, rng).outcome for position in range(11)]
    assert (
        outcomes
        == [ProbeOutcome.PASSED] * 3
        + [ProbeOutcome.FAILED]
        + [ProbeOutcome.PASSED] * 2
        + [ProbeOutcome.FAILED] * 5
    )
    assert history.probe(3, rng).signature != history.probe(6, rng).signature


def test_flake_and_error_rates_are_honoured() -> None:
    history = SimulatedHistory(commits=commit_names(3), culprit=2, flake_rate=0.2, error_rate=0.1)
    rng = random.Random(5)
    outcomes = [history.probe(1, rng).outcome for _ in range(20_000)]
    assert 0.09 < outcomes.count(ProbeOutcome.ERROR) / 20_000 < 0.11
    assert 0.17 < outcomes.count(ProbeOutcome.FAILED) / 20_000 < 0.19  # 0.9 * 0.2


def test_generated_windows_never_cover_the_bad_commit() -> None:
    rng = random.Random(3)
    scenario = Scenario("w", 20, untestable_windows=3, max_window=10)
    for _ in range(200):
        history = generate_history(scenario, rng)
        assert history.candidates not in history.untestable
        assert 0 not in history.untestable


def test_benchmark_script_prints_a_comparison_table() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bisect_simulated.py"), "--ranges", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "git bisect run" in completed.stdout
    assert "flake-aware, prior 0.2" in completed.stdout
    assert "untestable windows" in completed.stdout
