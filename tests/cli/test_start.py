"""`build-monitor start` as a user runs it: one command brings up the API, serves the
deployments on a real Prefect server, turns a signed GitHub push into a monitor run that builds
the pushed commit, and stops cleanly on SIGTERM with no process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from build_monitor.builders.health import free_port
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build
from build_monitor.sample.service import SampleRepo, add_commit
from tests.cli.test_cli import cli_path
from tests.configs import service_table, write_config
from tests.repo_fixtures import SampleRepoFactory
from tests.webhooks.fixtures import GITHUB_SECRET, github_headers, payload

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
API_TOKEN = "start-test-api-token"


def wait_for(condition: object, *, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def prefect_reachable(base: str) -> bool:
    """Whether build-monitor's API at `base` answers and reports its Prefect API reachable."""
    try:
        document = httpx.get(f"{base}/api/health", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    return bool(document["prefect"]["ok"])


def push_new_commit(base: str, repo: SampleRepo, *, delivery: str) -> tuple[str, str]:
    """Commit to the repo and send its signed GitHub push; (before, after) once accepted."""
    before = repo.commits[-1]
    after = add_commit(repo.path, "Add an endpoint note", {"NOTES.md": "hi\n"})
    push = payload("github-push.json")
    push.update(ref="refs/heads/main", before=before, after=after)
    push["repository"].update(clone_url=str(repo.path), ssh_url=str(repo.path))
    body = json.dumps(push).encode()
    reply = httpx.post(
        f"{base}/api/webhooks/github",
        content=body,
        headers=github_headers(body, secret=GITHUB_SECRET, delivery=delivery),
    )
    assert reply.status_code == 202, reply.text
    return before, after


def session_processes(session_id: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session_id and fields[0] != "Z":
            found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:80]!r}")
    return found


def test_start_serves_api_and_deployments_and_stops_cleanly(
    prefect_api_url: str, sample_repo: SampleRepoFactory, tmp_path: Path
) -> None:
    repo = sample_repo("good", good_commits=1)
    port = free_port()
    config = write_config(
        tmp_path,
        # A local service rolls back by reverting (the API refuses redeploy without docker).
        service_table(
            repo, name="pushed", builder="local", health=False, rollback={"strategy": "revert"}
        ),
        extra=(
            f"[server]\nport = {port}\n\n"
            '[webhooks]\ngithub_secret = { env = "GH_SECRET" }\n\n'
            '[api]\ntoken = { env = "BM_API_TOKEN" }\n'
        ),
    )
    log = (tmp_path / "start.log").open("w")
    process = subprocess.Popen(
        [cli_path(), "start", "--config", str(config)],
        env={
            **os.environ,
            "PREFECT_API_URL": prefect_api_url,
            "GH_SECRET": GITHUB_SECRET,
            "BM_API_TOKEN": API_TOKEN,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: prefect_reachable(base), timeout=90, what="the API to report Prefect reachable"
        )

        before, after = push_new_commit(base, repo, delivery="start-e2e-1")

        def built() -> list[tuple[str, str, str]]:
            with session_scope(f"sqlite:///{tmp_path / 'history.db'}") as session:
                return [
                    (b.commit, b.status.value, b.trigger)
                    for b in session.query(Build).all()
                    if b.status.value != "running"
                ]

        builds = wait_for(built, timeout=180, what="the pushed commit to be built")
        assert (after, "passed", "webhook") in builds  # type: ignore[operator]

        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        assert httpx.get(f"{base}/api/dashboard", timeout=5).status_code == 401
        reply = httpx.get(f"{base}/api/dashboard", headers=auth, timeout=5)
        assert reply.status_code == 200, reply.text
        dashboard = reply.json()
        assert [s["name"] for s in dashboard["services"]] == ["pushed"]
        assert set(dashboard) >= {"running_bisections", "running_rollbacks", "recent_culprits"}
        started = httpx.post(
            f"{base}/api/services/pushed/rollback",
            json={"commit": before, "reason": "api test"},
            headers=auth,
            timeout=30,
        )
        assert started.status_code == 202, started.text
        assert started.json()["flow_run_id"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            exit_code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        log.close()
    assert exit_code == 0, (tmp_path / "start.log").read_text()[-3000:]
    time.sleep(1)
    assert session_processes(process.pid) == []
    assert "Traceback" not in (tmp_path / "start.log").read_text()
