"""Artifact tasks: the Prefect UI's dashboard. Keyed artifacts keep a versioned history per key
on the Artifacts page; progress artifacts show a running bisection or rollback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from uuid import UUID

import httpx
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.exceptions import PrefectHTTPStatusError
from prefect.variables import Variable

from build_monitor.config import Config, ServiceConfig
from build_monitor.dashboard.render import (
    FLEET_DASHBOARD_KEY,
    Progress,
    build_history_key,
    build_history_table,
    fleet_dashboard_markdown,
    service_status_key,
    service_status_markdown,
)
from build_monitor.history import metrics
from build_monitor.history.db import session_scope
from build_monitor.rollback.run import kill_switch_state
from tasks.retry import TaskPolicy, retry_when_raised

# The Prefect API briefly unreachable or overloaded: worth two more tries.
ARTIFACT_TASK = TaskPolicy(
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=retry_when_raised(httpx.TransportError, PrefectHTTPStatusError),
)


@ARTIFACT_TASK(task_run_name="publish-service-status-{service.name}")
def publish_service_status(config: Config, service: ServiceConfig) -> UUID:
    """`service-status-<name>`: state, last good and bad commits, live container, running runs."""
    with session_scope(config.database_url) as session:
        status = metrics.service_status(
            session=session, service=service.name, branch=service.branch
        )
    return cast(
        UUID,
        create_markdown_artifact(
            key=service_status_key(service.name),
            markdown=service_status_markdown(status),
            description=f"{service.name}: {status.state}",
        ),
    )


@ARTIFACT_TASK(task_run_name="publish-build-history-{service.name}")
def publish_build_history(config: Config, service: ServiceConfig) -> UUID:
    """`build-history-<name>`: a table of the service's last 20 builds."""
    with session_scope(config.database_url) as session:
        rows = metrics.build_history(session=session, service=service.name)
    return cast(
        UUID,
        create_table_artifact(
            key=build_history_key(service.name),
            table=build_history_table(rows),
            description=f"{service.name}: the last {len(rows)} builds, newest first",
        ),
    )


@ARTIFACT_TASK(task_run_name="publish-fleet-dashboard")
def publish_fleet_dashboard(config: Config) -> UUID:
    """`build-monitor-dashboard`: one row per service with its metrics; the kill switch."""
    kill_switch = kill_switch_state(config, lambda name: Variable.get(name, default=None))
    names = [s.name for s in config.services]
    with session_scope(config.database_url) as session:
        rows = [metrics.fleet_row(session=session, service=name) for name in names]
        document = metrics.dashboard_metrics(session=session, services=names, now=_now())
    return cast(
        UUID,
        create_markdown_artifact(
            key=FLEET_DASHBOARD_KEY,
            markdown=fleet_dashboard_markdown(rows, document, kill_switch=kill_switch),
            description="every service's state and metrics over 7 and 30 days",
        ),
    )


def publish_dashboard(config: Config, service: ServiceConfig) -> None:
    """After a flow changed `service`: its status and build history, and the fleet dashboard
    (inside a flow; a failure to publish is logged by Prefect and never fails the flow)."""
    for publish in (publish_service_status, publish_build_history):
        publish(config, service, return_state=True)
    publish_fleet_dashboard(config, return_state=True)


@ARTIFACT_TASK(task_run_name="publish-culprit-report-{key}")
def publish_culprit_report(key: str, report: str, description: str) -> UUID:
    """`culprit-<name>`: a bisection's markdown report."""
    return cast(UUID, create_markdown_artifact(key=key, markdown=report, description=description))


@ARTIFACT_TASK(task_run_name="start-progress-{key}")
def start_progress(key: str, progress: Progress) -> UUID:
    return cast(
        UUID,
        create_progress_artifact(
            progress=progress.percent, key=key, description=progress.description
        ),
    )


@ARTIFACT_TASK(task_run_name="update-progress")
def update_progress(artifact_id: UUID, progress: Progress) -> UUID:
    return cast(
        UUID,
        update_progress_artifact(
            artifact_id=artifact_id, progress=progress.percent, description=progress.description
        ),
    )


def _now() -> datetime:
    return datetime.now(UTC)
