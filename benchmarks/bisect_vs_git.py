"""`build-monitor bisect` against `git bisect run` on generated Rust histories with a real break.

Usage: .venv/bin/python benchmarks/bisect_vs_git.py [--sizes 32 128 512] [--ballast 1500]
                                                   [--cli-sizes 32] [--cli-parallel 1 2]

Each size is a history of that many commits of the sample service (std-only Rust, plus
`--ballast` generated functions so a build takes seconds), broken by a failing test at a seeded
position. Both tools bisect the same repository with the same build command
(`cargo build --release && cargo test --release`, local, each with its own warm target dir);
the table shows builds used, wall time and the wall-time ratio. build-monitor's wall time is its
whole command line, Python start-up included. As in production, where the monitor has already
built and recorded the failing commit, the bad commit's failure is recorded first (untimed, not
counted); git bisect is simply told that commit is bad. build-monitor's builds include the
verification rerun that the culprit's failure reproduces.

The command-line case (`--cli-sizes`, default one 32-commit history) records nothing first:
`build-monitor bisect --good G --bad B` on a fresh database must build the bad commit itself,
as `git bisect run` does not (it is told). It runs once per `--cli-parallel` value (probes per
round; with more than one, the bad commit and the first midpoint are built in the same round).
Pass `--sizes` with no value to run only this case. Target (issue 10): wall time <= 1.1x.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from _real_repos import (
    Run,
    build_monitor_bisect,
    ensure_prefect_api,
    git_bisect_run,
    record_failing_head,
    write_config,
)

from build_monitor.sample.service import create_sample_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[32, 128, 512])
    parser.add_argument("--cli-sizes", type=int, nargs="*", default=[32])
    parser.add_argument("--cli-parallel", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ballast", type=int, default=1500, help="generated functions")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if any(size < 4 or size > 2000 for size in [*args.sizes, *args.cli_sizes]):
        parser.error("sizes must be between 4 and 2000")
    if any(not 1 <= parallel <= 16 for parallel in args.cli_parallel):
        parser.error("--cli-parallel values must be between 1 and 16")
    ensure_prefect_api()
    rng = random.Random(args.seed)
    rows = []
    cli_rows: list[tuple[int, str | None, Run, list[tuple[int, Run]]]] = []
    with tempfile.TemporaryDirectory(prefix="bm-bench-") as scratch:
        for size in args.cli_sizes:
            cli_rows.append(cli_case(Path(scratch), size, args, rng))
        for size in args.sizes:
            workdir = Path(scratch) / str(size)
            workdir.mkdir()
            culprit_index = rng.randrange(1, size)
            repo = create_sample_service(
                workdir / "repo",
                scenario="test_failure",
                good_commits=culprit_index,
                commits_after_break=size - culprit_index - 1,
                ballast_functions=args.ballast,
            )
            good, bad = repo.commits[0], repo.commits[-1]
            git = git_bisect_run(repo, workdir, good=good, bad=bad)
            config = write_config(repo, workdir)
            record_failing_head(config, bad=bad)
            ours = build_monitor_bisect(config, good=good, bad=bad)
            rows.append((size, repo.culprit, git, ours))
            print(
                f"size {size}: git {git.builds} builds {git.seconds:.1f}s, "
                f"build-monitor {ours.builds} builds {ours.seconds:.1f}s "
                f"(probes {', '.join(f'{p:.1f}s' for p in ours.probe_seconds)})",
                flush=True,
            )
    if cli_rows:
        print_cli_table(cli_rows)
    if not rows:
        return
    print()
    print("bad commit's failure recorded first (the monitor's path):")
    print(
        f"{'commits':>7} | {'right (git/bm)':>14} | {'builds git':>10} | {'builds bm':>9} | "
        f"{'wall git':>8} | {'wall bm':>8} | {'bm/git':>6}"
    )
    for size, culprit, git, ours in rows:
        verdicts = ["yes" if run.blamed == culprit else "NO" for run in (git, ours)]
        right = "/".join(verdicts)
        print(
            f"{size:>7} | {right:>14} | {git.builds:>10} | {ours.builds:>9} | "
            f"{git.seconds:>7.1f}s | {ours.seconds:>7.1f}s | {ours.seconds / git.seconds:>5.2f}x"
        )


def cli_case(
    scratch: Path, size: int, args: argparse.Namespace, rng: random.Random
) -> tuple[int, str | None, Run, list[tuple[int, Run]]]:
    """One history; git bisect run, then build-monitor once per parallel value (each on a
    fresh database, nothing recorded: the bad commit is built by the bisection)."""
    workdir = scratch / f"cli-{size}"
    workdir.mkdir()
    culprit_index = rng.randrange(1, size)
    repo = create_sample_service(
        workdir / "repo",
        scenario="test_failure",
        good_commits=culprit_index,
        commits_after_break=size - culprit_index - 1,
        ballast_functions=args.ballast,
    )
    good, bad = repo.commits[0], repo.commits[-1]
    git = git_bisect_run(repo, workdir, good=good, bad=bad)
    print(f"cli {size}: git {git.builds} builds {git.seconds:.1f}s", flush=True)
    ours = []
    for parallel in args.cli_parallel:
        name = f"cli-p{parallel}"
        config = write_config(repo, workdir, name)
        run = build_monitor_bisect(
            config, good=good, bad=bad, name=name, extra=("--parallel", str(parallel))
        )
        ours.append((parallel, run))
        print(
            f"cli {size}: build-monitor --parallel {parallel}: {run.builds} builds "
            f"{run.seconds:.1f}s ({run.seconds / git.seconds:.2f}x); probes "
            f"{', '.join(f'{p:.1f}s' for p in run.probe_seconds)}",
            flush=True,
        )
    return size, repo.culprit, git, ours


def print_cli_table(rows: list[tuple[int, str | None, Run, list[tuple[int, Run]]]]) -> None:
    print()
    print("command-line case, nothing recorded (`bisect --good G --bad B`):")
    print(
        f"{'commits':>7} | {'parallel':>8} | {'right (git/bm)':>14} | {'builds git':>10} | "
        f"{'builds bm':>9} | {'wall git':>8} | {'wall bm':>8} | {'bm/git':>6} | "
        f"{'outside builds git/bm':>21}"
    )
    for size, culprit, git, ours in rows:
        for parallel, run in ours:
            outside = f"{git.outside_builds:.1f}s / {run.outside_builds:.1f}s"
            right = "/".join("yes" if r.blamed == culprit else "NO" for r in (git, run))
            print(
                f"{size:>7} | {parallel:>8} | {right:>14} | {git.builds:>10} | "
                f"{run.builds:>9} | {git.seconds:>7.1f}s | {run.seconds:>7.1f}s | "
                f"{run.seconds / git.seconds:>5.2f}x | {outside:>21}"
            )
    print(
        "outside builds: wall time minus the seconds spent in the build and test commands "
        "(with --parallel > 1, concurrent builds overlap, so it can go below the fixed cost)"
    )


if __name__ == "__main__":
    main()
