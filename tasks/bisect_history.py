"""Bisection history tasks: a bisection's start, its probes and its conclusion, and the flake
evidence earlier bisections left."""

from __future__ import annotations

import functools
from pathlib import Path

from build_monitor.bisection import BisectResult, BisectStatus, Observation
from build_monitor.bisection.flake_history import FlakeEvidence
from build_monitor.bisection.report import CulpritDetails
from build_monitor.config import Config
from build_monitor.errors import GitError
from build_monitor.git.repo import is_ancestor
from build_monitor.history import bisections
from build_monitor.history.db import session_scope
from build_monitor.history.models import BisectionStatus
from tasks.retry import DATABASE_TASK

_RECORDED_STATUS = {
    BisectStatus.CONFIRMED: BisectionStatus.confirmed,
    BisectStatus.UNVERIFIED: BisectionStatus.confirmed,
    BisectStatus.INCONCLUSIVE: BisectionStatus.inconclusive,
    BisectStatus.NO_CULPRIT: BisectionStatus.inconclusive,
}


@DATABASE_TASK()
def record_bisection_start(
    config: Config, service: str, good: str, bad: str, trigger: str, flow_run_id: str | None
) -> int:
    with session_scope(config.database_url) as session:
        bisection = bisections.start_bisection(
            session=session,
            service=service,
            good=good,
            bad=bad,
            trigger=trigger,
            flow_run_id=flow_run_id,
        )
        assert bisection.id is not None
        return bisection.id


@DATABASE_TASK(task_run_name="record probe {observation.commit:.10}")
def record_probe(
    config: Config, bisection_id: int, observation: Observation, build_id: int | None
) -> None:
    with session_scope(config.database_url) as session:
        bisections.record_probe(
            session=session, bisection_id=bisection_id, observation=observation, build_id=build_id
        )


@DATABASE_TASK(task_run_name="other builds than {commit:.10}")
def read_others_built(config: Config, bisection_id: int, commit: str) -> bool:
    """Whether a commit other than `commit` has built in a probe of this bisection."""
    with session_scope(config.database_url) as session:
        return bisections.others_built(session=session, bisection_id=bisection_id, commit=commit)


@DATABASE_TASK()
def record_bisection_result(
    config: Config,
    bisection_id: int,
    result: BisectResult,
    signature: str | None,
    culprit: CulpritDetails | None,
    report: str,
    log_excerpt: str | None,
) -> None:
    with session_scope(config.database_url) as session:
        bisections.finish_bisection(
            session=session,
            bisection_id=bisection_id,
            result=result,
            status=_RECORDED_STATUS[result.status],
            signature=signature,
            culprit_author=culprit.author if culprit else None,
            culprit_subject=culprit.subject if culprit else None,
            report=report,
            log_excerpt=log_excerpt,
        )


@DATABASE_TASK()
def record_bisection_end(
    config: Config,
    bisection_id: int,
    status: BisectionStatus,
    signature: str | None,
    reason: str,
) -> None:
    """A bisection that ended without a search result: nothing to bisect, or an error."""
    with session_scope(config.database_url) as session:
        bisections.finish_bisection(
            session=session,
            bisection_id=bisection_id,
            result=None,
            status=status,
            signature=signature,
            reason=reason,
        )


@DATABASE_TASK()
def read_flake_evidence(
    config: Config, service: str, mirror: Path, target_signature: str
) -> FlakeEvidence:
    """What earlier confirmed bisections of this failure saw at commits before their culprit."""

    @functools.cache  # reruns repeat commits; each answer is a git call
    def is_before(commit: str, culprit: str) -> bool:
        try:
            return commit != culprit and is_ancestor(mirror, commit, culprit)
        except GitError:  # a culprit no longer in the mirror (history rewritten)
            return False

    with session_scope(config.database_url) as session:
        return bisections.flake_evidence(
            session=session,
            service=service,
            target_signature=target_signature,
            is_before=is_before,
        )
