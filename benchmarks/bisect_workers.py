"""One distributed bisection on 1 worker and on 3 workers (`[services.bisect] distributed = true`,
`parallel = 3`), on a Prefect server on PostgreSQL with process workers on this machine. The
probes' "test" sleeps (3 s by default) so two cores do not hide the parallelism: the ratio is
what spreading a round's probes over workers buys, including Prefect's per-run overhead
(worker pickup, process start). Prints builds, rounds and wall time of each, and the ratio.

    .venv/bin/python benchmarks/bisect_workers.py [--sleep 3] [--good-commits 14]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from build_monitor.sample.service import SampleRepo, create_sample_service  # noqa: E402
from tests.configs import service_table  # noqa: E402
from tests.prefect_cluster import (  # noqa: E402
    VENV_BIN,
    create_database,
    postgres_server,
    prefect_cluster,
)


@dataclass(frozen=True)
class Run:
    workers: int
    status: str
    culprit_right: bool
    builds: int
    rounds: int
    seconds: float


def write_config(directory: Path, repo: SampleRepo, history: str, name: str, sleep: float) -> Path:
    check = (
        f"sleep {sleep}; if grep -q 'input [*] 2 + 1' src/main.rs; "
        "then echo 'test tests::predict_doubles_input ... FAILED'; exit 1; fi"
    )
    table = service_table(
        repo,
        name=name,
        health=False,
        local={"build_command": "true", "test_command": f'sh -c "{check}"'},
        bisect={"parallel": 3, "distributed": True},
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text(
        f'[storage]\ndatabase_url = "{history}"\ncache_dir = "{directory / "cache"}"\n\n' + table
    )
    return path


def bisect_on(workers: int, admin_url: str, repo: SampleRepo, root: Path, sleep: float) -> Run:
    tag = uuid.uuid4().hex[:6]
    name = f"bench-workers-{workers}-{tag}"
    config = write_config(
        root / name, repo, create_database(admin_url, f"history_{tag}"), name, sleep
    )
    prefect_db = create_database(admin_url, f"prefect_{tag}")
    with prefect_cluster(root / f"cluster-{tag}", prefect_db, pool=f"bench-{tag}") as cluster:
        cluster.env["BUILD_MONITOR_BUILD_SLOTS"] = str(workers)
        cluster.register(config)
        cluster.pause_schedules()
        for index in range(workers):
            cluster.start_worker(f"bench-{tag}-w{index + 1}")
        cluster.wait_for_workers()
        started = time.monotonic()
        done = cluster.run(
            str(VENV_BIN / "build-monitor"),
            "bisect",
            name,
            "--config",
            str(config),
            "--good",
            repo.commits[0],
            "--json",
            timeout=1800,
        )
        seconds = time.monotonic() - started
        rounds = len(cluster.probe_runs_by_round())
    if not done.stdout:
        sys.exit(f"bisect on {workers} worker(s) printed nothing: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    return Run(
        workers=workers,
        status=report["status"],
        culprit_right=report["culprit"] == repo.culprit,
        builds=int(report["builds"]),
        rounds=rounds,
        seconds=seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sleep", type=float, default=3.0, help="seconds each probe's test sleeps")
    parser.add_argument("--good-commits", type=int, default=14)
    parser.add_argument("--commits-after-break", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bm-bench-workers-") as temporary:
        root = Path(temporary)
        repo = create_sample_service(
            root / "repo",
            scenario="test_failure",
            good_commits=args.good_commits,
            commits_after_break=args.commits_after_break,
        )
        with postgres_server() as admin_url:
            runs = [bisect_on(n, admin_url, repo, root, args.sleep) for n in (1, 3)]
    candidates = len(repo.commits) - 1
    print(f"bisection of {candidates} candidates, parallel = 3, probes sleep {args.sleep:g} s")
    print(f"{'workers':>7} {'status':>10} {'right':>5} {'builds':>6} {'rounds':>6} {'wall s':>7}")
    for run in runs:
        print(
            f"{run.workers:>7} {run.status:>10} {run.culprit_right!s:>5} {run.builds:>6} "
            f"{run.rounds:>6} {run.seconds:>7.1f}"
        )
    one, three = runs
    print(f"wall time, 3 workers / 1 worker: {three.seconds / one.seconds:.2f}")


if __name__ == "__main__":
    main()
