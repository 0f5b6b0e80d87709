"""A Prefect server on PostgreSQL, a process work pool with build-monitor's deployments, and
process workers, all on this machine (tests/flows/test_distributed_bisect.py and
benchmarks/bisect_workers.py). Every wait is bounded; everything started is stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from build_monitor.builders.health import free_port

VENV_BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[1]


def asyncpg_url(url: str) -> str:
    """The same PostgreSQL database for the Prefect server's async driver."""
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


def _stop_group(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


@dataclass
class PrefectCluster:
    root: Path
    api_url: str
    env: dict[str, str]
    pool: str
    server: subprocess.Popen[bytes]
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), env=self.env, cwd=PROJECT, capture_output=True, text=True, timeout=timeout
        )

    def create_pool(self) -> None:
        done = self.run(
            str(VENV_BIN / "prefect"), "work-pool", "create", self.pool, "--type", "process"
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def register(self, config: Path) -> list[str]:
        done = self.run(
            sys.executable,
            "-m",
            "deployments.registry",
            "--config",
            str(config),
            "--work-pool",
            self.pool,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.split()

    def pause_schedules(self) -> None:
        """Pause every scheduled deployment (the per-service monitors): a test or benchmark
        starts the runs it measures itself."""
        for deployment in self.api("POST", "/deployments/filter", json={}):
            if deployment.get("schedules"):
                self.api("POST", f"/deployments/{deployment['id']}/pause_deployment")
        scheduled = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}
        for run in self.api("POST", "/flow_runs/filter", json=scheduled):
            httpx.delete(f"{self.api_url}/flow_runs/{run['id']}", timeout=30)

    def start_worker(self, name: str, limit: int = 1) -> subprocess.Popen[bytes]:
        log = (self.root / f"worker-{name}.log").open("wb")
        worker = subprocess.Popen(
            [
                str(VENV_BIN / "prefect"),
                "worker",
                "start",
                "--pool",
                self.pool,
                "--name",
                name,
                "--type",
                "process",
                "--limit",
                str(limit),
            ],
            env=self.env,
            cwd=PROJECT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.workers[name] = worker
        return worker

    def wait_for_workers(self, timeout: float = 120) -> None:
        """Until every started worker has told the server it is online."""
        deadline = time.monotonic() + timeout
        wanted = set(self.workers)
        online: set[str] = set()
        while time.monotonic() < deadline:
            response = httpx.post(
                f"{self.api_url}/work_pools/{self.pool}/workers/filter", json={}, timeout=10
            )
            if response.status_code == 200:
                online = {w["name"] for w in response.json() if w.get("status") == "ONLINE"}
                if wanted <= online:
                    return
            for name, worker in self.workers.items():
                if worker.poll() is not None:
                    log = (self.root / f"worker-{name}.log").read_text(errors="replace")
                    raise AssertionError(f"worker {name} exited: {log[-3000:]}")
            time.sleep(1)
        raise AssertionError(f"workers not online after {timeout}s: {wanted - online}")

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker's process group: the host died."""
        worker = self.workers[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.api_url}{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def probe_runs_by_round(self) -> dict[str, list[dict[str, Any]]]:
        """The bisect-probe flow runs, grouped by the bisect-round run that started them."""
        deployment = self.api("GET", "/deployments/name/bisect-probe/bisect-probe")
        runs = self.api(
            "POST",
            "/flow_runs/filter",
            json={"deployments": {"id": {"any_": [deployment["id"]]}}, "limit": 200},
        )
        rounds: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for run in runs:
            parent = self.api("GET", f"/task_runs/{run['parent_task_run_id']}")
            rounds[parent["flow_run_id"]].append(run)
        return dict(rounds)

    def stop(self) -> None:
        for worker in self.workers.values():
            _stop_group(worker)
        _stop_group(self.server)


@contextlib.contextmanager
def prefect_cluster(
    root: Path, database_url: str, *, pool: str, timeout: float = 180
) -> Iterator[PrefectCluster]:
    """A Prefect server on the PostgreSQL `database_url`; workers are started by the caller."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_") or key == "PREFECT_SERVER_ANALYTICS_ENABLED"
    }
    env.update(
        PREFECT_HOME=str(root / "prefect-home"),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        PREFECT_API_DATABASE_CONNECTION_URL=asyncpg_url(database_url),
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_HEARTBEAT_SECONDS="5",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(
        [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    cluster = PrefectCluster(root=root, api_url=api_url, env=env, pool=pool, server=server)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{api_url}/health", timeout=5).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                output = (root / "server.log").read_text(errors="replace")
                raise AssertionError(f"the Prefect server did not start: {output[-3000:]}")
            time.sleep(1)
        cluster.create_pool()
        yield cluster
    finally:
        cluster.stop()


@contextlib.contextmanager
def postgres_server(timeout: float = 120) -> Iterator[str]:
    """A throwaway PostgreSQL server outside pytest (the benchmark); its admin URL. The tests
    use the `postgres_url` fixture instead."""
    import shutil
    import tempfile

    from tests.pg_fixtures import _as_postgres_user, _pg_binary

    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries are required (apt-get install postgresql)")
    # Not under a private temp dir: the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="bm-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()
    subprocess.run(
        _as_postgres_user([initdb, "-D", str(data), "-A", "trust", "-U", "bm", "--no-sync"]),
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
    subprocess.run(_as_postgres_user(start), check=True, capture_output=True, timeout=timeout)
    try:
        yield f"postgresql+psycopg://bm@127.0.0.1:{port}/postgres"
    finally:
        stop = [pg_ctl, "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_as_postgres_user(stop), check=False, capture_output=True, timeout=timeout)
        shutil.rmtree(root, ignore_errors=True)


def create_database(admin_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
