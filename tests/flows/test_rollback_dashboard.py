"""The rollback flow on the dashboard, on real git with the local builder: a verified revert
pushed onto the branch turns the service green at once (history, `status --json`, artifacts,
and the next monitor run keeps it so); the progress artifact moves at every step; and an
artifact API that fails never fails the rollback."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

import flows.rollback
import tasks.artifacts
from build_monitor.dashboard.render import Progress
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build, BuildStatus, ServiceRecord, ServiceState
from build_monitor.sample.service import SampleRepo, create_sample_service
from tests.rollback.helpers import rollback_config, run_cli
from tests.rollback.test_revert import bare_remote, git
from tests.tasks.test_artifacts import latest

pytestmark = [pytest.mark.prefect]


def test_a_verified_revert_turns_the_service_green_and_its_progress_moves_per_step(
    prefect_api_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, remote, name, config = _revert_service(tmp_path, "rvg")
    assert repo.culprit is not None and repo.good is not None
    database_url = f"sqlite:///{tmp_path / 'history.db'}"
    assert run_cli("check", name, "--commit", repo.good, "--config", config)[1]["status"] == (
        "passed"
    )
    assert run_cli("check", name, "--commit", repo.culprit, "--config", config)[1]["status"] == (
        "failed"
    )
    assert _state_in_status(config, name) == "failing"

    reported: list[Progress] = []
    report = flows.rollback.report_progress

    def recording(artifact_id: UUID | None, progress: Progress) -> None:
        reported.append(progress)
        report(artifact_id, progress)

    monkeypatch.setattr(flows.rollback, "report_progress", recording)
    code, outcome = run_cli(
        "rollback", name, repo.good, "tests fail", "--culprit", repo.culprit, "--config", config
    )
    assert (code, outcome["status"]) == (0, "succeeded"), (outcome["error"], outcome["steps"])
    revert = outcome["revert_commit"]
    assert outcome["pushed_ref"] == "main" and git(remote, "rev-parse", "main") == revert

    # Green without another push: the revert's passing build is the branch's last build.
    with session_scope(database_url) as session:
        record = session.get(ServiceRecord, name)
        assert record is not None and record.state is ServiceState.healthy
        last = session.get(Build, record.last_build_id)
        assert last is not None
        assert (last.commit, last.trigger, last.status) == (
            revert,
            "rollback-revert",
            BuildStatus.passed,
        )
    assert _state_in_status(config, name) == "healthy"
    status = str(latest(f"service-status-{name}").data)
    assert f"# {name}: 🟢 healthy" in status
    good_line = next(line for line in status.splitlines() if "Last good commit" in line)
    assert f"`{revert[:7]}`" in good_line
    bad_line = next(line for line in status.splitlines() if "Last bad commit" in line)
    assert f"`{repo.culprit[:7]}`" in bad_line
    history = latest(f"build-history-{name}").data
    rows = history if isinstance(history, list) else json.loads(str(history))
    assert (rows[0]["commit"], rows[0]["status"]) == (revert[:7], "passed")
    fleet = str(latest("build-monitor-dashboard").data)
    row = next(line for line in fleet.splitlines() if line.startswith(f"| **[{name}]("))
    assert "🟢 healthy" in row and f"`{revert[:7]}`" in row

    # The progress artifact moved at every step, then ended listing them all.
    assert [(p.percent, p.description) for p in reported] == [
        (0.0, "0 of 4 planned steps done: create_revert running"),
        (25.0, "1 of 4 planned steps done: create_revert done"),
        (50.0, "2 of 4 planned steps done: create_revert done, build_revert done"),
        (
            50.0,
            "2 of 4 planned steps done: create_revert done, build_revert done, push_revert running",
        ),
        (
            75.0,
            "3 of 4 planned steps done: create_revert done, build_revert done, push_revert done",
        ),
        (
            99.0,
            "4 of 4 planned steps done: create_revert done, build_revert done, "
            "push_revert done, verify_revert done",
        ),
    ]
    progress = latest(f"rollback-progress-{name}")
    assert (progress.type, progress.data) == ("progress", 100.0)
    assert progress.description == (
        "succeeded: create_revert done, build_revert done, push_revert done, verify_revert done"
    )

    # The next monitor run finds the revert built and leaves the service green.
    monitored = run_cli("monitor", name, "--config", config)[1]
    assert (monitored["head"], monitored["state"], monitored["builds"]) == (revert, "healthy", [])


def test_an_artifact_api_that_fails_never_fails_the_rollback(
    prefect_api_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, remote, name, config = _revert_service(tmp_path, "rvf")
    assert repo.culprit is not None and repo.good is not None
    assert run_cli("check", name, "--commit", repo.good, "--config", config)[1]["status"] == (
        "passed"
    )
    calls: list[str] = []

    def unavailable(kind: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            calls.append(kind)
            raise RuntimeError("the Prefect API cannot take artifacts")

        return fail

    for function in (
        "create_markdown_artifact",
        "create_table_artifact",
        "create_progress_artifact",
        "update_progress_artifact",
    ):
        monkeypatch.setattr(tasks.artifacts, function, unavailable(function))
    code, outcome = run_cli(
        "rollback", name, repo.good, "tests fail", "--culprit", repo.culprit, "--config", config
    )
    assert (code, outcome["status"]) == (0, "succeeded"), (outcome["error"], outcome["steps"])
    assert git(remote, "rev-parse", "main") == outcome["revert_commit"]
    # Every publication was tried, and failed: the progress artifact was never created, so
    # there was nothing to update.
    assert set(calls) == {
        "create_markdown_artifact",
        "create_table_artifact",
        "create_progress_artifact",
    }


def _state_in_status(config: str, name: str) -> str:
    code, document = run_cli("status", "--config", config)
    assert code == 0
    return str(next(s["state"] for s in document["services"] if s["name"] == name))


def _revert_service(tmp_path: Path, prefix: str) -> tuple[SampleRepo, Path, str, str]:
    """A broken sample service pushed to a bare remote, configured to roll back by a revert
    pushed to its branch: its repo, remote, unique service name and config path."""
    repo = create_sample_service(
        tmp_path / "repo", scenario="test_failure", good_commits=2, commits_after_break=0
    )
    remote = bare_remote(repo, tmp_path)
    name = f"{prefix}-h4-{uuid.uuid4().hex[:8]}"
    config = rollback_config(
        tmp_path,
        remote,
        name=name,
        builder="local",
        rollback={"strategy": "revert", "push_to": "branch"},
    )
    return repo, remote, name, str(config)
