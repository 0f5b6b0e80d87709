"""Flaky histories: accuracy and mean builds of `build-monitor bisect` and `git bisect run`.

Usage: .venv/bin/python benchmarks/bisect_flaky.py [--ranges 1000] [--real-runs 5]
                                                   [--commits 24] [--flake-rate 0.2]
                                                   [--other-test-runs 10]

Part 1 simulates seeded 128-commit ranges where a test fails on 20% of runs at good commits with
the same signature as the real breakage (the hard case). Part 2 runs both tools for real on
generated Rust repositories whose test `tests::warm_cache_hits` fails at random at `--flake-rate`
on good commits and always from the culprit on; each run gets a fresh repository and a fresh
random culprit. build-monitor is told the test's flake rate as its prior (`--flake-prior`);
part 1 also shows it starting from the default prior and learning the rate across bisections.

Part 3 (`--other-test-runs`, issue 10's case) is the one a new user meets: an unrelated test,
`tests::warm_cache_hits`, fails on `--flake-rate` of runs at every commit, and a real break makes
`tests::predict_doubles_input` fail from the culprit on. Each run is a fresh generated repository
and a cold start: a fresh history database, nothing recorded, no flake prior given
(`build-monitor bisect --good G --bad B`), with build-monitor's default test command
`cargo test --release` for both tools (`--quiet-tests`: `-q`). Prints named right / wrong /
inconclusive for build-monitor, and git bisect's figure (same commands) beside it.
Target: at least 9 of 10 named right, none wrong.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from _real_repos import (
    TEST_COMMAND,
    VERBOSE_TEST_COMMAND,
    Run,
    build_monitor_bisect,
    create_flaky_other_test_service,
    ensure_prefect_api,
    git_bisect_run,
    record_failing_head,
    write_config,
)

from build_monitor.bisection import BisectSettings
from build_monitor.bisection.simulation import Scenario, compare_methods, simulate_learned_priors
from build_monitor.sample.service import create_sample_service


def simulated(ranges: int, flake_rate: float) -> None:
    scenario = Scenario(f"{flake_rate:.0%} flaky, same signature", 128, flake_rate=flake_rate)
    comparison = compare_methods(scenario, ranges, 1, BisectSettings(flake_prior=flake_rate))
    print(f"simulated: {ranges} ranges of 128 commits, {flake_rate:.0%} flake rate")
    for name, stats in (
        ("git bisect run", comparison.git_bisect),
        ("build-monitor bisect", comparison.flake_aware),
    ):
        print(
            f"  {name:<22} right {stats.rate(stats.correct):>6.1%}  wrong "
            f"{stats.rate(stats.wrong):>6.1%}  mean builds {stats.mean_builds:.2f}"
        )
    learning = simulate_learned_priors(scenario, ranges, 1, BisectSettings())
    wrong = learning.verdicts.count("wrong") / ranges
    print(
        f"  {'bm, prior learned':<22} right {learning.accuracy():>6.1%}  wrong {wrong:>6.1%}  "
        f"mean builds {sum(learning.builds) / ranges:.2f}  (default prior 0.01, each "
        "bisection learning from the ones before)"
    )


def real(runs: int, commits: int, flake_rate: float, seed: int) -> None:
    ensure_prefect_api()
    rng = random.Random(seed)
    results: dict[str, list[tuple[bool, Run]]] = {"git bisect run": [], "build-monitor": []}
    with tempfile.TemporaryDirectory(prefix="bm-flaky-") as scratch:
        for number in range(runs):
            workdir = Path(scratch) / str(number)
            workdir.mkdir()
            culprit_index = rng.randrange(2, commits - 1)
            repo = create_sample_service(
                workdir / "repo",
                scenario="flaky_break",
                good_commits=culprit_index,
                commits_after_break=commits - culprit_index - 1,
                flake_rate=flake_rate,
            )
            good, bad = repo.commits[0], repo.commits[-1]
            git = git_bisect_run(repo, workdir, good=good, bad=bad)
            config = write_config(repo, workdir)
            record_failing_head(config, bad=bad)
            ours = build_monitor_bisect(
                config, good=good, bad=bad, extra=("--flake-prior", str(flake_rate))
            )
            results["git bisect run"].append((git.blamed == repo.culprit, git))
            results["build-monitor"].append((ours.blamed == repo.culprit, ours))
            print(
                f"  run {number + 1}: culprit {repo.culprit[:8] if repo.culprit else '-'}; "
                f"git bisect blamed {(git.blamed or 'nothing')[:8]} ({git.builds} builds), "
                f"build-monitor {(ours.blamed or 'nothing')[:8]} ({ours.builds} builds)",
                flush=True,
            )
    print(f"real: {runs} repositories of {commits} commits, {flake_rate:.0%} flake rate")
    for name, rows in results.items():
        right = sum(ok for ok, _ in rows)
        builds = sum(run.builds for _, run in rows) / len(rows)
        seconds = sum(run.seconds for _, run in rows) / len(rows)
        print(
            f"  {name:<22} right {right}/{len(rows)}  mean builds {builds:.1f}  "
            f"mean wall {seconds:.1f}s"
        )


def verdict(run: Run, culprit: str | None) -> str:
    if run.blamed is None:
        return "inconclusive"
    return "right" if run.blamed == culprit else "wrong"


def real_other_test(
    runs: int, commits: int, flake_rate: float, seed: int, test_command: str
) -> None:
    ensure_prefect_api()
    rng = random.Random(seed)
    verdicts: dict[str, list[str]] = {"git bisect run": [], "build-monitor": []}
    builds: dict[str, list[int]] = {"git bisect run": [], "build-monitor": []}
    seconds: dict[str, list[float]] = {"git bisect run": [], "build-monitor": []}
    with tempfile.TemporaryDirectory(prefix="bm-flaky-other-") as scratch:
        for number in range(runs):
            workdir = Path(scratch) / str(number)
            workdir.mkdir()
            repo = create_flaky_other_test_service(
                workdir / "repo",
                culprit_index=rng.randrange(2, commits - 1),
                commits=commits,
                flake_rate=flake_rate,
            )
            good, bad = repo.commits[0], repo.commits[-1]
            git = git_bisect_run(repo, workdir, good=good, bad=bad, test=test_command)
            config = write_config(repo, workdir, test=test_command)
            ours = build_monitor_bisect(config, good=good, bad=bad)
            for name, run in (("git bisect run", git), ("build-monitor", ours)):
                verdicts[name].append(verdict(run, repo.culprit))
                builds[name].append(run.builds)
                seconds[name].append(run.seconds)
            print(
                f"  run {number + 1}: culprit {(repo.culprit or '-')[:8]}; git bisect "
                f"{verdict(git, repo.culprit)} ({git.builds} builds, {git.seconds:.1f}s), "
                f"build-monitor {verdict(ours, repo.culprit)} ({ours.builds} builds, "
                f"{ours.seconds:.1f}s)",
                flush=True,
            )
            if verdict(ours, repo.culprit) != "right":
                print(f"    build-monitor's reason: {ours.reason[:300]}", flush=True)
    print(
        f"other test flaking at {flake_rate:.0%} at every commit + a real break, cold start: "
        f"{runs} repositories of {commits} commits"
    )
    for name, found in verdicts.items():
        print(
            f"  {name:<22} right {found.count('right')}/{runs}  wrong {found.count('wrong')}  "
            f"inconclusive {found.count('inconclusive')}  mean builds "
            f"{sum(builds[name]) / runs:.1f}  mean wall {sum(seconds[name]) / runs:.1f}s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ranges", type=int, default=1000)
    parser.add_argument("--real-runs", type=int, default=5)
    parser.add_argument("--commits", type=int, default=24)
    parser.add_argument("--flake-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--other-test-runs", type=int, default=10)
    parser.add_argument("--other-test-commits", type=int, default=32)
    parser.add_argument(
        "--quiet-tests",
        action="store_true",
        help="part 3 with `cargo test -q` (failures named, passing tests not) instead of the "
        "default `cargo test --release`",
    )
    args = parser.parse_args()
    if not (1 <= args.ranges <= 5000 and 0 <= args.real_runs <= 50 and 6 <= args.commits <= 512):
        parser.error("--ranges 1..5000, --real-runs 0..50, --commits 6..512")
    if not (0 <= args.other_test_runs <= 50 and 6 <= args.other_test_commits <= 512):
        parser.error("--other-test-runs 0..50, --other-test-commits 6..512")
    started = time.monotonic()
    simulated(args.ranges, args.flake_rate)
    if args.real_runs:
        real(args.real_runs, args.commits, args.flake_rate, args.seed)
    if args.other_test_runs:
        real_other_test(
            args.other_test_runs,
            args.other_test_commits,
            args.flake_rate,
            args.seed,
            TEST_COMMAND if args.quiet_tests else VERBOSE_TEST_COMMAND,
        )
    print(f"finished in {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
