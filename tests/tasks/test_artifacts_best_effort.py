"""Publishing to the dashboard is best effort: an artifact API that raises makes every publish
call return None with a warning in the run's log, and the flow around it completes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from prefect import flow

import tasks.artifacts
from build_monitor.config import load_config
from build_monitor.dashboard.render import Progress
from build_monitor.sample.service import SampleRepo
from tasks.artifacts import (
    publish_culprit_report,
    publish_dashboard,
    report_progress,
    start_progress,
    update_progress,
)
from tests.configs import service_table, write_config

pytestmark = pytest.mark.prefect


def test_failing_artifact_calls_are_warnings_and_the_flow_completes(
    prefect_api_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo = SampleRepo(tmp_path / "repo", "main", [], None, None, "svc", None)
    config = load_config(write_config(tmp_path, service_table(repo, name="best-effort-h4")))
    service = config.service("best-effort-h4")
    tried: list[str] = []

    def down(name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            tried.append(name)
            raise RuntimeError(f"{name}: the Prefect API is down")

        return fail

    for name in (
        "create_markdown_artifact",
        "create_table_artifact",
        "create_progress_artifact",
        "update_progress_artifact",
    ):
        monkeypatch.setattr(tasks.artifacts, name, down(name))

    @flow
    def publishes() -> list[object]:
        publish_dashboard(config, service)
        report_id = publish_culprit_report("culprit-best-effort-h4", "# report", "a report")
        progress_id = start_progress("rollback-progress-best-effort-h4", Progress(0.0, "start"))
        moved = update_progress(uuid4(), Progress(50.0, "half"))
        report_progress(uuid4(), Progress(60.0, "step"))
        return [report_id, progress_id, moved, update_progress(None, Progress(1.0, "-"))]

    with caplog.at_level(logging.WARNING):
        state = publishes(return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == [None, None, None, None]
    assert sorted(set(tried)) == [
        "create_markdown_artifact",
        "create_progress_artifact",
        "create_table_artifact",
        "update_progress_artifact",
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for what in (
        "service-status-best-effort-h4",
        "build-history-best-effort-h4",
        "build-monitor-dashboard",
        "culprit-best-effort-h4",
        "rollback-progress-best-effort-h4",
    ):
        assert any(f"could not publish {what}" in w for w in warnings), (what, warnings)
    assert sum("could not update progress" in w for w in warnings) == 1
