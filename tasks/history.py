"""History tasks: record builds and service state, and read what earlier builds found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from build_monitor.bisection import Observation
from build_monitor.bisection.flake_rates import TestRun
from build_monitor.bisection.libtest import TestLog, parse_test_log
from build_monitor.builders.result import StepResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.git.repo import CommitInfo, is_ancestor
from build_monitor.history import bisections, crud, test_results
from build_monitor.history.db import session_scope
from build_monitor.history.models import Build, BuildCreate, ServiceState
from build_monitor.history.results import finish_build_or_spool
from build_monitor.history.spool import BuildResult
from tasks.retry import DATABASE_TASK


@DATABASE_TASK()
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


@DATABASE_TASK()
def record_build_result(
    config: Config, build_id: int, result: StepResult, update_state: bool
) -> Build:
    """Finish the build; a result the database cannot take is kept in the local spool."""
    return finish_build_or_spool(
        database_url=config.database_url,
        result=BuildResult(
            build_id=build_id,
            status=result.status,
            stage=result.stage,
            signature=result.signature,
            log_excerpt=result.log_excerpt,
            image=result.image,
            attempts=result.attempts,
            update_state=update_state,
        ),
    )


@DATABASE_TASK()
def record_test_log(config: Config, build_id: int, output: str | None) -> TestLog | None:
    """Parse the build's output and store every test result it shows. `None` for output that
    is not libtest's (a custom `test_command`): nothing is stored, the build keeps its one
    failure signature."""
    log = parse_test_log(output) if output else None
    if log is None or not log.is_libtest:
        return None
    with session_scope(config.database_url) as session:
        test_results.record_test_results(session=session, build_id=build_id, log=log)
    return log


@DATABASE_TASK()
def read_test_runs(config: Config, service: str) -> list[TestRun]:
    """Every recorded run of the service's tests (monitor builds, checks, probes)."""
    with session_scope(config.database_url) as session:
        return test_results.test_runs_of_service(session=session, service=service)


@DATABASE_TASK()
def find_built_commits(config: Config, service: str, commits: Sequence[str]) -> set[str]:
    with session_scope(config.database_url) as session:
        return crud.built_commits(session=session, service=service, commits=commits)


@DATABASE_TASK()
def read_service_state(config: Config, service: str) -> ServiceState:
    with session_scope(config.database_url) as session:
        record = crud.get_service(session=session, name=service)
        return record.state if record else ServiceState.unknown


@DATABASE_TASK()
def register_service(config: Config, service: ServiceConfig) -> ServiceState:
    """Record the service (repo and branch as configured now); its state."""
    with session_scope(config.database_url) as session:
        record = crud.upsert_service(
            session=session, name=service.name, repo=service.repo, branch=service.branch
        )
        return record.state


@DATABASE_TASK()
def find_recorded_observations(
    config: Config, service: ServiceConfig, commits: Sequence[str]
) -> list[Observation]:
    """Finished builds of these commits under the service's builder config, oldest first."""
    with session_scope(config.database_url) as session:
        recorded = bisections.recorded_observations(
            session=session,
            service=service.name,
            config_key=service.build_config_key,
            commits=commits,
        )
    return [observation for _, observation in recorded]


@DATABASE_TASK()
def find_recorded_evidence(
    config: Config, service: ServiceConfig, commits: Sequence[str]
) -> list[tuple[Observation, TestLog | None]]:
    """Finished builds of these commits under the service's builder config, oldest first, each
    with its recorded test results (`None` when none were recorded)."""
    with session_scope(config.database_url) as session:
        recorded = bisections.recorded_observations(
            session=session,
            service=service.name,
            config_key=service.build_config_key,
            commits=commits,
        )
        logs = test_results.test_logs_of_builds(
            session=session, build_ids=[build.id for build, _ in recorded if build.id is not None]
        )
    return [(observation, logs.get(build.id or -1)) for build, observation in recorded]


@DATABASE_TASK()
def find_last_passing_ancestor(
    config: Config, service: ServiceConfig, mirror: Path, descendant: str
) -> str | None:
    """The newest commit before `descendant` with a passing build (same builder config)."""
    with session_scope(config.database_url) as session:
        build = bisections.last_passing_ancestor_build(
            session=session,
            service=service.name,
            config_key=service.build_config_key,
            is_ancestor=lambda c: c != descendant and is_ancestor(mirror, c, descendant),
        )
        return build.commit if build else None


@DATABASE_TASK()
def read_log_excerpt(config: Config, service: str, commit: str) -> str | None:
    """The log excerpt of the commit's latest finished build."""
    with session_scope(config.database_url) as session:
        build = crud.latest_final_build_for_commit(session=session, service=service, commit=commit)
        return build.log_excerpt if build else None
