"""The artifact tasks against a real Prefect server: keyed artifacts carry the history
database's state, and a progress artifact moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.objects import Artifact
from prefect.client.schemas.sorting import ArtifactSort

from build_monitor.config import load_config
from build_monitor.dashboard.render import Progress
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import BuildCreate, BuildStatus, ServiceState
from build_monitor.sample.service import SampleRepo
from tasks.artifacts import (
    publish_build_history,
    publish_fleet_dashboard,
    publish_service_status,
    start_progress,
    update_progress,
)
from tests.configs import service_table, write_config

pytestmark = pytest.mark.prefect


def latest(key: str) -> Artifact:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.UPDATED_DESC,  # the default sorts by id, a random uuid
            limit=1,
        )
    assert found, f"no artifact {key}"
    return found[0]


def test_service_fleet_and_progress_artifacts(prefect_api_url: str, tmp_path: Path) -> None:
    repo = SampleRepo(
        path=tmp_path / "repo",
        branch="main",
        commits=[],
        good=None,
        culprit=None,
        binary="svc",
        expected_signature=None,
    )
    switch = tmp_path / "kill-switch"
    switch.touch()
    table = service_table(repo, name="art-svc")
    config = load_config(
        write_config(tmp_path, table, extra=f'[rollback]\nkill_switch_file = "{switch}"\n')
    )
    with session_scope(config.database_url) as session:
        crud.upsert_service(session=session, name="art-svc", repo="-", branch="main")
        build = crud.start_build(
            session=session,
            build_in=BuildCreate(
                service="art-svc", commit="f" * 40, author="Dana Dev", subject="Break it"
            ),
        )
        assert build.id is not None
        crud.finish_build(
            session=session,
            build_id=build.id,
            status=BuildStatus.failed,
            stage="test",  # type: ignore[arg-type]
            signature="test failed: tests::predict",
            log_excerpt=None,
            image=None,
            attempts=1,
        )
        crud.set_service_state(
            session=session, name="art-svc", state=ServiceState.failing, last_build_id=build.id
        )
    service = config.service("art-svc")

    @flow
    def publish() -> None:
        publish_service_status(config, service)
        publish_build_history(config, service)
        publish_fleet_dashboard(config)
        artifact_id = start_progress("bisection-progress-art-svc", Progress(10.0, "round 1"))
        update_progress(artifact_id, Progress(60.0, "round 2"))

    publish()
    status = latest("service-status-art-svc")
    assert status.type == "markdown"
    assert "🔴 failing" in str(status.data) and "`fffffff` Dana Dev: Break it" in str(status.data)
    history = latest("build-history-art-svc")
    assert history.type == "table" and "Dana Dev" in str(history.data)
    fleet = latest("build-monitor-dashboard")
    assert "| **[art-svc](/artifacts/key/service-status-art-svc)** |" in str(fleet.data)
    assert f"Kill switch: **on**: automatic rollbacks are off (kill switch file {switch}" in str(
        fleet.data
    )
    progress = latest("bisection-progress-art-svc")
    assert (progress.type, progress.data) == ("progress", 60.0)
    assert progress.description == "round 2"
