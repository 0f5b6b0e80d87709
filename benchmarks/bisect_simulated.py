"""Flake-aware bisection against plain `git bisect run` on seeded simulated histories.

Usage: .venv/bin/python benchmarks/bisect_simulated.py [--ranges 300] [--seed 1]

"correct" means the true culprit was confirmed (or "no culprit" when the red result was a
flake, or an honest inconclusive window holding the culprit when untestable commits hide it);
"wrong" means another commit was blamed; "inconclusive" means no commit was named.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_monitor.bisection import BisectSettings
from build_monitor.bisection.simulation import (
    MethodStats,
    Scenario,
    compare_methods,
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
    print(f"\nfinished in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
