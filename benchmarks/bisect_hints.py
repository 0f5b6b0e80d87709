"""Suspects weighted by the files the failure names, against plain `git bisect run`.

Usage: .venv/bin/python benchmarks/bisect_hints.py [--ranges 1000] [--candidates 96] [--seed 1]
                                                   [--real-runs 0] [--real-commits 48]

Simulated deterministic histories: every commit touches 1-3 of a crate's files, 4% of them
`src/net.rs`, the file the failure names. "hint right": the culprit touches it; "hint wrong": it
does not. Prints mean builds of the hinted search, the same search without the hint, and
simulated `git bisect run` (plain binary search) on the same histories.
Targets: hinted <= 0.75x git's builds when the hint is right; a wrong hint costs <= 1 build.

`--real-runs N` (0: skipped) then runs both tools for real, N times per case, each on a fresh
generated repository (`_hint_repos.py`, in a temporary directory): a std-only crate of 8 modules
with unit tests, `--real-commits` commits each touching 1-2 files, 6% of them (at least one)
`src/net.rs`. The culprit breaks `net::tests::frame_len_adds_the_header` (`panicked at
src/net.rs:NN`): through `src/net.rs` ("hint right") or through a constant in `src/model.rs` the
test uses ("hint wrong"). Same commands for both tools (`cargo build --release -q` and `cargo
test --release`, local builder); the bad commit's failure is recorded first (`build-monitor
check`, untimed, the monitor's path) and git bisect is told it is bad. build-monitor's builds
include its verification rerun. Prints right / wrong, mean builds, the ratio, the `prior_hint`
share from `--json`, and the hint's cost against the same search without the hint, replayed in
the pure core on the same history (its outcomes are deterministic; the replay with the hint is
printed too, as a check that it matches the real run).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _hint_repos import NAMED_FILE, HintRepo, bisect_json, create_hint_repo
from _real_repos import (
    BUILD_COMMAND,
    VERBOSE_TEST_COMMAND,
    ensure_prefect_api,
    git_bisect_run,
    record_failing_head,
    write_config,
)

from build_monitor.bisection import BisectSettings
from build_monitor.bisection.simulation import simulate_git_bisect
from build_monitor.bisection.simulation_hints import generate_hinted_history, run_hinted_search

MAX_RANGES = 5000
MAX_REAL_RUNS = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranges", type=int, default=1000, help="histories per case")
    parser.add_argument("--candidates", type=int, default=96)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--real-runs", type=int, default=0, help="real generated repositories per case (0: none)"
    )
    parser.add_argument("--real-commits", type=int, default=48)
    args = parser.parse_args(argv)
    if not 0 <= args.real_runs <= MAX_REAL_RUNS:
        parser.error(f"--real-runs must be between 0 and {MAX_REAL_RUNS}")
    if not 8 <= args.real_commits <= 128:
        parser.error("--real-commits must be between 8 and 128")
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
    if args.real_runs:
        real(args.real_runs, args.real_commits, args.seed)
    print(f"finished in {time.monotonic() - started:.1f}s")
    return 0


@dataclass
class RealCase:
    """Totals over one case's runs: right and wrong per tool, and builds."""

    name: str
    runs: int = 0
    right: Counter[str] = field(default_factory=Counter)
    wrong: Counter[str] = field(default_factory=Counter)
    builds: Counter[str] = field(default_factory=Counter)
    share: float = 0.0

    def mean(self, tool: str) -> float:
        return self.builds[tool] / self.runs


def real_run(workdir: Path, repo: HintRepo, case: RealCase) -> None:
    """Both tools on one generated repository, with the same commands; adds to `case`."""
    good, bad = repo.commits[0], repo.commits[-1]
    git = git_bisect_run(repo.repo, workdir, good=good, bad=bad, test=VERBOSE_TEST_COMMAND)
    config = write_config(repo.repo, workdir, build=BUILD_COMMAND, test=VERBOSE_TEST_COMMAND)
    record_failing_head(config, bad=bad)
    ours, report = bisect_json(config, good=good, bad=bad)
    hint = report.get("prior_hint") or {}
    replayed = repo.replayed_builds(use_hint=True)
    plain = repo.replayed_builds(use_hint=False)
    case.runs += 1
    case.share += float(hint.get("share", 0.0))
    case.builds.update({"git": git.builds, "bm": ours.builds, "replayed": replayed, "plain": plain})
    for tool, run in (("git", git), ("bm", ours)):
        case.right[tool] += run.blamed == repo.culprit
        case.wrong[tool] += run.blamed is not None and run.blamed != repo.culprit
    verdict = "right" if ours.blamed == repo.culprit else f"NOT right ({ours.reason[:200]})"
    print(
        f"  {case.name} {case.runs}: culprit {repo.position} of {len(repo.touched)}, "
        f"{repo.touching_named} other commits touch {NAMED_FILE}; git {git.builds} builds "
        f"({git.seconds:.1f}s); build-monitor {ours.builds} builds ({ours.seconds:.1f}s), "
        f"{verdict}, hint {hint.get('files', [])} {float(hint.get('share', 0.0)):.0%}; "
        f"replayed {replayed}, without the hint {plain}",
        flush=True,
    )


def real(runs: int, commits: int, seed: int) -> None:
    ensure_prefect_api()
    rng = random.Random(seed)
    cases = []
    print(f"\nreal: {runs} generated repositories per case, {commits} commits each")
    with tempfile.TemporaryDirectory(prefix="bm-hints-") as scratch:
        for hint_right in (True, False):
            case = RealCase("hint right" if hint_right else "hint wrong")
            for number in range(runs):
                workdir = Path(scratch) / f"{'right' if hint_right else 'wrong'}-{number}"
                workdir.mkdir()
                repo = create_hint_repo(
                    workdir / "repo", commits=commits, rng=rng, hint_right=hint_right
                )
                real_run(workdir, repo, case)
            cases.append(case)
    header = (
        f"{'case':<12} {'right git/bm':>13} {'wrong git/bm':>13} {'git':>6} {'bm':>6} "
        f"{'bm/git':>7} {'bm - git':>9} {'no hint':>8} {'hint cost':>10} {'prior share':>12}"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        named = f"{case.right['git']}/{case.right['bm']}"
        blamed = f"{case.wrong['git']}/{case.wrong['bm']}"
        git, bm, plain = case.mean("git"), case.mean("bm"), case.mean("plain")
        print(
            f"{case.name:<12} {named:>13} {blamed:>13} {git:>6.2f} {bm:>6.2f} "
            f"{bm / git:>6.2f}x {bm - git:>+9.2f} {plain:>8.2f} {bm - plain:>+10.2f} "
            f"{case.share / case.runs:>12.1%}"
        )
    print(
        "bm: build-monitor bisect (builds from --json, verification included); no hint: the "
        "same search without the hint, replayed in the pure core on the same histories (their "
        "outcomes are deterministic; the replay with the hint gave "
        + ", ".join(f"{case.mean('replayed'):.2f}" for case in cases)
        + "); hint cost: bm - no hint; prior share: `prior_hint` share in --json, the prior "
        f"mass on commits touching {NAMED_FILE}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
