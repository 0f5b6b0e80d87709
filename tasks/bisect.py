"""The bisect probe task: one real check of one commit, recorded in the build history and as a
probe of the bisection."""

from __future__ import annotations

from pathlib import Path

from build_monitor.bisection import Observation, ProbeOutcome
from build_monitor.bisection.rounds import ProbeResult
from build_monitor.config import Config, ServiceConfig
from build_monitor.git.repo import commit_info
from build_monitor.history.reports import BuildReport
from tasks.bisect_history import read_others_built, record_probe
from tasks.check import check_and_record
from tasks.retry import TaskPolicy

_OUTCOMES = {"passed": ProbeOutcome.PASSED, "failed": ProbeOutcome.FAILED}

# No retries of its own: the build and health tasks inside retry infrastructure failures
# until another commit of the bisection has built; the search retries a commit whose probe
# ended in `error`.
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
    others_built: bool | None = None,
) -> ProbeResult:
    """Build, test and health-check `commit` for a bisection; a real run, never a recorded
    result (the bisection reuses recorded builds as free evidence before it asks for a probe).
    Worktree slots holding `keep_checked_out` commits are left for their expected reruns.
    Once another commit has built in this bisection, a probe gets no infrastructure retries
    of its own: the search re-probes an `error` (``error_retries``), and an error that
    reproduces at one commit while others build belongs to that commit (the search then skips
    it as untestable). Retrying inside the probe as well built such a commit once more for
    nothing, a retry delay included. `others_built` says so when the caller knows (a round
    holds every probe so far); unknown, it is read from the history."""
    if others_built is None and service.retries:
        others_built = read_others_built(config, bisection_id, commit)
    if service.retries and others_built:
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
