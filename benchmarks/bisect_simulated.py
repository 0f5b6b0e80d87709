"""Flake-aware bisection against plain `git bisect run` on seeded simulated histories.

Usage: .venv/bin/python benchmarks/bisect_simulated.py [--ranges 300] [--seed 1]

"correct" means the true culprit was confirmed (or "no culprit" when the red result was a
flake, or an honest inconclusive window holding the culprit when untestable commits hide it);
"wrong" means another commit was blamed; "inconclusive" means no commit was named.

The second table is the flaky-other-test case, at test level from a cold start (no earlier
records): a real break makes `tests::predicts_positive_example` fail from the culprit on, while
`tests::inference_is_stable` fails on 20% of runs at every commit. Each probe's libtest output is
parsed and judged against the target tests.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_monitor.bisection import BisectSettings
from build_monitor.bisection.simulation import (
    MethodStats,
    Scenario,
    commit_names,
    compare_methods,
)
from build_monitor.bisection.simulation_tests import (
    TestLevelHistory,
    git_bisect_culprit,
    run_test_level_search,
    verdict_of,
)

MAX_RANGES = 2000


@dataclass(frozen=True)
class Case:
    scenario: Scenario
    settings: BisectSettings
    method: str


CASES = [
    Case(Scenario("no flakes", 96), BisectSettings(), "flake-aware"),
    Case(
        Scenario("20% flaky, same signature", 96, flake_rate=0.2),
        BisectSettings(flake_prior=0.2),
        "flake-aware, prior 0.2",
    ),
    Case(
        Scenario("20% flaky, same signature", 96, flake_rate=0.2),
        BisectSettings(),
        "flake-aware, default prior",
    ),
    Case(
        Scenario("20% flaky, same signature", 96, flake_rate=0.2),
        BisectSettings(flake_prior=0.2, parallel=3),
        "flake-aware, prior 0.2, 3 parallel",
    ),
    Case(
        Scenario("untestable windows (2 x <=8)", 96, untestable_windows=2),
        BisectSettings(),
        "flake-aware",
    ),
    Case(Scenario("10% infra errors", 96, error_rate=0.1), BisectSettings(), "flake-aware"),
    Case(
        Scenario("red was a flake (30%), 20% flaky", 96, flake_rate=0.2, no_culprit_fraction=0.3),
        BisectSettings(flake_prior=0.2),
        "flake-aware, prior 0.2",
    ),
]


def _row(scenario: str, method: str, stats: MethodStats) -> str:
    return (
        f"{scenario:<34} {method:<36} {stats.rate(stats.correct):>8.1%} "
        f"{stats.rate(stats.wrong):>7.1%} {stats.rate(stats.inconclusive):>8.1%} "
        f"{stats.mean_builds:>7.2f} {stats.mean_rounds:>7.2f}"
    )


@dataclass(frozen=True)
class FlakyOtherTestCase:
    method: str
    test_level: bool = True
    separate_binaries: bool = False
    no_fail_fast: bool = True


FLAKY_OTHER_TEST_CASES = [
    FlakyOtherTestCase("test-level, one test binary"),
    FlakyOtherTestCase("test-level, 2 binaries, --no-fail-fast", separate_binaries=True),
    FlakyOtherTestCase(
        "test-level, 2 binaries, cargo stops early", separate_binaries=True, no_fail_fast=False
    ),
    FlakyOtherTestCase("one signature per probe (before)", test_level=False),
]


def flaky_other_test(ranges: int, seed: int) -> None:
    print(
        f"\nflaky other test: {ranges} cold-start ranges of 96 suspects, a real break in one test, "
        "another test flaking 20% at every commit"
    )
    header = f"{'method':<42} {'correct':>8} {'wrong':>7} {'inconcl.':>8} {'builds':>7}"
    print(header)
    print("-" * len(header))
    git = MethodStats()
    for case in FLAKY_OTHER_TEST_CASES:
        rng = random.Random(seed)
        stats = MethodStats()
        for _ in range(ranges):
            history = TestLevelHistory(
                commit_names(97),
                culprit=rng.randint(1, 96),
                separate_binaries=case.separate_binaries,
                no_fail_fast=case.no_fail_fast,
            )
            result = run_test_level_search(
                history, BisectSettings(), rng, test_level=case.test_level
            ).result
            verdict = verdict_of(history, result)
            stats.runs += 1
            stats.builds += result.builds
            setattr(stats, verdict, getattr(stats, verdict) + 1)
            if case is FLAKY_OTHER_TEST_CASES[0]:
                blamed, builds = git_bisect_culprit(history, rng)
                git.runs += 1
                git.builds += builds
                if blamed == history.culprit_commit:
                    git.correct += 1
                else:
                    git.wrong += 1
        print(_other_row(case.method, stats))
    print(_other_row("git bisect run", git))


def _other_row(method: str, stats: MethodStats) -> str:
    return (
        f"{method:<42} {stats.rate(stats.correct):>8.1%} {stats.rate(stats.wrong):>7.1%} "
        f"{stats.rate(stats.inconclusive):>8.1%} {stats.mean_builds:>7.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranges", type=int, default=1000, help="histories per scenario")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 1 <= args.ranges <= MAX_RANGES:
        parser.error(f"--ranges must be between 1 and {MAX_RANGES}")

    started = time.monotonic()
    print(f"{args.ranges} seeded ranges per scenario, 96 suspect commits each (seed {args.seed})")
    header = (
        f"{'scenario':<34} {'method':<36} {'correct':>8} {'wrong':>7} {'inconcl.':>8} "
        f"{'builds':>7} {'rounds':>7}"
    )
    print(header)
    print("-" * len(header))
    last_scenario = None
    for case in CASES:
        comparison = compare_methods(case.scenario, args.ranges, args.seed, case.settings)
        if case.scenario != last_scenario:
            print(_row(case.scenario.name, "git bisect run", comparison.git_bisect))
            last_scenario = case.scenario
        print(_row("", case.method, comparison.flake_aware))
    flaky_other_test(args.ranges, args.seed)
    print(f"\nfinished in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
