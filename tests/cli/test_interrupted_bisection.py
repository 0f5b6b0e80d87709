"""A bisection killed with SIGKILL mid-probe: the next `status` marks its history row
`interrupted` and gives its Prefect flow runs (the bisect run and its bisect-round subflow)
the Crashed state, as read back from the Prefect API."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import FlowRun
from typer.testing import CliRunner

from build_monitor.cli import app
from build_monitor.history.db import session_scope
from build_monitor.history.models import Bisection, BisectionStatus
from tests.configs import unique_service_name

BUILD_MONITOR = Path(sys.executable).parent / "build-monitor"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def make_repo(path: Path, commits: int) -> list[str]:
    """Commit 0 passes; 1..commits-2 are probes (their build blocks); the last one is broken."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "h3@example.com")
    git(path, "config", "user.name", "h3")
    shas = []
    for index in range(commits):
        (path / "state").write_text("bad\n" if index == commits - 1 else "good\n")
        if index > 0:
            (path / "probe").write_text(f"{index}\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"commit {index}")
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas


def write_config(directory: Path, repo: Path, service: str, blocked: Path) -> Path:
    # Broken commits fail at once; a probe's build leaves a file named after its pid and
    # blocks, so the test knows the bisection is mid-probe and can kill what it leaves behind.
    build = (
        "sh -c 'if grep -q bad state; then exit 1; fi; "
        f'if [ -f probe ]; then touch "{blocked}/$$"; exec sleep 300; fi\''
    )
    path = directory / "config.toml"
    path.write_text(
        "[storage]\n"
        f'database_url = "sqlite:///{directory / "history.db"}"\n'
        f'cache_dir = "{directory / "cache"}"\n\n'
        "[[services]]\n"
        f'name = "{service}"\nrepo = "{repo}"\nbranch = "main"\nbuilder = "local"\n'
        "retries = 0\n"
        f"local = {{ build_command = {json.dumps(build)} }}\n"
    )
    return path


def wait_for_blocked_probe(blocked: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while not any(blocked.iterdir()):
        assert process.poll() is None, "the bisection ended before its first probe"
        assert time.monotonic() < deadline, "no probe started"
        time.sleep(0.2)


def kill_builds(blocked: Path) -> None:
    time.sleep(0.5)  # a probe that was starting as its parent died
    for pid_file in blocked.iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.name), signal.SIGKILL)


def bisection_row(database_url: str) -> Bisection:
    with session_scope(database_url) as session:
        [row] = session.query(Bisection).all()
        session.expunge(row)
        return row


def flow_run_tree(flow_run_id: str) -> tuple[FlowRun, list[FlowRun]]:
    with get_client(sync_client=True) as client:
        parent = client.read_flow_run(UUID(flow_run_id))
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )
    return parent, children


@pytest.mark.prefect
@pytest.mark.slow
def test_status_crashes_the_flow_runs_of_a_bisection_killed_mid_probe(
    prefect_api_url: str, tmp_path: Path, data_dir: Path
) -> None:
    service = unique_service_name("h3-killed")
    shas = make_repo(tmp_path / "repo", commits=8)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    config = write_config(tmp_path, tmp_path / "repo", service, blocked)
    database_url = f"sqlite:///{tmp_path / 'history.db'}"
    environment = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    process = subprocess.Popen(
        [str(BUILD_MONITOR), "bisect", service, "--good", shas[0], "--config", str(config)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_blocked_probe(blocked, process)
    finally:
        process.kill()  # SIGKILL: nothing of the process can report its end
        process.wait()
        kill_builds(blocked)

    killed = bisection_row(database_url)
    assert killed.status == BisectionStatus.running and killed.flow_run_id
    parent, rounds = flow_run_tree(killed.flow_run_id)
    assert parent.state_type is not None and parent.state_type.value == "RUNNING"
    assert [run.state_type.value for run in rounds if run.state_type] == ["RUNNING"]

    result = CliRunner().invoke(app, ["status", "--json", "--config", str(config)])

    assert result.exit_code == 0, result.output
    [reported] = json.loads(result.stdout)["interrupted_bisections"]
    assert reported["bisection_id"] == killed.id and reported["marked_now"] is True
    assert reported["crashed_flow_runs"] == 2
    assert bisection_row(database_url).status == BisectionStatus.interrupted
    parent, rounds = flow_run_tree(killed.flow_run_id)
    assert parent.state_type is not None and parent.state_type.value == "CRASHED"
    assert [run.state_type.value for run in rounds if run.state_type] == ["CRASHED"]
    assert rounds[0].flow_id != parent.flow_id  # the bisect-round subflow, not a copy

    again = CliRunner().invoke(app, ["status", "--json", "--config", str(config)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["interrupted_bisections"] == []  # nothing new to recover
