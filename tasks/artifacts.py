"""Artifact tasks: the Prefect UI's dashboard. Keyed artifacts keep a versioned history per key
on the Artifacts page; progress artifacts show a running bisection or rollback.

Publishing is best effort: the dashboard is a view, so a Prefect API that cannot take an
artifact is logged as a warning and never fails the flow that publishes (`publish_dashboard`,
`publish_culprit_report`, `start_progress`, `update_progress`, `report_progress`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar, cast
from uuid import UUID

import httpx
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.exceptions import MissingContextError, PrefectHTTPStatusError
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger
from prefect.states import State
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
T = TypeVar("T")
_fallback_logger = logging.getLogger("build_monitor.dashboard")


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return _fallback_logger


def _best_effort(what: str, run: Callable[[], State[Any]]) -> Any:
    """The result of a task run with `return_state=True`, or None (with a warning) when it
    failed or could not even start."""
    try:
        state = run()
        if state.is_completed():
            return state.result()
        problem = state.message or state.type.value
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    _logger().warning("could not publish %s; the dashboard misses it: %s", what, problem)
    return None


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
    (best effort: never fails the flow)."""
    # The three at once: each is a database read and an API call, ~0.1-0.5 s on this machine.
    futures = {
        service_status_key(service.name): publish_service_status.submit(config, service),
        build_history_key(service.name): publish_build_history.submit(config, service),
        FLEET_DASHBOARD_KEY: publish_fleet_dashboard.submit(config),
    }
    for key, future in futures.items():
        _best_effort(key, partial(_settled, future))


def _settled(future: PrefectFuture[Any]) -> State[Any]:
    future.wait()
    return future.state


@ARTIFACT_TASK(task_run_name="publish-culprit-report-{key}")
def create_culprit_report(key: str, report: str, description: str) -> UUID:
    return cast(UUID, create_markdown_artifact(key=key, markdown=report, description=description))


def publish_culprit_report(key: str, report: str, description: str) -> UUID | None:
    """`culprit-<name>`: a bisection's markdown report (best effort)."""
    return cast(
        "UUID | None",
        _best_effort(
            key, lambda: create_culprit_report(key, report, description, return_state=True)
        ),
    )


@ARTIFACT_TASK(task_run_name="start-progress-{key}")
def create_progress(key: str, progress: Progress) -> UUID:
    return cast(
        UUID,
        create_progress_artifact(
            progress=progress.percent, key=key, description=progress.description
        ),
    )


def start_progress(key: str, progress: Progress) -> UUID | None:
    """A new progress artifact under `key`; None when the API could not take it (later
    updates of None do nothing)."""
    return cast(
        "UUID | None", _best_effort(key, lambda: create_progress(key, progress, return_state=True))
    )


@ARTIFACT_TASK(task_run_name="update-progress")
def move_progress(artifact_id: UUID, progress: Progress) -> UUID:
    return cast(
        UUID,
        update_progress_artifact(
            artifact_id=artifact_id, progress=progress.percent, description=progress.description
        ),
    )


def update_progress(artifact_id: UUID | None, progress: Progress) -> UUID | None:
    """Move a progress artifact, as a task run (best effort)."""
    if artifact_id is None:
        return None
    return cast(
        "UUID | None",
        _best_effort(
            f"progress {artifact_id}",
            lambda: move_progress(artifact_id, progress, return_state=True),
        ),
    )


def report_progress(artifact_id: UUID | None, progress: Progress) -> None:
    """Move a progress artifact without a task run of its own: for updates made inside a task
    (a rollback's steps). One attempt, best effort."""
    if artifact_id is None:
        return
    try:
        update_progress_artifact(
            artifact_id=artifact_id, progress=progress.percent, description=progress.description
        )
    except Exception as exc:
        _logger().warning(
            "could not update progress %s; the dashboard misses it: %s: %s",
            artifact_id,
            type(exc).__name__,
            exc,
        )


def _now() -> datetime:
    return datetime.now(UTC)
