"""Suspects weighted by the files the failure names, against plain `git bisect run`.

Usage: .venv/bin/python benchmarks/bisect_hints.py [--ranges 1000] [--candidates 96] [--seed 1]

Simulated deterministic histories: every commit touches 1-3 of a crate's files, 4% of them
`src/net.rs`, the file the failure names. "hint right": the culprit touches it; "hint wrong": it
does not. Prints mean builds of the hinted search, the same search without the hint, and
simulated `git bisect run` (plain binary search) on the same histories.
Targets: hinted <= 0.75x git's builds when the hint is right; a wrong hint costs <= 1 build.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build_monitor.bisection import BisectSettings
from build_monitor.bisection.simulation import simulate_git_bisect
from build_monitor.bisection.simulation_hints import generate_hinted_history, run_hinted_search

MAX_RANGES = 5000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranges", type=int, default=1000, help="histories per case")
    parser.add_argument("--candidates", type=int, default=96)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 1 <= args.ranges <= MAX_RANGES:
        parser.error(f"--ranges must be between 1 and {MAX_RANGES}")
    if args.candidates < 2:
        parser.error("--candidates must be at least 2")

    started = time.monotonic()
    print(f"{args.ranges} seeded ranges per case, {args.candidates} suspects (seed {args.seed})")
    header = (
        f"{'case':<12} {'correct':>8} {'hinted':>7} {'no hint':>8} {'git':>6} "
        f"{'hinted/git':>11} {'hint cost':>10} {'prior share':>12}"
    )
    print(header)
    print("-" * len(header))
    for hint_right in (True, False):
        rng = random.Random(args.seed)
        hinted = plain = git = correct = 0
        share = 0.0
        for _ in range(args.ranges):
            history = generate_hinted_history(args.candidates, rng, hint_right=hint_right)
            result = run_hinted_search(history, BisectSettings(), rng)
            hinted += result.builds
            correct += result.culprit == history.history.culprit_commit
            share += (result.prior_hint or {}).get("share", 0.0)
            plain += run_hinted_search(history, BisectSettings(), rng, use_hint=False).builds
            git += simulate_git_bisect(history.history, rng).builds
        runs = args.ranges
        print(
            f"{'hint right' if hint_right else 'hint wrong':<12} {correct / runs:>8.1%} "
            f"{hinted / runs:>7.2f} {plain / runs:>8.2f} {git / runs:>6.2f} "
            f"{hinted / git:>10.2f}x {(hinted - plain) / runs:>+10.2f} {share / runs:>12.1%}"
        )
    print(
        "\nhint cost: mean extra builds of the hinted search over the same search without the "
        "hint; prior share: prior mass on the commits touching the named file"
    )
    print(f"finished in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
