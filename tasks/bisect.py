"""Bisect tasks: a probe is the foundation's build, test and health check of one commit,
recorded in the build history and as a probe of the bisection."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from build_monitor.bisection import Observation, Outcome
from build_monitor.config import Config, ServiceConfig
from build_monitor.git.repo import commit_info
from build_monitor.history import bisections
from build_monitor.history.db import session_scope
from build_monitor.history.reports import BuildReport
from flows.check import check_and_record

_OUTCOMES = {"passed": Outcome.PASSED, "failed": Outcome.FAILED}


def observation_of(report: BuildReport) -> Observation:
    outcome = _OUTCOMES.get(report.status, Outcome.ERROR)
    return Observation(
        commit=report.commit,
        outcome=outcome,
        signature=report.signature if outcome is not Outcome.PASSED else None,
        duration_s=report.duration_s or 0.0,
    )


@task(name="probe-commit", task_run_name="probe {commit:.10}", cache_policy=NO_CACHE)
def probe_commit(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    commit: str,
    bisection_id: int,
    keep_checked_out: list[str] | None = None,
) -> dict[str, object]:
    """Build, test and health-check `commit` for a bisection; a real run, never a recorded
    result (the bisection reuses recorded builds as free evidence before it asks for a probe).
    Worktree slots holding `keep_checked_out` commits are left for their expected reruns."""
    report = check_and_record(
        config,
        service,
        mirror,
        commit_info(mirror, commit),
        trigger="bisect",
        update_state=False,
        keep_checked_out=keep_checked_out or (),
    )
    observation = observation_of(report)
    with session_scope(config.database_url) as session:
        bisections.record_probe(
            session=session,
            bisection_id=bisection_id,
            observation=observation,
            build_id=report.build_id,
        )
    return {**observation.to_dict(), "log_excerpt": report.log_excerpt}
