"""The bisect probe task: one real check of one commit, recorded in the build history and as a
probe of the bisection."""

from __future__ import annotations

from pathlib import Path

from build_monitor.bisection import Observation, ProbeOutcome
from build_monitor.bisection.rounds import ProbeResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.git.repo import commit_info
from build_monitor.history.reports import BuildReport
from tasks.bisect_history import read_errored_before, record_probe
from tasks.check import check_and_record
from tasks.retry import TaskPolicy

_OUTCOMES = {"passed": ProbeOutcome.PASSED, "failed": ProbeOutcome.FAILED}

# No retries of its own: the build and health tasks inside retry infrastructure failures,
# and the search retries a commit whose probe still ended in `error`.
_PROBE_TASK = TaskPolicy()


def observation_of(report: BuildReport) -> Observation:
    outcome = _OUTCOMES.get(report.status, ProbeOutcome.ERROR)
    return Observation(
        commit=report.commit,
        outcome=outcome,
        signature=report.signature if outcome is not ProbeOutcome.PASSED else None,
        duration_s=report.duration_s or 0.0,
    )


@_PROBE_TASK(name="probe-commit", task_run_name="probe {commit:.10}")
def probe_commit(
    config: Config,
    service: ServiceConfig,
    mirror: Path,
    commit: str,
    bisection_id: int,
    keep_checked_out: list[str] | None = None,
) -> ProbeResult:
    """Build, test and health-check `commit` for a bisection; a real run, never a recorded
    result (the bisection reuses recorded builds as free evidence before it asks for a probe).
    Worktree slots holding `keep_checked_out` commits are left for their expected reruns.
    A commit that already ended in `error` here while others built gets no infrastructure
    retries: the error belongs to the commit (the search then skips it as untestable)."""
    if read_errored_before(config, bisection_id, commit):
        service = service.model_copy(update={"retries": 0})
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
    record_probe(config, bisection_id, observation, report.build_id)
    return ProbeResult(
        observation=observation, log_excerpt=report.log_excerpt, test_log=report.test_log
    )
