"""A distributed bisection on a real Prefect server on PostgreSQL with three process workers:
the probes of one round run on several workers, and a worker killed in mid-probe costs a
retry on another worker, never a second build of any commit."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from build_monitor.history.db import session_scope
from build_monitor.history.models import BisectProbe, Build, BuildStatus, ProbeClaim
from build_monitor.sample.service import SampleRepo
from tests.configs import service_table
from tests.prefect_cluster import VENV_BIN, PrefectCluster, prefect_cluster
from tests.repo_fixtures import SampleRepoFactory

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

PROBE_SECONDS = 3  # each probe's "test" sleeps, so a worker can be killed in mid-probe
WORKERS = ("h7-w1", "h7-w2", "h7-w3")


def sleeping_probe_commands(seconds: float) -> dict[str, str]:
    """No cargo: the test sleeps, then fails where the culprit made predictions off by one."""
    check = (
        f"sleep {seconds}; if grep -q 'input [*] 2 + 1' src/main.rs; "
        "then echo 'test tests::predict_doubles_input ... FAILED'; exit 1; fi"
    )
    return {"build_command": "true", "test_command": f'sh -c "{check}"'}


def distributed_config(
    directory: Path, repo: SampleRepo, database_url: str, *, name: str, parallel: int
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    table = service_table(
        repo,
        name=name,
        health=False,
        local=sleeping_probe_commands(PROBE_SECONDS),
        bisect={"parallel": parallel, "distributed": True},
    )
    path.write_text(
        f'[storage]\ndatabase_url = "{database_url}"\ncache_dir = "{directory / "cache"}"\n\n'
        + table
    )
    return path


class WorkerKiller(threading.Thread):
    """Kills the worker of the first probe seen building, and that probe's process: its host
    died in mid-probe."""

    def __init__(self, cluster: PrefectCluster, database_url: str, timeout: float) -> None:
        super().__init__(daemon=True)
        self.cluster, self.database_url, self.timeout = cluster, database_url, timeout
        self.killed_worker: str | None = None
        self.killed_probe: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.stop.is_set() and time.monotonic() < deadline:
            building = self._probe_building()
            if building is not None:
                probe_id, run_id = building
                run = httpx.get(f"{self.cluster.api_url}/flow_runs/{run_id}", timeout=10).json()
                worker = run["labels"].get("prefect.worker.name")
                if worker in self.cluster.workers:
                    self.cluster.kill_worker(worker)
                    pid = int(str(run["infrastructure_pid"]).rsplit(":", 1)[-1])
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                    self.killed_worker, self.killed_probe = worker, probe_id
                    return
            time.sleep(0.2)

    def _probe_building(self) -> tuple[int, str] | None:
        with session_scope(self.database_url) as session:
            for claim in session.exec(select(ProbeClaim).where(ProbeClaim.status == "running")):
                build = session.exec(
                    select(Build).where(
                        Build.flow_run_id == claim.owner, Build.status == BuildStatus.running
                    )
                ).first()
                if build is not None and claim.id is not None and claim.owner:
                    return claim.id, claim.owner
        return None


def test_probes_spread_over_workers_and_survive_a_killed_worker(
    tmp_path: Path,
    sample_repo: SampleRepoFactory,
    new_postgres_database: Callable[[], str],
) -> None:
    repo = sample_repo("test_failure", good_commits=10, commits_after_break=2)
    history = new_postgres_database()
    service = f"dist-h7-{uuid.uuid4().hex[:6]}"
    config = distributed_config(tmp_path / "config", repo, history, name=service, parallel=3)

    with prefect_cluster(
        tmp_path / "cluster", new_postgres_database(), pool=f"bm-h7-{uuid.uuid4().hex[:6]}"
    ) as cluster:
        cluster.env["BUILD_MONITOR_BUILD_SLOTS"] = str(len(WORKERS))
        cluster.register(config)
        cluster.pause_schedules()
        for name in WORKERS:
            cluster.start_worker(name)
        cluster.wait_for_workers()
        killer = WorkerKiller(cluster, history, timeout=300)
        killer.start()
        done = cluster.run(
            str(VENV_BIN / "build-monitor"),
            "bisect",
            service,
            "--config",
            str(config),
            "--good",
            repo.commits[0],
            "--json",
            timeout=900,
        )
        killer.stop.set()
        killer.join(timeout=60)
        assert done.stdout, done.stderr[-3000:]
        report = json.loads(done.stdout)
        rounds = cluster.probe_runs_by_round()

    assert done.returncode == 0, report
    assert (report["status"], report["culprit"]) == ("confirmed", repo.culprit)

    # The first round's three probes ran at once, on at least two different workers.
    first_round = min(rounds.values(), key=lambda runs: min(r["created"] for r in runs))
    by_probe = {r["name"]: r for r in sorted(first_round, key=lambda r: r["created"])}
    assert len(by_probe) == 3
    assert len({r["labels"].get("prefect.worker.name") for r in by_probe.values()}) >= 2

    # A worker died in mid-build; its probe ran again on another worker and counted once.
    assert killer.killed_worker is not None, "no probe was seen building"
    with session_scope(history) as session:
        claims = session.exec(select(ProbeClaim)).all()
        builds = session.exec(select(Build).where(Build.service == service)).all()
        probes = session.exec(select(BisectProbe)).all()
    [killed] = [c for c in claims if c.id == killer.killed_probe]
    assert (killed.status, killed.attempts) == ("done", 2)
    assert all(c.status == "done" for c in claims)
    states = [r["state_type"] for runs in rounds.values() for r in runs]
    assert states.count("CRASHED") == 1
    assert len(states) == len(claims) + 1  # one run per probe, plus the killed one's retry
    # The killed build stays `running`, or `interrupted` once a later build found it stale.
    unfinished = (BuildStatus.running, BuildStatus.interrupted)
    interrupted = [b.commit for b in builds if b.status in unfinished]
    assert interrupted == [killed.commit]
    # Every completed build is one probe the search asked for (a rerun it asks for is a
    # probe of its own): none was built twice, the retried one included.
    completed = Counter(b.commit for b in builds if b.status not in unfinished)
    assert completed == Counter(p.commit for p in probes)
    assert sum(completed.values()) == report["builds"]
    assert completed[killed.commit] == Counter(c.commit for c in claims)[killed.commit]
