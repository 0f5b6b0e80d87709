"""History tasks: record builds and service state in the history database."""

from __future__ import annotations

from datetime import timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import OperationalError

from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.git.repo import CommitInfo
from build_monitor.history import crud
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build, BuildCreate, BuildStatus, ServiceState
from tasks.retry import retry_when_raised

_DB_TASK = {
    "retries": 3,
    "retry_delay_seconds": [1, 2, 5],
    "retry_condition_fn": retry_when_raised(OperationalError),
    "timeout_seconds": 60,
    "cache_policy": NO_CACHE,
}


@task(**_DB_TASK)  # type: ignore[call-overload]
def record_build_start(
    config: Config,
    service: ServiceConfig,
    info: CommitInfo,
    trigger: str,
    flow_run_id: str | None,
) -> int:
    with session_scope(config.database_url) as session:
        crud.mark_interrupted_builds(
            session=session,
            stale_after=timedelta(seconds=service.build_timeout_seconds * (service.retries + 1))
            + timedelta(hours=1),
        )
        crud.upsert_service(
            session=session, name=service.name, repo=service.repo, branch=service.branch
        )
        build = crud.start_build(
            session=session,
            build_in=BuildCreate(
                service=service.name,
                commit=info.sha,
                author=info.author,
                subject=info.subject,
                builder=service.builder,
                trigger=trigger,
                flow_run_id=flow_run_id,
                config_key=service.build_config_key,
            ),
        )
        assert build.id is not None
        return build.id


@task(**_DB_TASK)  # type: ignore[call-overload]
def record_build_result(
    config: Config, build_id: int, result: StepResult, update_state: bool
) -> Build:
    with session_scope(config.database_url) as session:
        build = crud.finish_build(
            session=session,
            build_id=build_id,
            status=result.status,
            stage=result.stage,
            signature=result.signature,
            log_excerpt=result.log_excerpt,
            image=result.image,
            attempts=result.attempts,
        )
        if update_state and result.status in (BuildStatus.passed, BuildStatus.failed):
            state = ServiceState.healthy if result.passed else ServiceState.failing
            crud.set_service_state(
                session=session, name=build.service, state=state, last_build_id=build.id
            )
        return build
